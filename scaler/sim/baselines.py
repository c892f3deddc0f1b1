"""Autoscalers the simulation compares: isvc-scaler's policy and three baselines; pure.

Each answers, per ISVC at an HPA sync, the HPA's replica recommendation (before `behavior`):
* PolicyScaler — the real `scaler.policy.step` on every tick; KEDA serves `desired` as an
  external metric with AverageValue target 1 and the deploy example's pass-through behavior.
* StaticScaler — a fixed fleet sized for the trace's peak (never scales).
* HpaCpuScaler — a plain HPA on CPU utilisation (default behavior).
* KedaPrometheusScaler — KEDA's built-in Prometheus scaler: `sum(signal)` against a
  per-replica threshold (AverageValue), default behavior.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from scaler.policy import REASONS, Decision, PolicyParams, PolicyState, step
from scaler.sim.control import (
    DEFAULT_BEHAVIOR,
    PASSTHROUGH_BEHAVIOR,
    Behavior,
    external_average_value,
    resource_utilization,
)
from scaler.sim.observe import Observer


class Autoscaler:
    """Base: never scales; subclasses override `recommend` (and `tick` if they think)."""

    label = "static"
    behavior: Behavior | None = None  # None: no HPA at all

    def tick(self, t: float, signals: Mapping[str, np.ndarray]) -> None:
        """Called on every scaler tick with the signals Prometheus shows at t."""

    def recommend(self, k: int, *, current: int, observer: Observer,
                  signals: Mapping[str, np.ndarray], tolerance: float) -> int:
        """HPA recommendation for ISVC k at a sync (`current` = spec replicas)."""
        return current

    def active(self, k: int, signals: Mapping[str, np.ndarray]) -> bool:
        """KEDA's IsActive for ISVC k (scale to zero only matters when min replicas is 0)."""
        requests = float(signals["requests"][k])
        return not math.isfinite(requests) or requests > 0

    def explain(self, k: int) -> tuple[float, float, str]:
        """(desired, pressure, reason) for the timeline; NaN/"" where not applicable."""
        return math.nan, math.nan, ""


class StaticScaler(Autoscaler):
    """A fixed number of replicas per ISVC, all ready from the start."""

    label = "static-peak"


class PolicyScaler(Autoscaler):
    """isvc-scaler: the real policy step on the scaler's tick, KEDA + HPA pass-through."""

    behavior = PASSTHROUGH_BEHAVIOR

    def __init__(self, params: PolicyParams, *, label: str = "policy") -> None:
        self.label = label
        self.params = params
        self.state = PolicyState.empty(params)
        self.decision: Decision | None = None

    def tick(self, t: float, signals: Mapping[str, np.ndarray]) -> None:
        self.decision, self.state = step(self.state, self.params, signals,
                                         signals["replicas"], spec=signals.get("spec_replicas"))

    def recommend(self, k: int, *, current: int, observer: Observer,
                  signals: Mapping[str, np.ndarray], tolerance: float) -> int:
        if self.decision is None:
            return current
        return external_average_value(float(self.decision.desired[k]), 1.0, current, tolerance)

    def active(self, k: int, signals: Mapping[str, np.ndarray]) -> bool:
        return True if self.decision is None else bool(self.decision.active[k])

    def explain(self, k: int) -> tuple[float, float, str]:
        if self.decision is None:
            return math.nan, math.nan, ""
        d = self.decision
        return float(d.desired[k]), float(d.pressure[k]), REASONS[int(d.reason[k])]


class HpaCpuScaler(Autoscaler):
    """HPA with a CPU Utilization target (requests equal per pod)."""

    behavior = DEFAULT_BEHAVIOR

    def __init__(self, target: float) -> None:
        self.target = target
        self.label = f"hpa-cpu-{round(target * 100)}"

    def recommend(self, k: int, *, current: int, observer: Observer,
                  signals: Mapping[str, np.ndarray], tolerance: float) -> int:
        return resource_utilization(observer.ready_utilizations(k), unready=observer.unready(k),
                                    target=self.target, current=current, tolerance=tolerance)


class KedaPrometheusScaler(Autoscaler):
    """KEDA Prometheus scaler: value = Σ over ready pods of `signal` (requests: the ISVC's
    rate), AverageValue `threshold[k]` per replica."""

    behavior = DEFAULT_BEHAVIOR

    def __init__(self, signal: str, thresholds: np.ndarray) -> None:
        self.signal = signal
        self.thresholds = thresholds
        self.label = f"keda-prometheus-{signal}"

    def _value(self, k: int, signals: Mapping[str, np.ndarray]) -> float:
        value = float(signals[self.signal][k])
        if self.signal == "kv_cache":
            value *= float(signals["replicas"][k])
        return value

    def recommend(self, k: int, *, current: int, observer: Observer,
                  signals: Mapping[str, np.ndarray], tolerance: float) -> int:
        value = self._value(k, signals)
        if not math.isfinite(value):
            return current
        return external_average_value(value, float(self.thresholds[k]), current, tolerance)

    def active(self, k: int, signals: Mapping[str, np.ndarray]) -> bool:
        value = self._value(k, signals)
        return not math.isfinite(value) or value > 0
