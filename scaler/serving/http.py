"""HTTP endpoints on one port: /healthz, /readyz, /status (JSON), /metrics (Prometheus).

A small WSGI app served from a daemon thread (stdlib wsgiref); it only reads the latest
snapshot reference, which the engine swaps atomically, so no lock is needed.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable
from socketserver import ThreadingMixIn
from typing import Any
from urllib.parse import parse_qs
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import make_wsgi_app

from scaler.engine.store import SnapshotStore
from scaler.metrics import ScalerMetrics

StartResponse = Callable[..., Any]


def status_document(store: SnapshotStore, *, isvc: str | None = None,
                    extra: Callable[[], dict[str, Any]] | None = None) -> dict[str, Any]:
    """The /status JSON: snapshot header plus one object per ISVC (optionally one `ns/name`);
    `extra()` adds top-level keys (with `--kubernetes`: `kubernetes`)."""
    added = extra() if extra is not None else {}
    snap = store.snapshot
    now_s = store.now_s()
    if snap is None:
        return {"ready": store.ready, "stale": True, "tick_s": None, "isvcs": [], **added}
    age_s = snap.age_s(now_s)
    if isvc:   # one ISVC: a lookup, not a sort of thousands
        ns, _, name = isvc.partition("/")
        entry = snap.entries.get((ns, name))
        entries = [entry] if entry is not None else []
    else:
        entries = sorted(snap.entries.values(), key=lambda e: (e.namespace, e.isvc))
    return {
        "ready": store.ready,
        "stale": store.is_stale(),
        "tick_s": snap.tick_s,
        "age_s": round(age_s, 3),
        "generation": snap.generation,
        "errors": dict(snap.errors),
        "isvcs": [e.as_json(age_s=age_s) for e in entries],
        **added,
    }


class HttpApp:
    """WSGI application routing the four endpoints."""

    def __init__(self, *, store: SnapshotStore, metrics: ScalerMetrics,
                 alive: Callable[[], bool] = lambda: True,
                 status_extra: Callable[[], dict[str, Any]] | None = None) -> None:
        self._store = store
        self._extra = status_extra
        self._alive = alive
        self._metrics_app = make_wsgi_app(metrics.registry)
        metrics.snapshot_age.set_function(self._snapshot_age)

    def _snapshot_age(self) -> float:
        snap = self._store.snapshot
        return float("nan") if snap is None else snap.age_s(self._store.now_s())

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "/")
        if path == "/metrics":
            return self._metrics_app(environ, start_response)  # type: ignore[no-any-return]
        if path == "/healthz":
            return _text(start_response, 200 if self._alive() else 503, "ok\n")
        if path == "/readyz":
            ready = self._store.ready
            return _text(start_response, 200 if ready else 503,
                         "ready\n" if ready else "warming up\n")
        if path == "/status":
            query = parse_qs(environ.get("QUERY_STRING", ""))
            doc = status_document(self._store, isvc=(query.get("isvc") or [None])[0],
                                  extra=self._extra)
            body = json.dumps(doc, indent=1).encode()
            start_response("200 OK", [("Content-Type", "application/json"),
                                      ("Content-Length", str(len(body)))])
            return [body]
        return _text(start_response, 404, "not found: try /status, /metrics, /healthz, /readyz\n")


def _text(start_response: StartResponse, code: int, text: str) -> Iterable[bytes]:
    reason = {200: "OK", 404: "Not Found", 503: "Service Unavailable"}[code]
    body = text.encode()
    start_response(f"{code} {reason}", [("Content-Type", "text/plain; charset=utf-8"),
                                        ("Content-Length", str(len(body)))])
    return [body]


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Access logs stay off (probes every few seconds would flood the log)."""


class HttpServer:
    """The HTTP server on a daemon thread; port 0 picks a free port."""

    def __init__(self, app: HttpApp, *, host: str, port: int) -> None:
        self._server = make_server(host, port, app, server_class=_ThreadingServer,
                                   handler_class=_QuietHandler)
        self.port = self._server.server_port
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        name="http", daemon=True)

    def start(self) -> None:
        """Begin serving in the background."""
        self._thread.start()

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._server.shutdown()
        self._server.server_close()
