"""Fixtures: a real grpc.aio ExternalScaler on a loopback port with a real stub."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import grpc
import pytest
from prometheus_client import CollectorRegistry

from scaler._proto import externalscaler_pb2_grpc as pb_grpc
from scaler.engine.store import SnapshotStore
from scaler.keys import IsvcKey
from scaler.metrics import ScalerMetrics
from scaler.serving.external_scaler import ExternalScalerService, GrpcServer, start_grpc_server
from tests.fakes import FakeClock


@dataclass
class StaticConfig:
    """A ConfigView with fixed policies (the real Config is exercised in tests/e2e)."""

    mins: dict[str, int] = field(default_factory=lambda: {"default": 1, "batch": 2})

    def policy_names(self) -> frozenset[str]:
        return frozenset(self.mins)

    def min_replicas(self, key: IsvcKey, policy: str) -> int:
        return self.mins[policy]


@dataclass
class Harness:
    """Everything a server test touches."""

    clock: FakeClock
    store: SnapshotStore
    metrics: ScalerMetrics
    server: GrpcServer
    channel: grpc.aio.Channel
    stub: pb_grpc.ExternalScalerStub
    seen_metadata: list[tuple[IsvcKey, str]]

    def counter(self, name: str, **labels: str) -> float:
        value = self.metrics.registry.get_sample_value(name, labels)
        return 0.0 if value is None else value


@pytest.fixture
async def harness() -> AsyncIterator[Harness]:
    clock = FakeClock()
    store = SnapshotStore(clock=clock, stale_after_s=45.0)
    metrics = ScalerMetrics(CollectorRegistry())
    seen: list[tuple[IsvcKey, str]] = []
    service = ExternalScalerService(
        store=store, config=StaticConfig, metrics=metrics,
        on_metadata=lambda key, policy: seen.append((key, policy)))
    server = await start_grpc_server(service, address="127.0.0.1:0")
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{server.port}")
    try:
        yield Harness(clock, store, metrics, server, channel,
                      pb_grpc.ExternalScalerStub(channel), seen)
    finally:
        await channel.close()
        await server.stop(0.5)
