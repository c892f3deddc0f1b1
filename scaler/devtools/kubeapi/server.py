"""The emulated API server over real HTTP (see scaler.devtools.kubeapi)."""

from __future__ import annotations

import base64
import contextlib
import copy
import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import yaml

from scaler.devtools.kubeapi.store import RESOURCES, ApiError, Request, Resource, Store, matches


class ApiServer:
    """The emulated API server; `with ApiServer() as api:` or start()/stop()."""

    def __init__(self, *, bookmark_interval_s: float = 0.5) -> None:
        self.store = Store()
        self.log: list[Request] = []
        self.bookmark_interval_s = bookmark_interval_s
        self.port = 0
        self._server: ThreadingHTTPServer | None = None
        self._conns: set[socket.socket] = set()
        self._lock = threading.Lock()
        self.paused = threading.Event()

    def __enter__(self) -> ApiServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        api = self

        class Handler(_Handler):
            server_api = api

        server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        server.daemon_threads = True
        server.allow_reuse_address = True
        self.port = server.server_address[1]
        self._server = server
        self.paused.clear()
        threading.Thread(target=server.serve_forever, name="apiserver", daemon=True).start()

    def stop(self) -> None:
        """Go away: close the listener and cut every open connection (watches included)."""
        self.paused.set()
        with self.store.cond:
            self.store.cond.notify_all()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        with self._lock:
            conns, self._conns = set(self._conns), set()
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)

    pause = stop

    def resume(self) -> None:
        """Come back on the same port with the same state."""
        self.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def kubeconfig(self, path: Path) -> Path:
        """A kubeconfig for the real client pointing here."""
        doc = {"apiVersion": "v1", "kind": "Config", "current-context": "emulated",
               "clusters": [{"name": "emulated", "cluster": {"server": self.url}}],
               "users": [{"name": "scaler", "user": {"token": "emulated-token"}}],
               "contexts": [{"name": "emulated",
                             "context": {"cluster": "emulated", "user": "scaler"}}]}
        path.write_text(yaml.safe_dump(doc))
        return path

    # test-side helpers (no HTTP): every change makes watch events like a real write
    def put(self, plural: str, obj: dict[str, Any]) -> dict[str, Any]:
        """Create or replace `obj` (no resourceVersion check)."""
        meta = obj["metadata"]
        key = (plural, meta.get("namespace", ""), meta["name"])
        if key in self.store.objects:
            return self.store.update(plural, key[1], key[2], copy.deepcopy(obj), check_rv=False)
        return self.store.create(plural, copy.deepcopy(obj))

    def get(self, plural: str, ns: str, name: str) -> dict[str, Any] | None:
        with self.store.cond:
            obj = self.store.objects.get((plural, ns, name))
            return copy.deepcopy(obj) if obj is not None else None

    def delete(self, plural: str, ns: str, name: str) -> None:
        self.store.delete(plural, ns, name)

    def writes(self, resource: str) -> list[Request]:
        return [r for r in self.log if r.resource == resource
                and r.verb in ("create", "update", "patch", "delete")]

    def _track(self, conn: socket.socket, add: bool) -> None:
        with self._lock:
            (self._conns.add if add else self._conns.discard)(conn)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_api: ApiServer

    def setup(self) -> None:
        super().setup()
        self.server_api._track(self.connection, True)

    def finish(self) -> None:
        self.server_api._track(self.connection, False)
        with contextlib.suppress(OSError):
            super().finish()

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_PUT(self) -> None:
        self._serve("PUT")

    def do_PATCH(self) -> None:
        self._serve("PATCH")

    def do_DELETE(self) -> None:
        self._serve("DELETE")

    def _route(self) -> tuple[Resource, str, str, dict[str, str]]:
        url = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        parts = [p for p in url.path.split("/") if p]
        if parts[:2] == ["api", "v1"]:
            group, rest = "", parts[2:]
        elif parts[:1] == ["apis"] and len(parts) >= 3:
            group, rest = parts[1], parts[3:]
        else:
            raise ApiError(404, "NotFound", f"no route {url.path}")
        ns = ""
        if rest[:1] == ["namespaces"] and len(rest) >= 3:
            ns, rest = rest[1], rest[2:]
        res = RESOURCES.get(rest[0]) if rest else None
        if res is None or res.group != group or len(rest) > 2:
            raise ApiError(404, "NotFound", f"the server could not find {url.path}")
        return res, ns, rest[1] if len(rest) == 2 else "", query

    def _body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        return json.loads(self.rfile.read(length)) if length else {}

    def _serve(self, method: str) -> None:
        api = self.server_api
        try:
            res, ns, name, query = self._route()
            watch = query.get("watch") in ("1", "true")
            verb = {"GET": "watch" if watch else ("get" if name else "list"), "POST": "create",
                    "PUT": "update", "PATCH": "patch", "DELETE": "delete"}[method]
            api.log.append(Request(verb, res.group, res.plural, ns, name,
                                   self.headers.get("User-Agent", ""),
                                   query.get("fieldSelector", "")))
            body: dict[str, Any] = self._body() if method != "GET" else {}
            store = api.store
            if verb == "watch":
                self._watch(res, ns, query)
                return
            if verb == "list":
                self._send(200, self._list(res, ns, query))
            elif verb == "get":
                with store.cond:
                    self._send(200, copy.deepcopy(store.get(res.plural, ns, name)))
            elif verb == "create":
                body.setdefault("metadata", {})["namespace"] = ns
                self._send(201, store.create(res.plural, body))
            elif verb == "update":
                self._send(200, store.update(res.plural, ns, name, body))
            elif verb == "patch":
                kind = self.headers.get("Content-Type", "")
                if kind != "application/merge-patch+json":
                    raise ApiError(415, "UnsupportedMediaType", f"emulated: {kind}")
                self._send(200, store.patch(res.plural, ns, name, body))
            else:
                self._send(200, store.delete(res.plural, ns, name,
                                             body.get("preconditions")))
        except ApiError as e:
            self._send(e.code, e.status())

    def _list(self, res: Resource, ns: str, query: dict[str, str]) -> dict[str, Any]:
        store = self.server_api.store
        with store.cond:
            token = query.get("continue")
            offset, rv = 0, store.rv
            if token:
                offset, rv = json.loads(base64.b64decode(token))
                if rv < store.compacted:
                    raise ApiError(410, "Expired", "the continue token has expired")
            items = sorted((o for (p, _, _), o in store.objects.items() if p == res.plural
                            and matches(o, ns, query.get("labelSelector", ""),
                                         query.get("fieldSelector", ""))),
                           key=lambda o: (o["metadata"].get("namespace", ""),
                                          o["metadata"]["name"]))
            limit = int(query.get("limit") or 0) or len(items) + 1
            page = items[offset:offset + limit]
            meta: dict[str, Any] = {"resourceVersion": str(store.rv)}
            if offset + limit < len(items):
                meta["continue"] = base64.b64encode(
                    json.dumps([offset + limit, rv]).encode()).decode()
            return {"kind": f"{res.kind}List", "apiVersion": res.api_version,
                    "metadata": meta, "items": copy.deepcopy(page)}

    def _watch(self, res: Resource, ns: str, query: dict[str, str]) -> None:
        api, store = self.server_api, self.server_api.store
        labels, fields = query.get("labelSelector", ""), query.get("fieldSelector", "")
        deadline = time.monotonic() + float(query.get("timeoutSeconds") or 1800)
        bookmarks = query.get("allowWatchBookmarks") in ("1", "true")
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        since = query.get("resourceVersion") or ""
        try:
            with store.cond:
                if since and since != "0" and int(since) < store.compacted:
                    self._chunk({"type": "ERROR", "object": ApiError(
                        410, "Expired", f"too old resource version: {since} "
                        f"({store.compacted})").status()})
                    return
                pending: list[tuple[str, dict[str, Any]]]
                if not since or since == "0":
                    cursor = store.rv
                    initial = [("ADDED", o) for (p, _, _), o in sorted(store.objects.items())
                               if p == res.plural and matches(o, ns, labels, fields)]
                    pending = copy.deepcopy(initial)
                else:
                    cursor = int(since)
                    pending = []
            for kind, obj in pending:
                self._chunk({"type": kind, "object": obj})
            next_bookmark = time.monotonic() + api.bookmark_interval_s
            while not api.paused.is_set() and time.monotonic() < deadline:
                with store.cond:
                    if store.dropped.get(res.plural, 0) > cursor:
                        self._chunk({"type": "ERROR", "object": ApiError(
                            410, "Expired", f"too old resource version: {cursor} "
                            f"({store.compacted})").status()})
                        return
                    events = [(rv, k, o) for rv, k, p, o in store.events
                              if rv > cursor and p == res.plural]
                    seen_rv = store.rv
                    if events:
                        cursor = events[-1][0]
                    elif not api.paused.is_set():
                        store.cond.wait(min(0.2, api.bookmark_interval_s))
                for _, kind, obj in events:
                    if matches(obj, ns, labels, fields):
                        self._chunk({"type": kind, "object": obj})
                if bookmarks and time.monotonic() >= next_bookmark:
                    next_bookmark = time.monotonic() + api.bookmark_interval_s
                    cursor = max(cursor, seen_rv)
                    self._chunk({"type": "BOOKMARK", "object": {
                        "kind": res.kind, "apiVersion": res.api_version,
                        "metadata": {"resourceVersion": str(cursor)}}})
        finally:
            try:
                self.wfile.write(b"0\r\n\r\n")
                self.wfile.flush()
            except OSError:
                pass
            self.close_connection = True

    def _chunk(self, event: dict[str, Any]) -> None:
        data = json.dumps(event).encode() + b"\n"
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _send(self, code: int, doc: dict[str, Any]) -> None:
        data = json.dumps(doc).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
