"""The `simulation:` section of policy.yaml → validated SimParams; pure, no I/O.

    simulation:
      profile: a100-80gb-llama3.1-8b   # named serving defaults (PROFILES); keys below override
      ttft_slo: 2s                     # a request meets the SLO iff TTFT ≤ ttft_slo
      slo_attainment: 0.99             # a run meets the SLO iff this share of requests does
      routing: least_request           # or round_robin, central (see serving.py)
      request_timeout: 300s            # clients abandon queued requests after this (or none)
      serving: {prefill_tokens_per_s: 12000, startup: 90s}
      keda: {polling_interval: 30s, cooldown_period: 5m}
      hpa: {sync_period: 15s, sync_offset: 7.5s, tolerance: 0.1}
      baselines: {static_utilization: 0.8, hpa_cpu_target: 0.7, keda_signal: requests}
      isvcs: {prod/llama: {profile: h100-llama3.1-70b-tp4, serving: {startup: 5m}}}

Every error is collected with its path, e.g. `simulation.serving.max_num_seqs = 0, must be ≥ 1`.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from scaler.config.checks import GE0 as _GE0
from scaler.config.checks import GT0 as _GT0
from scaler.config.checks import UNIT_INTERVAL as _UNIT
from scaler.config.checks import Bound as _Bound
from scaler.config.checks import Errors, duration, integer, number
from scaler.errors import ConfigError
from scaler.sim.profiles import PROFILES, ServingParams

_GE1: _Bound = ("≥ 1", lambda v: v >= 1)

ROUTINGS = ("least_request", "round_robin", "central")
KEDA_SIGNALS = ("requests", "kv_cache")

# yaml key → (field name, kind, bound); kind: duration | number | integer
_SERVING_KEYS: dict[str, tuple[str, str, _Bound]] = {
    "prefill_tokens_per_s": ("prefill_tokens_per_s", "number", _GT0),
    "decode_step_base": ("decode_step_base_s", "duration", _GT0),
    "decode_step_per_seq": ("decode_step_per_seq_s", "duration", _GE0),
    "max_num_seqs": ("max_num_seqs", "integer", _GE1),
    "max_batched_tokens": ("max_batched_tokens", "integer", _GE1),
    "kv_cache_tokens": ("kv_cache_tokens", "integer", _GE1),
    "max_model_len": ("max_model_len", "integer", _GE1),
    "startup": ("startup_s", "duration", _GE0),
    "gpus_per_replica": ("gpus_per_replica", "number", _GT0),
    "cpu_request_cores": ("cpu_request_cores", "number", _GT0),
    "cpu_idle_cores": ("cpu_idle_cores", "number", _GE0),
    "cpu_busy_cores": ("cpu_busy_cores", "number", _GE0),
    "cpu_cores_per_ktoken_s": ("cpu_cores_per_ktoken_s", "number", _GE0),
}
_TOP_SCALARS: dict[str, tuple[str, str, _Bound]] = {
    "ttft_slo": ("ttft_slo_s", "duration", _GT0),
    "scrape_interval": ("scrape_interval_s", "duration", _GT0),
    "metrics_window": ("metrics_window_s", "duration", _GT0),
    "slo_attainment": ("slo_attainment", "number", _UNIT),
}
_KEDA_KEYS: dict[str, tuple[str, str, _Bound]] = {
    "polling_interval": ("keda_polling_interval_s", "duration", _GT0),
    "cooldown_period": ("keda_cooldown_period_s", "duration", _GE0),
}
_HPA_KEYS: dict[str, tuple[str, str, _Bound]] = {
    "sync_period": ("hpa_sync_period_s", "duration", _GT0),
    "sync_offset": ("hpa_sync_offset_s", "duration", _GE0),
    "tolerance": ("hpa_tolerance", "number", _GE0),
}
_BASELINE_KEYS: dict[str, tuple[str, str, _Bound]] = {
    "static_utilization": ("static_utilization", "number", _UNIT),
    "hpa_cpu_target": ("hpa_cpu_target", "number", _GT0),
    "keda_utilization": ("keda_utilization", "number", _UNIT),
}
_TOP_KEYS = ("profile", "ttft_slo", "slo_attainment", "routing", "request_timeout",
             "scrape_interval",
             "metrics_window", "initial_replicas", "serving", "keda", "hpa", "baselines", "isvcs")


@dataclass(frozen=True)
class SimParams:
    """Validated simulation parameters (seconds, tokens, cores); defaults documented inline."""

    profile: str = "a100-80gb-llama3.1-8b"
    serving: ServingParams = field(default_factory=lambda: PROFILES["a100-80gb-llama3.1-8b"])
    isvc_serving: Mapping[str, ServingParams] = field(default_factory=dict)  # "ns/name" → …
    ttft_slo_s: float = 2.0
    slo_attainment: float = 0.99  # a run "meets the SLO" when this share of requests does
    routing: str = "least_request"  # see serving.py: least_request, round_robin, central
    request_timeout_s: float = 300.0  # clients give up queued requests (Knative's default)
    scrape_interval_s: float = 15.0  # Prometheus scrape period; signals lag ≤ one scrape
    metrics_window_s: float = 60.0  # rate()/histogram window of latency_p99, cpu, requests
    initial_replicas: int | None = None  # None = auto: enough for the first window's load
    keda_polling_interval_s: float = 30.0
    keda_cooldown_period_s: float = 300.0
    hpa_sync_period_s: float = 15.0
    hpa_sync_offset_s: float = 7.5  # phase of HPA syncs after the scaler's ticks
    hpa_tolerance: float = 0.1
    static_utilization: float = 0.8  # static fleet = ceil(peak rate / (capacity × this))
    hpa_cpu_target: float = 0.7
    keda_signal: str = "requests"  # KEDA Prometheus-scaler baseline signal
    keda_threshold: float | None = None  # per replica; None = keda_utilization × capacity
    keda_utilization: float = 0.8

    def serving_for(self, key: tuple[str, str]) -> ServingParams:
        """The serving parameters of ISVC `key` (namespace, name)."""
        return self.isvc_serving.get(f"{key[0]}/{key[1]}", self.serving)


class _Errors(Errors):
    """policy.yaml's error collector (scaler.config.checks), plus a mapping-with-keys check;
    values are shown as Python prints them (`True`, `2.5`), as this section always did."""

    def bad(self, path: str, value: object, must: str) -> None:
        """Record `path = value, must be …`."""
        self.messages.append(f"{path} = {value!s}, must be {must}")

    def keyed(self, value: object, path: str, allowed: tuple[str, ...] | list[str]
              ) -> Mapping[str, Any]:
        """`value` as a mapping whose keys are all in `allowed` (else errors; {} if unusable)."""
        mapping = self.mapping(value, path)
        if mapping is None:
            return {}
        self.known_keys(mapping, allowed, path)
        return mapping


_CHECKS = {"duration": duration, "integer": integer, "number": number}


def _scalar(value: object, path: str, kind: str, bound: _Bound, errors: _Errors) -> Any:
    """Validated number/integer/duration, or None after recording an error."""
    return _CHECKS[kind](value, path, errors, bound)


def _apply(raw: Mapping[str, Any], keys: Mapping[str, tuple[str, str, _Bound]], path: str,
           errors: _Errors) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, (attr, kind, bound) in keys.items():
        if raw.get(key) is not None:
            value = _scalar(raw[key], f"{path}.{key}", kind, bound, errors)
            if value is not None:
                out[attr] = value
    return out


def _serving(raw: Mapping[str, Any], path: str, base: tuple[str, ServingParams],
             errors: _Errors) -> tuple[str, ServingParams]:
    """(profile name, ServingParams): `raw.profile` (else `base`) with `raw.serving` on top."""
    name, params = base
    if raw.get("profile") is not None:
        name = raw["profile"]
        if name not in PROFILES:
            errors.bad(f"{path}.profile", name, f"one of {', '.join(PROFILES)}")
            name = base[0]
        params = PROFILES[name]
    serving_raw = errors.keyed(raw.get("serving"), f"{path}.serving", list(_SERVING_KEYS))
    params = dataclasses.replace(
        params, **_apply(serving_raw, _SERVING_KEYS, f"{path}.serving", errors))
    if params.max_num_seqs > params.max_batched_tokens:
        errors.bad(f"{path}.serving.max_num_seqs", params.max_num_seqs,
                   f"≤ max_batched_tokens ({params.max_batched_tokens})")
    return name, params


def _choice(raw: Mapping[str, Any], key: str, path: str, choices: tuple[str, ...],
            default: str, errors: _Errors) -> str:
    value = raw.get(key, default)
    if value not in choices:
        errors.bad(f"{path}.{key}", value, f"one of {', '.join(choices)}")
        return default
    return str(value)


def parse_sim_params(raw: Mapping[str, Any] | None, *, path: str = "simulation") -> SimParams:
    """Validate the raw `simulation:` mapping; raises ConfigError listing every error's path."""
    errors = _Errors()
    top = errors.keyed(raw, path, _TOP_KEYS)
    default = (SimParams.profile, PROFILES[SimParams.profile])
    profile, serving = _serving(top, path, default, errors)
    values: dict[str, Any] = _apply(top, _TOP_SCALARS, path, errors)
    for section, keys in (("keda", _KEDA_KEYS), ("hpa", _HPA_KEYS)):
        sub = errors.keyed(top.get(section), f"{path}.{section}", list(keys))
        values.update(_apply(sub, keys, f"{path}.{section}", errors))
    base = errors.keyed(top.get("baselines"), f"{path}.baselines",
                          [*_BASELINE_KEYS, "keda_signal", "keda_threshold"])
    values.update(_apply(base, _BASELINE_KEYS, f"{path}.baselines", errors))
    values["keda_signal"] = _choice(base, "keda_signal", f"{path}.baselines", KEDA_SIGNALS,
                                    "requests", errors)
    if base.get("keda_threshold") not in (None, "auto"):
        values["keda_threshold"] = _scalar(base["keda_threshold"],
                                           f"{path}.baselines.keda_threshold", "number", _GT0,
                                           errors)
    values["routing"] = _choice(top, "routing", path, ROUTINGS, "least_request", errors)
    if top.get("request_timeout") not in (None, "none"):
        values["request_timeout_s"] = _scalar(top["request_timeout"], f"{path}.request_timeout",
                                              "duration", _GT0, errors)
    elif "request_timeout" in top:
        values["request_timeout_s"] = math.inf
    if top.get("initial_replicas") not in (None, "auto"):
        values["initial_replicas"] = _scalar(top["initial_replicas"], f"{path}.initial_replicas",
                                             "integer", _GE0, errors)
    isvcs = errors.keyed(top.get("isvcs"), f"{path}.isvcs", list(top.get("isvcs") or {}))
    isvc_serving = {}
    for key, sub_raw in isvcs.items():
        sub_path = f"{path}.isvcs.{key}"
        if not isinstance(key, str) or key.count("/") != 1 or "" in key.split("/"):
            errors.bad(sub_path, key, 'of the form "namespace/name"')
            continue
        sub = errors.keyed(sub_raw, sub_path, ["profile", "serving"])
        isvc_serving[key] = _serving(sub, sub_path, (profile, serving), errors)[1]
    if errors.messages:
        raise ConfigError(errors.messages)
    values = {k: v for k, v in values.items() if v is not None}
    return SimParams(profile=profile, serving=serving, isvc_serving=isvc_serving, **values)
