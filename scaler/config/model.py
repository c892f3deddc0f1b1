"""Immutable config objects (Config, PolicySpec, PrometheusConfig) and the table of defaults.

`POLICY_KEYS` / `TOP_KEYS` are the single source of truth for defaults: the dataclasses, the
validator (scaler.config.policies) and the documentation (`defaults_markdown`, pasted into
deploy/README.md and checked by a test) all read them.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from scaler.config.queries import DEFAULT_TEMPLATES, PRESSURE_SIGNALS, render_query
from scaler.durations import format_duration
from scaler.policy import default_kind


class FrozenMap(Mapping[str, Any]):
    """A read-only, picklable, hashable (when its values are) mapping."""

    __slots__ = ("_data",)

    def __init__(self, data: Mapping[str, Any] | None = None) -> None:
        self._data = dict(data or {})

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __hash__(self) -> int:
        return hash(tuple(sorted(self._data.items())))

    def __repr__(self) -> str:
        return f"FrozenMap({self._data!r})"

    def __getstate__(self) -> dict[str, Any]:
        return self._data

    def __setstate__(self, state: dict[str, Any]) -> None:
        self._data = state


@dataclass(frozen=True)
class Key:
    """One documented key: YAML name, dataclass field, default, kind and rule (for the docs)."""

    yaml: str
    attr: str
    default: Any
    kind: str  # "number" | "int" | "duration" | "targets"
    rule: str
    doc: str


DEFAULT_TARGETS: Mapping[str, float] = FrozenMap(
    {"latency_p99": 0.5, "kv_cache": 0.8, "prompt_throughput": 7000.0})
"""Targets of a policy that sets no `targets` key: latency_p99 (s) only asks, the others size
(see docs/policy.md for why these values and why not cpu for vLLM)."""

POLICY_KEYS: tuple[Key, ...] = (
    Key("targets", "targets", DEFAULT_TARGETS, "targets", "each > 0 (null: no target)",
        "target per pressure signal: latency_p99 (s), kv_cache (0–1), cpu (used/requested); "
        "the default applies when `targets` is not set at all"),
    Key("tolerance", "tolerance", 0.1, "number", "≥ 0",
        "scale up only when pressure > 1 + tolerance"),
    Key("scale_down_utilization", "scale_down_utilization", 0.7, "number", "in (0, 1]",
        "scale down to the power of two that keeps pressure ≤ this"),
    Key("panic_threshold", "panic_threshold", 2.0, "number", "> 1",
        "pressure at which the scale-up window is bypassed (`.inf`: never)"),
    Key("scale_up_window", "scale_up_window_s", 0.0, "duration", "≥ 0",
        "stabilisation window for scale-up (min of recommendations)"),
    Key("scale_down_window", "scale_down_window_s", 300.0, "duration", "≥ 0",
        "stabilisation window for scale-down (max of recommendations)"),
    Key("min_replicas", "min_replicas", 1, "int", "≥ 0, ≤ max_replicas",
        "lower clamp of desired replicas (0 allows scale to zero)"),
    Key("max_replicas", "max_replicas", 64, "int", "in [1, 65534]",
        "upper clamp of desired replicas"),
    Key("activation_threshold", "activation_threshold", 0.0, "number", "≥ 0",
        "active (IsActive) iff requests (req/s) > this"),
    Key("startup_timeout", "startup_timeout_s", 600.0, "duration", "≥ 0",
        "pods starting (spec > ready) hold desired for at most this long"),
    Key("latency_sustain_window", "latency_sustain_window_s", 60.0, "duration", "≥ 0",
        "latency must stay above target this long before it asks for one more step"),
    Key("latency_observe_window", "latency_observe_window_s", 60.0, "duration", "≥ 0",
        "the asked pods must be ready this long before the step is judged"),
    Key("latency_min_improvement", "latency_min_improvement", 0.2, "number", "in [0, 1)",
        "a step that lowered latency by less than this share is a `latency-floor`"),
)
"""Keys of a policy (and of an `isvcs` override), DESIGN §3 defaults."""

POLICY_DEFAULTS: Mapping[str, Any] = FrozenMap({k.attr: k.default for k in POLICY_KEYS})
"""PolicySpec field name → default."""

DEFAULT_PROMETHEUS_URL = "http://localhost:9090"

TOP_KEYS: tuple[Key, ...] = (
    Key("interval", "interval_s", 15.0, "duration", "> 0", "evaluation period"),
    Key("stale_after", "stale_after_s", None, "duration", "≥ interval",
        "snapshot age after which gRPC answers UNAVAILABLE (KEDA then applies `fallback`)"),
    Key("prometheus.url", "url", DEFAULT_PROMETHEUS_URL, "url", "http(s) URL",
        "Prometheus (or Thanos/Mimir) base URL"),
    Key("prometheus.timeout", "timeout_s", 5.0, "duration", "> 0", "per-query timeout"),
    Key("labels.namespace", "namespace_label", "namespace", "label", "label name",
        "label holding the ISVC's namespace in every signal series"),
    Key("labels.isvc", "isvc_label", "isvc", "label", "label name",
        "label holding the ISVC's name in every signal series"),
    Key("signal_queries", "signal_queries", "raw", "choice", "raw or recorded",
        "`recorded`: default signal queries read the series of the recording rules in "
        "deploy/monitoring/ (install them first); `raw`: they aggregate the pod series"),
)
"""Top-level keys with defaults (documentation table; the dataclasses below use the same)."""

_TOP = {k.attr: k.default for k in TOP_KEYS}
_P = POLICY_DEFAULTS


@dataclass(frozen=True)
class PolicySpec:
    """One resolved policy (DESIGN §3); windows in seconds, targets per pressure signal."""

    name: str
    targets: Mapping[str, float]
    tolerance: float = _P["tolerance"]
    scale_down_utilization: float = _P["scale_down_utilization"]
    panic_threshold: float = _P["panic_threshold"]
    scale_up_window_s: float = _P["scale_up_window_s"]
    scale_down_window_s: float = _P["scale_down_window_s"]
    min_replicas: int = _P["min_replicas"]
    max_replicas: int = _P["max_replicas"]
    activation_threshold: float = _P["activation_threshold"]
    startup_timeout_s: float = _P["startup_timeout_s"]
    latency_sustain_window_s: float = _P["latency_sustain_window_s"]
    latency_observe_window_s: float = _P["latency_observe_window_s"]
    latency_min_improvement: float = _P["latency_min_improvement"]

    def __post_init__(self) -> None:
        object.__setattr__(self, "targets", FrozenMap(self.targets))


@dataclass(frozen=True)
class PrometheusConfig:
    """How to reach Prometheus; file paths are read by the client (scaler.signals.client)."""

    url: str = _TOP["url"]
    timeout_s: float = _TOP["timeout_s"]
    headers: Mapping[str, str] = field(default_factory=FrozenMap)
    bearer_token_file: str | None = None
    basic_auth_username: str | None = None
    basic_auth_password_file: str | None = None
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    insecure_skip_verify: bool = False
    path_prefix: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "headers", FrozenMap(self.headers))


def default_queries(*, namespace_label: str = "namespace", isvc_label: str = "isvc") -> FrozenMap:
    """DEFAULT_TEMPLATES rendered with the given identity label names."""
    return FrozenMap({
        name: render_query(t, namespace_label=namespace_label, isvc_label=isvc_label)
        for name, t in DEFAULT_TEMPLATES.items()
    })


def default_kinds() -> FrozenMap:
    """Kind of every default pressure signal (DESIGN §2)."""
    return FrozenMap({name: default_kind(name) for name in PRESSURE_SIGNALS})


def _default_policies() -> FrozenMap:
    return FrozenMap({"default": PolicySpec("default", DEFAULT_TARGETS)})


@dataclass(frozen=True)
class Config:
    """A validated policy.yaml. `stale_after_s` NaN (the default) means 3 × `interval_s`.

    `source` (file path) and `digest` (sha256 of the text) do not take part in `==`.

    `isvcs` maps "ns/name" to validated overrides keyed by PolicySpec field names (windows in
    seconds, e.g. {"policy": "batch", "max_replicas": 16, "scale_down_window_s": 600.0};
    `targets` there is merged per signal into the policy's, a None target removing it).
    """

    prometheus: PrometheusConfig = field(default_factory=PrometheusConfig)
    interval_s: float = _TOP["interval_s"]
    stale_after_s: float = math.nan
    namespace_label: str = _TOP["namespace_label"]
    isvc_label: str = _TOP["isvc_label"]
    signal_queries: str = _TOP["signal_queries"]
    queries: Mapping[str, str] = field(default_factory=default_queries)
    kinds: Mapping[str, str] = field(default_factory=default_kinds)
    policies: Mapping[str, PolicySpec] = field(default_factory=_default_policies)
    isvcs: Mapping[str, Mapping[str, Any]] = field(default_factory=FrozenMap)
    simulation: Mapping[str, Any] = field(default_factory=FrozenMap)
    source: str = field(default="", compare=False)
    digest: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        if math.isnan(self.stale_after_s):
            object.__setattr__(self, "stale_after_s", 3.0 * self.interval_s)
        for name in ("queries", "kinds", "policies", "simulation"):
            object.__setattr__(self, name, FrozenMap(getattr(self, name)))
        object.__setattr__(
            self, "isvcs", FrozenMap({k: FrozenMap(v) for k, v in self.isvcs.items()}))

    @property
    def pressure_signals(self) -> tuple[str, ...]:
        """Signals that may carry a target: the defaults, then those the config adds."""
        return tuple(self.kinds)

    @property
    def signal_names(self) -> tuple[str, ...]:
        """Every signal queried, in matrix column order (pressure signals, then inputs)."""
        return (*self.pressure_signals, *(s for s in self.queries if s not in self.kinds))


def defaults_markdown() -> str:
    """The defaults table of deploy/README.md (generated, so docs and code cannot drift)."""
    rows = ["| key | default | rule | meaning |", "|---|---|---|---|"]
    for prefix, keys in (("", TOP_KEYS), ("policies.NAME.", POLICY_KEYS)):
        for k in keys:
            rows.append(f"| `{prefix}{k.yaml}` | {_show_default(k)} | {k.rule} | {k.doc} |")
    return "\n".join(rows)


def _show_default(key: Key) -> str:
    if key.default is None:
        return "3 × interval"
    if key.kind == "duration":
        return f"`{format_duration(key.default)}`"
    if key.kind == "targets":
        return ", ".join(f"`{s}: {v}`" for s, v in key.default.items())
    return f"`{key.default}`"
