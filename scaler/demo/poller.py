"""A KEDA-like poller: asks the scaler over gRPC as KEDA and the HPA would, applies the HPA's
AverageValue arithmetic, and prints a live decision table.

Emulated (KEDA's controller cannot run here): per ScaledObject, GetMetricSpec when the HPA is
built, then every `pollingInterval` IsActive (KEDA's scale loop) and GetMetrics (the HPA's
external-metrics path); the HPA sets ceil(metricValue / targetAverageValue) replicas, inside
its 10 % tolerance band it keeps the current count.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import grpc

from scaler._proto import externalscaler_pb2 as pb
from scaler._proto import externalscaler_pb2_grpc as pb_grpc
from scaler.sim.control import external_average_value

HPA_TOLERANCE = 0.1


@dataclass(frozen=True)
class ScaledObject:
    """The parts of a ScaledObject KEDA sends to an external scaler."""

    name: str
    namespace: str
    metadata: dict[str, str]
    min_replicas: int = 1
    max_replicas: int = 64

    def ref(self) -> pb.ScaledObjectRef:
        """The ScaledObjectRef KEDA builds from this ScaledObject."""
        return pb.ScaledObjectRef(name=self.name, namespace=self.namespace,
                                  scalerMetadata=self.metadata)


def hpa_replicas(*, metric_value: float, target_average: float, current: int,
                 min_replicas: int, max_replicas: int) -> int:
    """Replicas the HPA sets for an AverageValue external metric, clamped to [min, max].

    The arithmetic (10 % tolerance band, ceil(value / target)) is the simulator's HPA
    emulation, scaler.sim.control. E.g. value 8, target 1, current 4 → 8.
    """
    wanted = external_average_value(metric_value, target_average, current, HPA_TOLERANCE)
    return max(min_replicas, min(max_replicas, wanted))


@dataclass
class Row:
    """One line of the live table."""

    so: ScaledObject
    desired: int | None
    active: bool | None
    replicas: int
    error: str = ""
    status: dict[str, Any] | None = None


class Poller:
    """Polls the scaler for a set of ScaledObjects; `apply` receives each new replica count."""

    def __init__(self, *, grpc_target: str, status_url: str,
                 scaled_objects: Sequence[ScaledObject],
                 apply: Callable[[ScaledObject, int], None] = lambda so, n: None) -> None:
        self._channel = grpc.aio.insecure_channel(grpc_target)
        self._stub = pb_grpc.ExternalScalerStub(self._channel)
        self._status_url = status_url
        self._objects = list(scaled_objects)
        self._apply = apply
        self.replicas = {so.name: so.min_replicas for so in self._objects}
        self._specs: dict[str, float] = {}

    async def close(self) -> None:
        """Close the gRPC channel."""
        await self._channel.close()

    async def poll(self) -> list[Row]:
        """One KEDA polling round over every ScaledObject; returns the table rows."""
        status = self._fetch_status()
        rows = []
        for so in self._objects:
            rows.append(await self._poll_one(so, status.get((so.namespace, so.metadata["isvc"]))))
        return rows

    async def _poll_one(self, so: ScaledObject, status: dict[str, Any] | None) -> Row:
        try:
            if so.name not in self._specs:
                spec = (await self._stub.GetMetricSpec(so.ref(), timeout=5)).metricSpecs[0]
                self._specs[so.name] = spec.targetSizeFloat or float(spec.targetSize)
            active = (await self._stub.IsActive(so.ref(), timeout=5)).result
            request = pb.GetMetricsRequest(scaledObjectRef=so.ref(), metricName="desired-replicas")
            value = (await self._stub.GetMetrics(request, timeout=5)).metricValues[0]
        except grpc.aio.AioRpcError as e:
            return Row(so, None, None, self.replicas[so.name],
                       f"{e.code().name}: {e.details()} (KEDA fallback)", status)
        current = self.replicas[so.name]
        new = hpa_replicas(metric_value=value.metricValueFloat or float(value.metricValue),
                           target_average=self._specs[so.name], current=current,
                           min_replicas=so.min_replicas, max_replicas=so.max_replicas)
        if new != current:
            self.replicas[so.name] = new
            self._apply(so, new)
        return Row(so, int(value.metricValue), bool(active), new, "", status)

    def _fetch_status(self) -> dict[tuple[str, str], dict[str, Any]]:
        try:
            with urllib.request.urlopen(self._status_url, timeout=5) as response:
                doc = json.load(response)
        except (OSError, ValueError):
            return {}
        return {(e["namespace"], e["isvc"]): e for e in doc.get("isvcs", [])}


def _fmt(value: Any, spec: str, unit: str = "") -> str:
    """`value` formatted with `spec` plus `unit`, or "-" when missing (pad the result)."""
    return "-" if value is None else format(value, spec) + unit


def _yes_no(value: bool | None) -> str:
    return "-" if value is None else "yes" if value else "no"


def render_table(rows: Sequence[Row], *, elapsed_s: float) -> str:
    """The live table: one line per ScaledObject, signals and reason from /status."""
    header = (f"{'ISVC':<26} {'p99 TTFT':>9} {'KV':>6} {'CPU':>6} {'req/s':>7} "
              f"{'pressure':>8} {'pods':>5} {'desired':>7} {'active':>6}  reason")
    lines = [f"t={elapsed_s:6.0f}s  (KEDA-like poller → scaler gRPC; signals from /status)",
             header, "-" * len(header)]
    for row in rows:
        st = row.status or {}
        sig = st.get("signals", {})
        lines.append(
            f"{row.so.namespace + '/' + row.so.metadata['isvc']:<26} "
            f"{_fmt(sig.get('latency_p99'), '.3f', 's'):>9} {_fmt(sig.get('kv_cache'), '.2f'):>6} "
            f"{_fmt(sig.get('cpu'), '.2f'):>6} {_fmt(sig.get('requests'), '.1f'):>7} "
            f"{_fmt(st.get('pressure'), '.2f'):>8} {row.replicas:>5} "
            f"{_fmt(row.desired, 'd'):>7} {_yes_no(row.active):>6}  "
            f"{row.error or st.get('reason', '-')}")
    return "\n".join(lines)
