"""Synthetic vLLM + Kubernetes exporters for many ISVCs behind one loopback HTTP server (dev/test).

Each ISVC × pod is a labelled set of series with the real names and label sets of
/work/shared/fixtures: vLLM (`vllm:kv_cache_usage_perc`, `vllm:num_requests_*`,
`vllm:request_success_total`, `vllm:time_to_first_token_seconds` with vLLM's buckets) with
`namespace`/`isvc`/`pod` labels (as after KServe relabelling), cAdvisor
`container_cpu_usage_seconds_total` and kube-state-metrics `kube_pod_container_resource_requests`
(no `isvc` label: the default `cpu` query derives it from the pod name). Counters are integrals
of the driven rates over wall time, so any number of scrapers see one consistent history.

    fleet = Fleet.synthetic(2000)
    with fleet.serve() as server, PrometheusProcess([server.target()]) as prom: ...
    fleet.set(("team-0", "llm-0000"), kv_cache=0.95, pods=2)

The exposition text is rendered directly (one f-string per sample; ~0.1 s for 2,000 ISVCs).
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

import numpy as np

from scaler.devtools.exposition import pod_lines, render_isvc
from scaler.devtools.load import IsvcDrive, LoadPattern, mean_of, ttft_fractions
from scaler.devtools.prometheus import ScrapeTarget
from scaler.keys import IsvcKey

__all__ = ["Fleet", "FleetServer", "IsvcDrive", "LoadPattern", "ttft_fractions"]

_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


@dataclass
class _Pod:
    name: str
    counters: np.ndarray
    lines: tuple[str, ...] = ()


@dataclass
class _Isvc:
    key: IsvcKey
    drive: IsvcDrive
    pattern: LoadPattern | None = None
    pods: list[_Pod] = field(default_factory=list)
    next_pod: int = 0


class Fleet:
    """Many ISVCs with driveable values; thread-safe (`set` while a server renders)."""

    def __init__(self, *, clock: Callable[[], float] = time.time, uptime_s: float = 3600.0):
        self._clock = clock
        self._uptime_s = uptime_s
        self._lock = threading.Lock()
        self._isvcs: dict[IsvcKey, _Isvc] = {}
        self._last_s = clock()

    @classmethod
    def synthetic(
        cls, n: int, *, namespaces: int = 4, patterns: bool = False, seed: int = 0,
        clock: Callable[[], float] = time.time,
    ) -> Fleet:
        """`n` ISVCs `team-<i % namespaces>/llm-<i>` with varied values (every 5th uses the
        `vllm_` spelling, every 7th the legacy gpu_cache name); with `patterns`, each follows
        its own LoadPattern (sine period 5–15 min, bursts every 10–20 min)."""
        rng = np.random.default_rng(seed)
        start_s = clock()
        fleet = cls(clock=lambda: start_s)  # one instant while adding: O(n), not O(n²)
        for i in range(n):
            style = "underscore" if i % 5 == 4 else "legacy" if i % 7 == 6 else "colon"
            pattern = LoadPattern(
                base_rate=float(rng.uniform(2, 30)), amplitude=float(rng.uniform(0.2, 0.8)),
                period_s=float(rng.uniform(300, 900)), phase=float(rng.uniform()),
                burst_every_s=float(rng.uniform(600, 1200)), burst_s=60.0,
            ) if patterns else None
            fleet.add(f"team-{i % namespaces}", f"llm-{i:04d}", pattern=pattern,
                      kv_cache=round(float(rng.uniform(0.05, 0.95)), 4),
                      ttft_p99_s=round(float(rng.uniform(0.03, 2.0)), 4),
                      cpu_ratio=round(float(rng.uniform(0.05, 1.5)), 4),
                      request_rate=round(float(rng.uniform(0.5, 40)), 3),
                      pods=int(rng.integers(1, 4)), metric_style=style)
        fleet._clock = clock
        return fleet

    def add(self, namespace: str, isvc: str, *, pattern: LoadPattern | None = None,
            **drive: Any) -> IsvcKey:
        """Add an ISVC (IsvcDrive fields as keywords); its pods start with `uptime_s` of
        history in their counters, as if they had been running that long."""
        key = (namespace, isvc)
        with self._lock:
            self._advance()
            state = _Isvc(key, IsvcDrive(**drive), pattern)
            if pattern is not None:
                _apply_pattern(state, self._last_s)
            self._isvcs[key] = state
            _resize(state, uptime_s=self._uptime_s)
        return key

    def set(self, key: IsvcKey, **changes: Any) -> None:
        """Change an ISVC's values from now on (counters keep their history)."""
        with self._lock:
            self._advance()
            state = self._isvcs[key]
            state.drive = replace(state.drive, **changes)
            if state.pattern is not None:
                _apply_pattern(state, self._last_s)
            _resize(state, uptime_s=0.0)

    def set_all(self, **changes: Any) -> None:
        """`set` on every ISVC (all at one instant: counters are integrated once)."""
        with self._lock:
            self._advance()
            for state in self._isvcs.values():
                state.drive = replace(state.drive, **changes)
                if state.pattern is not None:
                    _apply_pattern(state, self._last_s)
                _resize(state, uptime_s=0.0)

    def remove(self, key: IsvcKey) -> None:
        """Drop an ISVC: its series disappear at the next scrape."""
        with self._lock:
            self._isvcs.pop(key, None)

    def isvc_keys(self) -> list[IsvcKey]:
        """ISVC keys, sorted."""
        with self._lock:
            return sorted(self._isvcs)

    def drive(self, key: IsvcKey) -> IsvcDrive:
        """A copy of an ISVC's current values."""
        with self._lock:
            self._advance()
            return IsvcDrive(**asdict(self._isvcs[key].drive))

    def render(self, *, shard: int = 0, shards: int = 1) -> bytes:
        """Exposition text (format 0.0.4) of the ISVCs whose index % shards == shard."""
        with self._lock:
            self._advance()
            families: dict[str, list[str]] = {}
            for i, state in enumerate(self._isvcs.values()):
                if i % shards == shard:
                    render_isvc(state.drive, [(p.lines, p.counters) for p in state.pods], families)
        return "".join("".join(lines) for lines in families.values()).encode()

    def serve(self, *, shards: int = 1, nice: int = 0) -> FleetServer:
        """Start loopback HTTP server(s) on free ports; `shards` > 1 splits the ISVCs; `nice`
        lowers the serving threads' CPU priority (benchmarks: exporters live on other nodes)."""
        return FleetServer(self, shards=shards, nice=nice)

    def _advance(self) -> None:
        """Integrate every counter from the last call to now (caller holds the lock)."""
        now = self._clock()
        if now == self._last_s:
            return  # nothing to integrate; patterns were applied at this instant already
        dt = max(0.0, now - self._last_s)
        self._last_s = now
        for state in self._isvcs.values():
            if dt > 0 and state.pods:
                inc = _increments(state.drive) * dt
                for pod in state.pods:
                    pod.counters += inc
            if state.pattern is not None:
                _apply_pattern(state, now)


def _apply_pattern(state: _Isvc, now_s: float) -> None:
    assert state.pattern is not None
    values: dict[str, Any] = state.pattern.drive(now_s, pods=state.drive.pods)
    state.drive = replace(state.drive, **values)


def _increments(d: IsvcDrive) -> np.ndarray:
    """Per-pod counter increase per second, in the _Pod.counters layout."""
    rate = d.request_rate / d.pods
    fractions = ttft_fractions(round(d.ttft_p99_s, 9))
    cpu_s = d.cpu_ratio * d.cpu_request_cores
    return np.concatenate(([rate], rate * fractions,
                           [rate, rate * mean_of(fractions), cpu_s, cpu_s * 1.02 + 0.01]))


def _resize(state: _Isvc, *, uptime_s: float) -> None:
    """Add or remove pods to match drive.pods; new pods carry `uptime_s` of history."""
    want = state.drive.pods
    del state.pods[want:]
    while len(state.pods) < want:
        ns, isvc = state.key
        digest = hashlib.sha1(f"{ns}/{isvc}/{state.next_pod}".encode()).hexdigest()
        name = f"{isvc}-predictor-{digest[:9]}-{digest[9:14]}"
        state.next_pod += 1
        state.pods.append(_Pod(name, _increments(state.drive) * uptime_s))
    for pod in state.pods:
        if not pod.lines or pod.lines[0] != state.drive.metric_style:
            pod.lines = pod_lines(state.key, pod.name, state.drive.metric_style)


def _serve_niced(server: ThreadingHTTPServer, nice: int) -> None:
    """serve_forever on this thread, at `nice` (Linux: per thread, inherited by the request
    threads it starts)."""
    if nice:
        os.setpriority(os.PRIO_PROCESS, 0, nice)
    server.serve_forever(0.05)


class FleetServer:
    """Loopback HTTP server(s) serving a Fleet's /metrics; context manager."""

    def __init__(self, fleet: Fleet, *, shards: int = 1, nice: int = 0) -> None:
        self.fleet = fleet
        self._servers: list[ThreadingHTTPServer] = []
        for shard in range(shards):
            server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fleet, shard, shards))
            server.daemon_threads = True
            threading.Thread(target=_serve_niced, args=(server, nice), name=f"fleet-{shard}",
                             daemon=True).start()
            self._servers.append(server)

    @property
    def addresses(self) -> list[str]:
        """host:port of each shard."""
        return [f"127.0.0.1:{s.server_address[1]}" for s in self._servers]

    @property
    def address(self) -> str:
        """host:port of the first shard."""
        return self.addresses[0]

    def targets(self, **labels: str) -> list[ScrapeTarget]:
        """One ScrapeTarget per shard (honour_labels, so the exported labels are kept)."""
        return [ScrapeTarget(a, labels=labels, job=f"fleet-{i}")
                for i, a in enumerate(self.addresses)]

    def target(self, **labels: str) -> ScrapeTarget:
        """The ScrapeTarget of the first shard."""
        return self.targets(**labels)[0]

    def close(self) -> None:
        """Stop serving."""
        for server in self._servers:
            server.shutdown()
            server.server_close()

    def __enter__(self) -> FleetServer:
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def __iter__(self) -> Iterator[str]:
        return iter(self.addresses)


def _handler(fleet: Fleet, shard: int, shards: int) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.split("?")[0] != "/metrics":
                self.send_error(404)
                return
            body = fleet.render(shard=shard, shards=shards)
            self.send_response(200)
            self.send_header("Content-Type", _CONTENT_TYPE)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            try:
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                return  # the scraper (a stopped Prometheus) went away mid-answer

        def log_message(self, format: str, *args: Any) -> None:
            return

    return Handler
