"""Closed-loop simulation (`scaler simulate`): which policy meets a TTFT SLO with the fewest
GPU-hours? A real request trace drives a model of vLLM replicas; the real `scaler.policy.step`
decides on the scaler's tick from the signals Prometheus would show; an emulation of KEDA and
the HPA applies the decisions with their delays; baselines run on the same trace.

Modules (pure unless marked I/O):
  trace.py, synth.py   request traces: CSV loading, window/jitter/rate/speed/tile/diurnal;
                       synthetic Poisson/step/bursty traces
  params.py, profiles.py
                       the `simulation:` section of policy.yaml; named GPU/model profiles
  replica.py           one vLLM replica as a fluid between events (chunked prefill,
                       continuous batching, KV-cache admission)
  serving.py           every replica of every ISVC: routing, queues, client timeouts, drain
  observe.py           Prometheus' view: latency_p99 (histogram_quantile over vLLM's TTFT
                       buckets, 1-min window), kv_cache, cpu, replicas, requests
  control.py           HPA arithmetic (AverageValue, Utilization, tolerance) and `behavior`
  baselines.py         PolicyScaler (the real policy) and static / HPA-CPU / KEDA-Prometheus
  run.py               the event loop: pods start after startup_s, scrapes, ticks, HPA syncs,
                       KEDA polls
  report.py            SLO attainment, TTFT/E2E percentiles, GPU-hours, comparison table
  jobs.py, sweep.py    one run as a picklable job; --sweep grids; 2 worker processes
  outputs.py, plots.py, cli_run.py
                       (I/O) summary.json, timeline.csv, comparison.csv, PNGs, the command

Main modelling choices (each documented where it is made): the KV reservation is the whole
input + output at admission (no preemption); a TTFT is the end of the request's prefill; pods
count as replicas only once ready; a removed pod drains what it was given; queued requests
are abandoned after `request_timeout`; KEDA's pollingInterval gates only activation (0 ↔ 1),
since the HPA reads the external metric from the scaler at every sync (KEDA's default,
useCachedMetrics false); Prometheus scrape lag is at most one `scrape_interval`.
"""
