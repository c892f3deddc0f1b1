"""The serving process's imperative shell: config watcher, engine, gRPC and HTTP servers.

`Runtime` owns every long-lived object of `scaler serve` and the two background loops
(engine ticks, config reload). Tests drive it in-process on port 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc
from prometheus_client import CollectorRegistry, GCCollector, PlatformCollector, ProcessCollector

from scaler.config import Config
from scaler.engine import Engine
from scaler.engine.evaluation import VANISHED_RETENTION_S
from scaler.engine.store import SnapshotStore
from scaler.metrics import ScalerMetrics
from scaler.serving.external_scaler import (
    ConfigAnswers,
    ExternalScalerService,
    GrpcServer,
    start_grpc_server,
)
from scaler.serving.http import HttpApp, HttpServer
from scaler.serving.reload import ConfigWatcher, apply_reload_metrics

log = logging.getLogger(__name__)

RELOAD_PERIOD_S = 1.0


def process_registry() -> CollectorRegistry:
    """A registry with the scaler's metrics plus process, platform and GC collectors."""
    registry = CollectorRegistry()
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    GCCollector(registry=registry)
    return registry


class Runtime:
    """One serving scaler: build with `load`, then `start`, `run`, `shutdown`."""

    def __init__(self, watcher: ConfigWatcher, *, clock: Callable[[], float],
                 metrics: ScalerMetrics, reload_period_s: float = RELOAD_PERIOD_S) -> None:
        self.watcher = watcher
        self.config: Config = watcher.load()
        self.metrics = metrics
        metrics.config_generation.set(watcher.generation)
        self.store = SnapshotStore(clock=clock)
        self.engine = Engine(config=self.config, store=self.store, metrics=metrics,
                             clock=clock)
        self._answers = ConfigAnswers(self.config)
        self._reload_period_s = reload_period_s
        self.grpc: GrpcServer | None = None
        self.http: HttpServer | None = None
        self.grpc_port = 0
        self.http_port = 0

    @classmethod
    def load(cls, config_path: Path | str, *, clock: Callable[[], float],
             registry: CollectorRegistry | None = None, **kwargs: Any) -> Runtime:
        """Load the config (ConfigError if invalid) and build everything (nothing started)."""
        metrics = ScalerMetrics(registry if registry is not None else process_registry())
        return cls(ConfigWatcher(config_path), clock=clock, metrics=metrics, **kwargs)

    async def start(self, *, grpc_address: str, http_host: str, http_port: int,
                    credentials: grpc.ServerCredentials | None = None) -> None:
        """Bind and start the gRPC and HTTP servers (readiness stays false until warm)."""
        service = ExternalScalerService(store=self.store, config=lambda: self._answers,
                                        metrics=self.metrics, on_metadata=self.engine.note_metadata)
        self.grpc = await start_grpc_server(service, address=grpc_address,
                                            credentials=credentials)
        self.grpc_port = self.grpc.port
        self.http = HttpServer(HttpApp(store=self.store, metrics=self.metrics),
                               host=http_host, port=http_port)
        self.http_port = self.http.port
        self.http.start()

    async def run(self, stop: asyncio.Event, *, warm_start_timeout_s: float = 60.0,
                  after_warm_start: Callable[[], None] | None = None) -> None:
        """Warm start, call `after_warm_start`, then tick and watch the config until `stop`."""
        if warm_start_timeout_s > 0:
            # history back to the vanished-ISVC retention: a replica started after an ISVC's
            # series vanished then holds it as no-data, like a replica that saw it vanish
            await self.engine.warm_start(timeout_s=warm_start_timeout_s,
                                         lookback_s=VANISHED_RETENTION_S)
        if after_warm_start is not None:
            after_warm_start()
        if self.grpc is not None:
            await self.grpc.set_serving(True)
        tasks = [asyncio.create_task(self.engine.run(stop), name="engine"),
                 asyncio.create_task(self._watch_config(stop), name="config-watch")]
        try:
            await stop.wait()
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    def reload_once(self) -> None:
        """Poll the config file once and apply a valid change (logged, counted)."""
        result = self.watcher.poll()
        apply_reload_metrics(result, self.metrics)
        if result.kind == "applied" and result.config is not None:
            self.config = result.config
            self._answers = ConfigAnswers(result.config)
            self.engine.set_config(result.config)
            log.info(result.message)
        elif result.kind == "rejected":
            log.error(result.message)

    async def _watch_config(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self._reload_period_s)
            if not stop.is_set():
                self.reload_once()

    async def shutdown(self, *, grace_s: float = 5.0) -> None:
        """Stop accepting RPCs, close streams, finish in-flight ones, close HTTP and Prometheus."""
        if self.grpc is not None:
            await self.grpc.stop(grace_s)
        if self.http is not None:
            self.http.stop()
        close = getattr(self.engine.source, "close", None)
        if close is not None:
            close()

