"""Exposition text (format 0.0.4) of synthetic vLLM / cAdvisor / kube-state-metrics samples,
with the label sets of /work/shared/fixtures; samples grouped by family (pure)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np

from scaler.devtools.load import TTFT_BUCKETS_S, IsvcDrive
from scaler.keys import IsvcKey

MODEL = "meta-llama/Llama-3.1-8B-Instruct"
_LE = (*(repr(b) for b in TTFT_BUCKETS_S), "+Inf")
_FAMILIES = (  # (family, type, help); "{p}" is the vLLM prefix of the ISVC's metric style
    ("{p}num_requests_running", "gauge", "Number of requests in model execution batches."),
    ("{p}num_requests_waiting", "gauge", "Number of requests waiting to be processed."),
    ("{kv}", "gauge", "KV-cache usage. 1 means 100 percent usage."),
    ("{p}request_success_total", "counter", "Count of successfully processed requests."),
    ("{p}time_to_first_token_seconds", "histogram", "Histogram of time to first token in seconds."),
    ("container_cpu_usage_seconds_total", "counter", "Cumulative cpu time consumed in seconds."),
    ("kube_pod_container_resource_requests", "gauge",
     "The number of requested request resource by a container."),
)


def pod_lines(key: IsvcKey, pod: str, style: str) -> tuple[str, ...]:
    """Label prefixes of one pod's samples: (style, then one per sample in render order)."""
    ns, isvc = key
    p = "vllm_" if style == "underscore" else "vllm:"
    kv = f"{p}gpu_cache_usage_perc" if style == "legacy" else f"{p}kv_cache_usage_perc"
    v = f'engine="0",isvc="{isvc}",model_name="{MODEL}",namespace="{ns}",pod="{pod}"'
    uid = hashlib.md5(pod.encode()).hexdigest()
    cg = f"/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod{uid}.slice"
    c = f'cpu="total",namespace="{ns}",pod="{pod}"'
    k = f'namespace="{ns}",pod="{pod}",uid="{uid}",container="kserve-container",node="gpu-1"'
    return (
        style, f"{p}num_requests_running{{{v}}} ", f"{p}num_requests_waiting{{{v}}} ",
        f"{kv}{{{v}}} ", f'{p}request_success_total{{{v},finished_reason="stop"}} ',
        *(f'{p}time_to_first_token_seconds_bucket{{{v},le="{le}"}} ' for le in _LE),
        f"{p}time_to_first_token_seconds_count{{{v}}} ",
        f"{p}time_to_first_token_seconds_sum{{{v}}} ",
        f'container_cpu_usage_seconds_total{{container="kserve-container",{c},id="{cg}/cri-'
        f'containerd-{uid[:10]}.scope",image="docker.io/vllm/vllm-openai:v0.12.0",'
        f'name="{uid[:10]}"}} ',
        f'container_cpu_usage_seconds_total{{container="",{c},id="{cg}",image="",name=""}} ',
        f'kube_pod_container_resource_requests{{{k},resource="cpu",unit="core"}} ',
        f'kube_pod_container_resource_requests{{{k},resource="memory",unit="byte"}} ',
    )


def render_isvc(d: IsvcDrive, pods: Sequence[tuple[tuple[str, ...], np.ndarray]],
                families: dict[str, list[str]]) -> None:
    """Append one ISVC's samples (per pod: label prefixes from pod_lines, counters) to the
    per-family line lists of `families`."""
    gauges = (repr(float(round(48 * d.kv_cache))), repr(float(round(max(0, d.kv_cache - 0.9)
                                                                     * 100))), repr(d.kv_cache))
    for lines, counters in pods:
        counts = [repr(x) for x in counters.tolist()]
        vllm = _family_lists(families, lines[0])
        for j in range(3):
            vllm[j].append(lines[1 + j] + gauges[j] + "\n")
        vllm[3].append(lines[4] + counts[0] + "\n")
        vllm[4].extend(f"{prefix}{value}\n" for prefix, value in
                       zip(lines[5:5 + len(_LE) + 2], counts[1:len(_LE) + 3], strict=True))
        cpu, ksm = _family_lists(families, "k8s")
        cpu.append(lines[-4] + counts[-2] + "\n")
        cpu.append(lines[-3] + counts[-1] + "\n")
        ksm.append(lines[-2] + repr(float(d.cpu_request_cores)) + "\n")
        ksm.append(lines[-1] + "34359738368.0\n")


def _family_lists(families: dict[str, list[str]], style: str) -> list[list[str]]:
    """The per-family line lists (creating them with HELP/TYPE headers on first use)."""
    specs: tuple[tuple[str, str, str], ...]
    if style == "k8s":
        specs = _FAMILIES[5:]
        names = [f for f, _, _ in specs]
    else:
        p = "vllm_" if style == "underscore" else "vllm:"
        kv = f"{p}gpu_cache_usage_perc" if style == "legacy" else f"{p}kv_cache_usage_perc"
        specs = _FAMILIES[:5]
        names = [f.format(p=p, kv=kv) for f, _, _ in specs]
    out = []
    for name, (_, kind, doc) in zip(names, specs, strict=True):
        if name not in families:
            families[name] = [f"# HELP {name} {doc}\n# TYPE {name} {kind}\n"]
        out.append(families[name])
    return out
