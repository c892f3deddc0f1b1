"""Real-process test harness: `scaler serve` as a subprocess, policy.yaml for a loopback
Prometheus, gRPC/HTTP probes, and a gate in front of Prometheus (tests/e2e,
tests/e2e).

    with ServeProcess(write_policy(tmp_path, prom.url)) as serve:
        serve.wait_ready()
        assert serve.desired("ns", "isvc").value == 4
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from prometheus_client.parser import text_string_to_metric_families

from scaler._proto import externalscaler_pb2 as pb
from scaler._proto import externalscaler_pb2_grpc as pb_grpc
from scaler.devtools import PrometheusProcess, free_port
from scaler.keys import IsvcKey

REPO = Path(__file__).resolve().parents[2]
SERVICE = "externalscaler.ExternalScaler"
REQUESTS_5S = 'sum by ($ns, $isvc) (rate({__name__=~"vllm[:_]request_success_total"}[5s]))'


def policy_yaml(prometheus_url: str, *, interval: str = "1s", stale_after: str = "3s",
                scale_down_window: str = "6s", timeout: str = "1s", default_extra: str = "",
                extra: str = "") -> str:
    """policy.yaml on kv_cache only (target 0.8), `requests` over a 5 s rate window, latency and
    cpu disabled: every decision then follows from values the test drives into the fleet."""
    return (
        f'prometheus: {{url: "{prometheus_url}", timeout: {timeout}}}\n'
        f"interval: {interval}\nstale_after: {stale_after}\n"
        "signals:\n"
        '  latency_p99: {query: ""}\n'
        '  cpu: {query: ""}\n'
        f"  requests: {{query: '{REQUESTS_5S}'}}\n"
        "policies:\n"
        "  default:\n"
        "    targets: {kv_cache: 0.8}\n"
        f"    scale_down_window: {scale_down_window}\n"
        f"{default_extra}{extra}")


def write_policy(directory: Path, text: str, *, name: str = "policy.yaml") -> Path:
    """Write `text` to directory/name (atomically) and return the path."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
    return path


def wait_until(predicate: Callable[[], Any], *, timeout_s: float, what: str,
               poll_s: float = 0.1) -> Any:
    """Poll `predicate()` until it returns a truthy value (returned); TimeoutError naming `what`."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not reached within {timeout_s:g}s")
        time.sleep(poll_s)


@dataclass(frozen=True)
class Reply:
    """One unary answer: status code, value (desired or activity; None unless OK), details."""

    code: grpc.StatusCode
    value: int | bool | None = None
    details: str = ""

    @property
    def ok(self) -> bool:
        """True for StatusCode.OK."""
        return self.code == grpc.StatusCode.OK


def scaled_ref(namespace: str, isvc: str, **metadata: str) -> pb.ScaledObjectRef:
    """The ScaledObjectRef KEDA sends for a ScaledObject `<isvc>-predictor` in `namespace`."""
    return pb.ScaledObjectRef(name=f"{isvc}-predictor", namespace=namespace,
                              scalerMetadata={"scalerAddress": "scaler:6000", **metadata})


class ServeProcess:
    """`python -m scaler serve` on free loopback ports; SIGTERM on exit (kill if it hangs)."""

    def __init__(self, config: Path, *, log_path: Path, warm_start_timeout_s: float = 5.0,
                 shutdown_grace_s: float = 2.0, extra_args: tuple[str, ...] = ()) -> None:
        self.config = config
        self.log_path = log_path
        self.grpc_port = free_port()
        self.http_port = free_port()
        self.args = [sys.executable, "-m", "scaler", "serve", "--config", str(config),
                     "--host", "127.0.0.1", "--grpc-port", str(self.grpc_port),
                     "--http-port", str(self.http_port),
                     "--warm-start-timeout", f"{warm_start_timeout_s:g}",
                     "--shutdown-grace", f"{shutdown_grace_s:g}", *extra_args]
        self.proc: subprocess.Popen[bytes] | None = None
        self._channel: grpc.Channel | None = None

    @property
    def grpc_target(self) -> str:
        """host:port of the gRPC server."""
        return f"127.0.0.1:{self.grpc_port}"

    @property
    def http_url(self) -> str:
        """Base URL of the HTTP endpoints."""
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def pid(self) -> int:
        """The process id (started)."""
        assert self.proc is not None
        return self.proc.pid

    def start(self) -> ServeProcess:
        """Spawn the process (returns at once; see wait_listening / wait_ready)."""
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(self.args, stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, cwd=REPO, env=env)
        return self

    def __enter__(self) -> ServeProcess:
        return self.start()

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def log_text(self) -> str:
        """Everything the process logged so far."""
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def _check_alive(self) -> None:
        if self.proc is not None and self.proc.poll() is not None:
            raise RuntimeError(f"scaler serve exited with {self.proc.returncode}:\n"
                               f"{self.log_text()[-3000:]}")

    def http(self, path: str, *, timeout_s: float = 2.0) -> tuple[int, str]:
        """(status, body) of GET path; status 0 when nothing listens yet."""
        try:
            with urllib.request.urlopen(self.http_url + path, timeout=timeout_s) as r:
                return int(r.status), r.read().decode()
        except urllib.error.HTTPError as e:
            return int(e.code), e.read().decode()
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return 0, ""

    def wait_listening(self, timeout_s: float = 20.0) -> None:
        """Until /healthz answers (the HTTP and gRPC servers are bound)."""
        def up() -> bool:
            self._check_alive()
            return self.http("/healthz")[0] == 200
        wait_until(up, timeout_s=timeout_s, what="scaler /healthz", poll_s=0.05)

    def wait_ready(self, timeout_s: float = 20.0) -> None:
        """Until /readyz answers 200 (a snapshot is served)."""
        def ready() -> bool:
            self._check_alive()
            return self.http("/readyz")[0] == 200
        wait_until(ready, timeout_s=timeout_s, what="scaler /readyz", poll_s=0.05)

    def status(self, isvc: str | None = None) -> dict[str, Any]:
        """The /status document (optionally of one `ns/name`)."""
        code, body = self.http("/status" + (f"?isvc={isvc}" if isvc else ""))
        assert code == 200, f"/status answered {code}"
        return dict(json.loads(body))

    def metric(self, name: str, **labels: str) -> float | None:
        """Value of one sample of /metrics (None if absent)."""
        return sample_value(self.http("/metrics")[1], name, **labels)

    @property
    def channel(self) -> grpc.Channel:
        """A (cached) insecure channel to the gRPC server."""
        if self._channel is None:
            self._channel = grpc.insecure_channel(self.grpc_target)
        return self._channel

    @property
    def stub(self) -> pb_grpc.ExternalScalerStub:
        """An ExternalScaler stub on `channel`."""
        return pb_grpc.ExternalScalerStub(self.channel)

    def desired(self, namespace: str, isvc: str, **metadata: str) -> Reply:
        """GetMetrics as KEDA's HPA path asks it."""
        req = pb.GetMetricsRequest(scaledObjectRef=scaled_ref(namespace, isvc, **metadata),
                                   metricName="desired-replicas")
        try:
            [value] = self.stub.GetMetrics(req, timeout=3).metricValues
        except grpc.RpcError as e:
            return Reply(e.code(), None, e.details() or "")
        assert value.metricValueFloat == float(value.metricValue)
        return Reply(grpc.StatusCode.OK, int(value.metricValue))

    def active(self, namespace: str, isvc: str, **metadata: str) -> Reply:
        """IsActive as KEDA's scale loop asks it."""
        try:
            result = self.stub.IsActive(scaled_ref(namespace, isvc, **metadata), timeout=3)
        except grpc.RpcError as e:
            return Reply(e.code(), None, e.details() or "")
        return Reply(grpc.StatusCode.OK, bool(result.result))

    def health(self, service: str = SERVICE) -> int:
        """grpc.health.v1 status of `service` (HealthCheckResponse enum value)."""
        stub = health_pb2_grpc.HealthStub(self.channel)
        reply = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=3)
        return int(reply.status)

    def terminate(self) -> None:
        """Send SIGTERM."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)

    def wait_exit(self, timeout_s: float) -> int:
        """Exit code, waiting at most `timeout_s` (TimeoutExpired if still running)."""
        assert self.proc is not None
        return self.proc.wait(timeout_s)

    def stop(self, timeout_s: float = 10.0) -> int | None:
        """SIGTERM, wait, kill if needed; close the channel. Returns the exit code."""
        if self._channel is not None:
            self._channel.close()
            self._channel = None
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout_s)
        return self.proc.returncode


def sample_value(text: str, name: str, **labels: str) -> float | None:
    """A sample of Prometheus exposition `text` whose labels include `labels` (None if absent)."""
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return float(s.value)
    return None


def wait_scraped(prom: PrometheusProcess, *keys: IsvcKey, samples: int = 2,
                 timeout_s: float = 15.0) -> None:
    """Until Prometheus holds ≥ `samples` kv-cache samples of every ISVC in `keys`."""
    def scraped() -> bool:
        for ns, name in keys:
            q = (f'count_over_time({{__name__=~"vllm[:_](kv_cache|gpu_cache)_usage_perc",'
                 f'namespace="{ns}",isvc="{name}"}}[30s])')
            if not any(float(r["value"][1]) >= samples for r in prom.query(q)):
                return False
        return True
    wait_until(scraped, timeout_s=timeout_s, what=f"{len(keys)} ISVCs scraped {samples}×")


def next_tick_boundary(interval_s: float, *, after_s: float = 0.1) -> float:
    """Sleep until `after_s` past the next multiple of `interval_s` (Unix time); returns it."""
    now = time.time()
    target = (math.floor(now / interval_s) + 1) * interval_s + after_s
    time.sleep(max(0.0, target - now))
    return target


class GatedProxy:
    """HTTP forwarder to an upstream Prometheus that holds every request until `open()`.

    Lets a test keep `scaler serve` in warm start (range queries pending) for as long as it
    wants, then release it, without touching the engine.
    """

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.gate = threading.Event()
        self.held = 0
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def _forward(self) -> None:
                proxy.held += 1
                proxy.gate.wait(60)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                req = urllib.request.Request(proxy.upstream + self.path, data=body,
                                             method=self.command)
                for key in ("Content-Type", "Accept"):
                    if self.headers.get(key):
                        req.add_header(key, self.headers[key])
                try:
                    with urllib.request.urlopen(req, timeout=30) as r:
                        status, data, ctype = r.status, r.read(), r.headers["Content-Type"]
                except urllib.error.HTTPError as e:
                    status, data, ctype = e.code, e.read(), e.headers["Content-Type"]
                self.send_response(status)
                self.send_header("Content-Type", ctype or "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _forward

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()

    @property
    def url(self) -> str:
        """Base URL to give the scaler instead of Prometheus'."""
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def open(self) -> None:
        """Let every held and future request through."""
        self.gate.set()

    def close(self) -> None:
        """Open the gate and stop serving."""
        self.gate.set()
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> GatedProxy:
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
