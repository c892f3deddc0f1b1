"""A scriptable fake of the Prometheus HTTP API on loopback (for bad-answer tests)."""

from __future__ import annotations

import json
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Seen:
    """One request the fake received."""

    path: str
    params: dict[str, str]
    headers: dict[str, str]


Reply = tuple[int, bytes]
Behaviour = Callable[[Seen], Reply]


def vector(*samples: tuple[str, str, str]) -> Reply:
    """200 with a vector result of (namespace, isvc, value) samples."""
    result = [{"metric": {"namespace": ns, "isvc": i}, "value": [0, v]} for ns, i, v in samples]
    return 200, json.dumps({"status": "success",
                            "data": {"resultType": "vector", "result": result}}).encode()


@dataclass
class FakeApi:
    """Serves `behaviour(seen)` for every request; `release` unblocks slow behaviours."""

    behaviour: Behaviour = field(default=lambda seen: vector())
    seen: list[Seen] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)
    tls: tuple[Path, Path, Path | None] | None = None  # cert, key, client CA

    def __post_init__(self) -> None:
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                seen = Seen(parts.path, {k: v[0] for k, v in parse_qs(parts.query).items()},
                            {k.lower(): v for k, v in self.headers.items()})
                api.seen.append(seen)
                status, body = api.behaviour(seen)
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        if self.tls is not None:
            cert, key, client_ca = self.tls
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(cert, key)
            if client_ca is not None:
                ctx.load_verify_locations(client_ca)
                ctx.verify_mode = ssl.CERT_REQUIRED
            self.server.socket = ctx.wrap_socket(self.server.socket, server_side=True)
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    @property
    def url(self) -> str:
        scheme = "https" if self.tls else "http"
        return f"{scheme}://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()
