"""Serving parameters of one vLLM replica and named defaults per GPU/model class; pure.

The numbers are first-order estimates (FLOPs and HBM bandwidth), meant to be overridden with
measured values under `simulation.serving`:

* a100-80gb-llama3.1-8b — prefill 2 × 8.0e9 FLOP/token on 312 TFLOP/s at ~50 % MFU ≈ 10k
  tokens/s; a decode step reads the 16 GB of weights at ~2 TB/s ≈ 8 ms, so 10 ms + 0.25 ms per
  running sequence; KV cache 30,832 blocks × 16 tokens, the num_gpu_blocks of the real vLLM
  0.11 `cache_config_info` in /work/shared/fixtures (gpu_memory_utilization 0.9; its GPU is
  not stated, but (72 − 16 GB) / 128 KiB per token ≈ 440k tokens agrees); start-up 2 min
  (image, weights, CUDA graphs); 4 CPUs requested as in deploy/examples/llama, of which the
  engine loop keeps one busy. max_model_len is Llama 3.1's 128k so that long-context traces
  (Mooncake) fit; that example serves 8192: set `serving: {max_model_len: 8192}` to see the
  rejections.
* h100-llama3.1-70b-tp4 — 4 × H100: prefill 141 GFLOP/token on 4 × 989 TFLOP/s at ~40 % ≈
  11k tokens/s; a step reads 141 GB over 4 × 3.35 TB/s at ~70 % ≈ 15 ms; KV 320 KiB/token in
  4 × 80 GB × 0.9 − 141 GB ≈ 448k tokens; start-up 5 min.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ServingParams:
    """One replica: step time = decode_step_base_s + decode_step_per_seq_s × running decodes
    + prefill tokens / prefill_tokens_per_s (chunked prefill fills max_batched_tokens)."""

    prefill_tokens_per_s: float
    decode_step_base_s: float
    decode_step_per_seq_s: float
    max_num_seqs: int  # running sequences (prefill + decode) per replica
    max_batched_tokens: int  # tokens per engine step (decode tokens + prefill chunk)
    kv_cache_tokens: int  # admission reserves input + output tokens; waits when full
    max_model_len: int  # longer requests (input + output) are rejected
    startup_s: float  # pod created → ready (scheduling, image, model load)
    gpus_per_replica: float
    cpu_request_cores: float
    cpu_idle_cores: float  # used by a ready pod with nothing to do
    cpu_busy_cores: float  # added while at least one request runs (the engine loop)
    cpu_cores_per_ktoken_s: float  # added per 1000 tokens/s processed (tokenise, HTTP)


PROFILES: dict[str, ServingParams] = {
    "a100-80gb-llama3.1-8b": ServingParams(
        prefill_tokens_per_s=10_000.0, decode_step_base_s=0.010, decode_step_per_seq_s=0.00025,
        max_num_seqs=256, max_batched_tokens=8192, kv_cache_tokens=30_832 * 16,
        max_model_len=131_072, startup_s=120.0, gpus_per_replica=1.0, cpu_request_cores=4.0,
        cpu_idle_cores=0.2, cpu_busy_cores=1.0, cpu_cores_per_ktoken_s=0.05),
    "h100-llama3.1-70b-tp4": ServingParams(
        prefill_tokens_per_s=11_000.0, decode_step_base_s=0.015, decode_step_per_seq_s=0.0004,
        max_num_seqs=256, max_batched_tokens=8192, kv_cache_tokens=448_000,
        max_model_len=131_072, startup_s=300.0, gpus_per_replica=4.0, cpu_request_cores=8.0,
        cpu_idle_cores=0.5, cpu_busy_cores=2.0, cpu_cores_per_ktoken_s=0.05),
}
"""Named defaults, selected by `simulation.profile`."""


def capacity_rps(serving: ServingParams, *, mean_input: float, mean_output: float) -> float:
    """Sustainable requests/s of one replica for a token mix (a first-order estimate).

    GPU seconds per request = input / prefill rate + output × (base / B + per_seq), with the
    batch B = min(max_num_seqs, kv_cache_tokens / (input + output)). Example (8B profile,
    input 2048, output 28): B = 237, 0.2048 + 28 × (0.010/237 + 0.00025) = 0.2130 s → 4.69/s.
    """
    per_request = max(mean_input + mean_output, 1.0)
    batch = max(1.0, min(serving.max_num_seqs, serving.kv_cache_tokens / per_request))
    gpu_s = (mean_input / serving.prefill_tokens_per_s
             + mean_output * (serving.decode_step_base_s / batch + serving.decode_step_per_seq_s))
    return 1.0 / max(gpu_s, 1e-9)
