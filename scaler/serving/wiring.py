"""The serving process's imperative shell: config watcher, engine, gRPC and HTTP servers.

`Runtime` owns every long-lived object of `scaler serve` and the two background loops
(engine ticks, config reload). Tests drive it in-process on port 0.

With `--kubernetes` (`kube_options`), a `scaler.kube.Kubernetes` joins them through three
seams: the Engine's frame `overlay` (replicas from the Deployments), the config handed to
the engine (`effective`: annotation overrides folded in, re-checked on every reload poll),
and the `kubernetes` object of /status. With `--config-map` the watcher reads policy.yaml
from the watched ConfigMap instead of a file.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import grpc
from prometheus_client import CollectorRegistry, GCCollector, PlatformCollector, ProcessCollector

from scaler.config import Config
from scaler.engine import Engine
from scaler.engine.evaluation import VANISHED_RETENTION_S
from scaler.engine.store import SnapshotStore
from scaler.errors import ConfigError
from scaler.metrics import ScalerMetrics
from scaler.serving.external_scaler import (
    ConfigAnswers,
    ExternalScalerService,
    GrpcServer,
    start_grpc_server,
)
from scaler.serving.http import HttpApp, HttpServer
from scaler.serving.reload import ConfigWatcher, apply_reload_metrics
from scaler.signals.frames import SignalSource

if TYPE_CHECKING:   # imported when used: a scaler without --kubernetes never loads the client
    from scaler.kube import KubeOptions, Kubernetes

log = logging.getLogger(__name__)

RELOAD_PERIOD_S = 1.0
KUBE_SYNC_TIMEOUT_S = 30.0
"""How long start-up waits for the Kubernetes caches (then serves from Prometheus alone)."""


def process_registry() -> CollectorRegistry:
    """A registry with the scaler's metrics plus process, platform and GC collectors."""
    registry = CollectorRegistry()
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    GCCollector(registry=registry)
    return registry


class Runtime:
    """One serving scaler: build with `load`, then `start`, `run`, `shutdown`. `source`
    fixes the engine's SignalSource (tests; default: Prometheus from the config)."""

    def __init__(self, watcher: ConfigWatcher, *, clock: Callable[[], float],
                 metrics: ScalerMetrics, reload_period_s: float = RELOAD_PERIOD_S,
                 kube: Kubernetes | None = None, source: SignalSource | None = None) -> None:
        self.watcher = watcher
        self.config: Config = watcher.load()
        self.metrics = metrics
        self.kube = kube
        metrics.config_generation.set(watcher.generation)
        self.store = SnapshotStore(clock=clock)
        self._kube_version = kube.version if kube else 0
        self._pushed = kube.effective(self.config) if kube else self.config
        self.engine = Engine(config=self._pushed, store=self.store, metrics=metrics,
                             clock=clock, overlay=kube.overlay if kube else None, source=source)
        self._answers = ConfigAnswers(self._pushed)
        self._reload_period_s = reload_period_s
        self.grpc: GrpcServer | None = None
        self.http: HttpServer | None = None
        self.grpc_port = 0
        self.http_port = 0

    @classmethod
    def load(cls, config_path: Path | str | None, *, clock: Callable[[], float],
             registry: CollectorRegistry | None = None,
             kube_options: KubeOptions | None = None, kube_args: dict[str, Any] | None = None,
             kube_sync_timeout_s: float = KUBE_SYNC_TIMEOUT_S, **kwargs: Any) -> Runtime:
        """Load the config (ConfigError if invalid) and build everything; with
        `kube_options` the watches start here (policy.yaml may come from the ConfigMap) and
        the ScaledObject writer in `start`. `kube_args` go to scaler.kube.Kubernetes."""
        metrics = ScalerMetrics(registry if registry is not None else process_registry())
        if kube_options is None:
            if config_path is None:
                raise ConfigError("--config is required (or --kubernetes --config-map NS/NAME)")
            return cls(ConfigWatcher(config_path), clock=clock, metrics=metrics, **kwargs)
        from scaler.kube import Kubernetes

        cell: list[Runtime] = []
        kube = Kubernetes(kube_options, registry=metrics.registry,
                          config=lambda: cell[0].config, **(kube_args or {}))
        kube.cluster.start()
        try:
            watcher = _watcher(config_path, kube, kube_options, kube_sync_timeout_s)
            runtime = cls(watcher, clock=clock, metrics=metrics, kube=kube, **kwargs)
        except BaseException:
            kube.cluster.stop()
            raise
        cell.append(runtime)
        return runtime

    async def start(self, *, grpc_address: str, http_host: str, http_port: int,
                    credentials: grpc.ServerCredentials | None = None) -> None:
        """Bind and start the gRPC and HTTP servers (readiness stays false until warm)."""
        service = ExternalScalerService(store=self.store, config=lambda: self._answers,
                                        metrics=self.metrics, on_metadata=self.engine.note_metadata)
        self.grpc = await start_grpc_server(service, address=grpc_address,
                                            credentials=credentials)
        self.grpc_port = self.grpc.port
        kube = self.kube
        extra = (lambda: {"kubernetes": kube.status()}) if kube is not None else None
        self.http = HttpServer(HttpApp(store=self.store, metrics=self.metrics,
                                       status_extra=extra), host=http_host, port=http_port)
        self.http_port = self.http.port
        self.http.start()
        if self.kube is not None:
            self.kube.provisioner.start()

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
        """Poll the config once and apply a valid change (logged, counted); with
        `--kubernetes`, also a change of the ISVCs' annotations."""
        result = self.watcher.poll()
        apply_reload_metrics(result, self.metrics)
        if result.kind == "applied" and result.config is not None:
            self.config = result.config
            self._push_config()
            log.info(result.message)
        elif result.kind == "rejected":
            log.error(result.message)
        if self.kube is not None and self.kube.version != self._kube_version:
            self._push_config()

    def _push_config(self) -> None:
        """Hand the engine (and the gRPC answers) the config in force: policy.yaml with the
        annotation overrides folded in; unchanged object → nothing to do."""
        if self.kube is not None:
            self._kube_version = self.kube.version
        config = self.kube.effective(self.config) if self.kube else self.config
        if config is not self._pushed:
            self._pushed = config
            self._answers = ConfigAnswers(config)
            self.engine.set_config(config)

    async def _watch_config(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self._reload_period_s)
            if self.kube is not None and self.kube.version != self._kube_version:
                # re-validating thousands of ISVCs' annotations takes tens of ms: off the
                # event loop (memoised, so reload_once below only looks the result up)
                await asyncio.get_running_loop().run_in_executor(
                    None, self.kube.effective, self.config)
            if not stop.is_set():
                self.reload_once()

    async def shutdown(self, *, grace_s: float = 5.0) -> None:
        """Stop accepting RPCs, close streams, finish in-flight ones, close HTTP and Prometheus."""
        if self.grpc is not None:
            await self.grpc.stop(grace_s)
        if self.http is not None:
            self.http.stop()
        if self.kube is not None:
            self.kube.stop()
        close = getattr(self.engine.source, "close", None)
        if close is not None:
            close()



def _watcher(config_path: Path | str | None, kube: Kubernetes, options: KubeOptions,
             timeout_s: float) -> ConfigWatcher:
    """The file watcher, or with `--config-map` one reading the watched ConfigMap. The
    InferenceService, Deployment (and ConfigMap) caches get up to `timeout_s` to fill before
    serving (ScaledObjects are not waited for: without KEDA's CRD they never sync)."""
    if options.config_map is None and config_path is None:
        raise ConfigError("--config is required (or --config-map NS/NAME)")
    if not kube.cluster.wait_synced(timeout_s, resources=(
            "inferenceservices", "deployments", "configmap")):
        log.warning("kube: caches not in sync after %gs; serving from Prometheus meanwhile",
                    timeout_s)
    if options.config_map is None:
        assert config_path is not None
        return ConfigWatcher(config_path)
    ns, name = options.config_map
    return ConfigWatcher(f"configmap {ns}/{name} key policy.yaml", read=kube.config_text)
