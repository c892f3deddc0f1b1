"""Closed-loop simulation (`scaler simulate`): which policy meets a TTFT SLO with the fewest
GPU-hours? A real request trace drives a model of vLLM replicas; the real `scaler.policy.step`
decides on the scaler's tick from the signals Prometheus would show; an emulation of KEDA and
the HPA applies the decisions with their delays; baselines run on the same trace.

The data path of one run: trace → serving (replicas, queues) → observe (what Prometheus would
show) → the autoscaler under test → control (KEDA + HPA) → serving, driven by `loop`; `shell`
is the imperative shell of the command (inputs, worker processes, output files and plots).

Main modelling choices (each documented where it is made): the KV reservation is the whole
input + output at admission (no preemption); a TTFT is the end of the request's prefill; pods
count as replicas only once ready; a removed pod drains what it was given; queued requests
are abandoned after `request_timeout`; KEDA's pollingInterval gates only activation (0 ↔ 1),
since the HPA reads the external metric from the scaler at every sync (KEDA's default,
useCachedMetrics false); Prometheus scrape lag is at most one `scrape_interval`.
"""
