"""grpc.aio ExternalScaler (KEDA, DESIGN §4): maps protocol ↔ snapshot and nothing more.

RPCs never query Prometheus: they read the SnapshotStore the engine publishes to, so each
costs O(1). A stale snapshot (older than stale_after) answers UNAVAILABLE so KEDA's
`fallback` applies; GetMetricSpec answers from metadata alone and never fails for staleness.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any, Protocol

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from scaler._proto import externalscaler_pb2 as pb
from scaler._proto import externalscaler_pb2_grpc as pb_grpc
from scaler.config import Config, resolve_policy
from scaler.engine.store import SnapshotStore
from scaler.errors import ConfigError, MetadataError
from scaler.keys import IsvcKey
from scaler.metrics import ScalerMetrics
from scaler.serving.scaledref import ScaledRef, parse_ref

log = logging.getLogger(__name__)

METRIC_NAME = "desired-replicas"
SERVICE_NAME = pb.DESCRIPTOR.services_by_name["ExternalScaler"].full_name
MAX_MESSAGE_BYTES = 64 * 1024
MAX_CONCURRENT_RPCS = 20_000
STREAM_RECHECK_S = 60.0
"""Safety recheck of an idle StreamIsActive (s, jittered ×0.5–1); changes wake it at once."""


class ConfigView(Protocol):
    """What the server needs of the config: policy names and each ISVC's min_replicas."""

    def policy_names(self) -> frozenset[str]: ...

    def min_replicas(self, key: IsvcKey, policy: str) -> int: ...


class ConfigAnswers:
    """ConfigView over a loaded Config: its policy names and each ISVC's resolved min_replicas."""

    def __init__(self, config: Config) -> None:
        self._config = config
        self._names = frozenset(config.policies)

    def policy_names(self) -> frozenset[str]:
        """Names under `policies:` in policy.yaml."""
        return self._names

    def min_replicas(self, key: IsvcKey, policy: str) -> int:
        """min_replicas of the ISVC's resolved policy (overrides applied)."""
        return int(resolve_policy(self._config, key, policy).min_replicas)


@dataclass(frozen=True, slots=True)
class Answer:
    """What KEDA is told for one ISVC: desired replicas (≥ 0) and activity."""

    desired: int
    active: bool


class ExternalScalerService(pb_grpc.ExternalScalerServicer):
    """The five ExternalScaler RPCs, answered from the latest snapshot."""

    def __init__(
        self,
        *,
        store: SnapshotStore,
        config: Callable[[], ConfigView],
        metrics: ScalerMetrics,
        on_metadata: Callable[[IsvcKey, str], None] = lambda key, policy: None,
    ) -> None:
        self._store = store
        self._config = config
        self._metrics = metrics
        self._on_metadata = on_metadata
        self._closing = asyncio.Event()
        self._unseen_logged: set[IsvcKey] = set()
        self._counters: dict[tuple[str, str], Any] = {}
        self._timers: dict[str, Any] = {}

    async def IsActive(self, request: pb.ScaledObjectRef, context: Any) -> pb.IsActiveResponse:
        """Whether the ISVC has traffic (DESIGN §3 step 7); UNAVAILABLE when stale."""
        return await self._unary("IsActive", self._is_active, request, context)

    async def GetMetricSpec(
        self, request: pb.ScaledObjectRef, context: Any
    ) -> pb.GetMetricSpecResponse:
        """One spec, `desired-replicas` with target 1, from metadata alone."""
        return await self._unary("GetMetricSpec", self._metric_spec, request, context)

    async def GetMetrics(
        self, request: pb.GetMetricsRequest, context: Any
    ) -> pb.GetMetricsResponse:
        """Desired replicas, as both metricValue and metricValueFloat."""
        return await self._unary("GetMetrics", self._metrics_reply, request, context)

    async def StreamIsActive(
        self, request: pb.ScaledObjectRef, context: Any
    ) -> AsyncIterator[pb.IsActiveResponse]:
        """Pushes activity now and on every change; ends when the client or server goes.

        The stream sleeps until the store says this ISVC's activity may have changed (or the
        snapshot turned stale), with a jittered safety recheck: no per-tick wake-up."""
        ref = await self._stream_ref(request, context, "StreamIsActive")
        self._metrics.grpc_streams.inc()
        try:
            with self._store.watch(ref.key):
                last: bool | None = None
                while not self._closing.is_set():
                    version = self._store.version
                    try:
                        answer = self._answer(ref)
                    except _Reject as e:
                        self._count("StreamIsActive", e.code.name)
                        await context.abort(e.code, e.message)
                    if answer.active != last:
                        last = answer.active
                        yield pb.IsActiveResponse(result=answer.active)
                    await self._store.wait_for_change(
                        ref.key, version, timeout_s=random.uniform(0.5, 1.0) * STREAM_RECHECK_S)
        finally:
            self._metrics.grpc_streams.dec()
            self._count("StreamIsActive", "OK")

    async def StreamMetricSpec(
        self, request: pb.ScaledObjectRef, context: Any
    ) -> AsyncIterator[pb.GetMetricSpecResponse]:
        """Sends the (constant) spec when opened, then holds the stream until either side ends."""
        await self._stream_ref(request, context, "StreamMetricSpec")
        self._metrics.grpc_streams.inc()
        try:
            yield _metric_spec()
            await self._closing.wait()
        finally:
            self._metrics.grpc_streams.dec()
            self._count("StreamMetricSpec", "OK")

    def _is_active(self, request: pb.ScaledObjectRef) -> pb.IsActiveResponse:
        return _IS_ACTIVE[self._answer(self._ref(request)).active]

    def _metric_spec(self, request: pb.ScaledObjectRef) -> pb.GetMetricSpecResponse:
        self._ref(request)
        return _metric_spec()

    def _metrics_reply(self, request: pb.GetMetricsRequest) -> pb.GetMetricsResponse:
        desired = self._answer(self._ref(request.scaledObjectRef)).desired
        value = pb.MetricValue(metricName=request.metricName or METRIC_NAME,
                               metricValue=desired, metricValueFloat=float(desired))
        return pb.GetMetricsResponse(metricValues=[value])

    async def _unary(self, method: str, handler: Callable[[Any], Any], request: Any,
                     context: Any) -> Any:
        """Run a (synchronous) unary handler; time it and count it by status code. A _Reject
        aborts the call with its status; any other exception counts as UNKNOWN."""
        started = time.perf_counter()
        try:
            reply = handler(request)
        except _Reject as e:
            self._finish(method, e.code.name, started)
            await context.abort(e.code, e.message)
        except Exception:
            self._count(method, "UNKNOWN")
            raise
        self._finish(method, "OK", started)
        return reply

    def _finish(self, method: str, code: str, started: float) -> None:
        self._count(method, code)
        self._timer(method).observe(time.perf_counter() - started)

    def _count(self, method: str, code: str) -> None:
        child = self._counters.get((method, code))
        if child is None:
            child = self._counters[(method, code)] = self._metrics.grpc_requests.labels(
                method, code)
        child.inc()

    def _timer(self, method: str) -> Any:
        child = self._timers.get(method)
        if child is None:
            child = self._timers[method] = self._metrics.grpc_duration.labels(method)
        return child

    def _ref(self, request: pb.ScaledObjectRef) -> ScaledRef:
        """Parse and validate the ScaledObjectRef; _Reject(INVALID_ARGUMENT) naming the key."""
        try:
            ref = parse_ref(name=request.name, namespace=request.namespace,
                            metadata=dict(request.scalerMetadata),
                            policies=self._config().policy_names())
        except MetadataError as e:
            raise _Reject(grpc.StatusCode.INVALID_ARGUMENT, str(e)) from e
        self._on_metadata(ref.key, ref.policy)
        return ref

    async def _stream_ref(self, request: pb.ScaledObjectRef, context: Any,
                          method: str) -> ScaledRef:
        """`_ref` for a streaming RPC: a rejection is counted and aborts the stream."""
        try:
            return self._ref(request)
        except _Reject as e:
            self._count(method, e.code.name)
            await context.abort(e.code, e.message)
            raise AssertionError("unreachable") from e

    def _answer(self, ref: ScaledRef) -> Answer:
        """The ISVC's snapshot entry; min_replicas if not seen yet; _Reject(UNAVAILABLE) when
        the snapshot is stale."""
        snap = self._store.snapshot
        if snap is None or self._store.is_stale():
            raise _stale(None if snap is None else snap.age_s(self._store.now_s()))
        entry = snap.entries.get(ref.key)
        if entry is not None:
            return Answer(desired=_safe_count(entry.desired), active=bool(entry.active))
        try:
            desired = self._config().min_replicas(ref.key, ref.policy)
        except ConfigError as e:
            raise _Reject(grpc.StatusCode.INVALID_ARGUMENT, str(e)) from e
        if ref.key not in self._unseen_logged and len(self._unseen_logged) < 100_000:
            self._unseen_logged.add(ref.key)
            log.info("ISVC %s/%s not seen in Prometheus yet: answering min_replicas=%d",
                     ref.namespace, ref.isvc, desired)
        return Answer(desired=_safe_count(desired), active=False)

    def close(self) -> None:
        """End every open stream promptly (server shutdown)."""
        self._closing.set()
        self._store.touch()


class _Reject(Exception):
    """An RPC answered with a gRPC status instead of a reply (counted under that code)."""

    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


def _stale(age_s: float | None) -> _Reject:
    detail = ("no evaluation has completed yet" if age_s is None
              else f"latest evaluation is {age_s:.1f}s old (past stale_after)")
    return _Reject(grpc.StatusCode.UNAVAILABLE,
                   f"{detail}; Prometheus may be unreachable — KEDA fallback applies")


def _metric_spec() -> pb.GetMetricSpecResponse:
    spec = pb.MetricSpec(metricName=METRIC_NAME, targetSize=1, targetSizeFloat=1.0)
    return pb.GetMetricSpecResponse(metricSpecs=[spec])


_IS_ACTIVE = {flag: pb.IsActiveResponse(result=flag) for flag in (False, True)}


def _safe_count(value: float) -> int:
    """A replica count safe to send: finite, integral, ≥ 0."""
    return int(value) if math.isfinite(value) and value > 0 else 0


@dataclass
class GrpcServer:
    """A started grpc.aio server with health and reflection; `stop` is graceful."""

    server: grpc.aio.Server
    port: int
    health: Any
    service: ExternalScalerService

    async def set_serving(self, serving: bool) -> None:
        """Health of the ExternalScaler service (overall health stays SERVING while alive)."""
        status = (health_pb2.HealthCheckResponse.SERVING if serving
                  else health_pb2.HealthCheckResponse.NOT_SERVING)
        await self.health.set(SERVICE_NAME, status)

    async def stop(self, grace_s: float = 5.0) -> None:
        """Stop accepting RPCs, close streams, let in-flight unary RPCs finish (≤ grace_s)."""
        self.service.close()
        await self.health.enter_graceful_shutdown()
        await self.server.stop(grace_s)


async def start_grpc_server(
    service: ExternalScalerService,
    *,
    address: str,
    credentials: grpc.ServerCredentials | None = None,
) -> GrpcServer:
    """Bind `address` (port 0 = any free one), register services, start serving."""
    server = grpc.aio.server(
        maximum_concurrent_rpcs=MAX_CONCURRENT_RPCS,
        options=[("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
                 # gRPC core sheds calls waiting to be matched beyond these (defaults 1,000 and
                 # 3,000) with CANCELLED: a KEDA operator restart polls every ScaledObject at once
                 ("grpc.server.max_pending_requests", MAX_CONCURRENT_RPCS),
                 ("grpc.server.max_pending_requests_hard_limit", MAX_CONCURRENT_RPCS),
                 ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
                 ("grpc.so_reuseport", 0)])
    pb_grpc.add_ExternalScalerServicer_to_server(service, server)
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection(
        [SERVICE_NAME, health.SERVICE_NAME, reflection.SERVICE_NAME], server)
    port = (server.add_secure_port(address, credentials) if credentials
            else server.add_insecure_port(address))
    if port == 0:
        raise OSError(f"cannot bind gRPC server to {address}")
    await server.start()
    await health_servicer.set("", health_pb2.HealthCheckResponse.SERVING)
    await health_servicer.set(SERVICE_NAME, health_pb2.HealthCheckResponse.NOT_SERVING)
    return GrpcServer(server=server, port=port, health=health_servicer, service=service)

