"""TextExporter: serve a fixed exposition text (e.g. /work/shared/fixtures/*.txt) on loopback,
with counters and histograms growing linearly so that rate() sees traffic (dev/test).

Every sample of a `counter` or `histogram` family is multiplied by 1 + (t - t_start)/growth_s,
so rate(x) = x_fixture / growth_s and ratios between buckets stay those of the fixture (a
histogram_quantile over rates equals the quantile of the fixture's own bucket counts).
A capture's own timestamps are dropped; growing samples get the render time as explicit
timestamp instead, so rate() is exact whatever the scrape jitter (the exporter never removes
series, so the lack of staleness markers for timestamped samples does not matter).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

from scaler.devtools.prometheus import ScrapeTarget

_SUFFIXES = ("", "_total", "_bucket", "_count", "_sum")


def parse_lines(text: str) -> list[tuple[str, float | None, bool]]:
    """(sample text up to the value, value, grows) per line; comments kept with value None."""
    kinds: dict[str, str] = {}
    out: list[tuple[str, float | None, bool]] = []
    for line in text.splitlines():
        if not line.strip():
            continue
        if line.startswith("#"):
            parts = line.split()
            if len(parts) >= 4 and parts[1] == "TYPE":
                kinds[parts[2]] = parts[3]
            out.append((line + "\n", None, False))
            continue
        end = line.rindex("}") + 1 if "{" in line else line.index(" ")
        name = line[: line.index("{")] if "{" in line else line[:end]
        value = float(line[end:].split()[0])
        grows = any(kinds.get(name.removesuffix(s)) in ("counter", "histogram")
                    for s in _SUFFIXES if name.endswith(s))
        out.append((line[:end] + " ", value, grows))
    return out


class TextExporter:
    """Serves `text` at /metrics on 127.0.0.1:<free port>; context manager."""

    def __init__(self, text: str, *, growth_s: float = 100.0,
                 clock: Callable[[], float] = time.time) -> None:
        self._lines = parse_lines(text)
        self._growth_s = growth_s
        self._clock = clock
        self.start_s = clock()
        exporter = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = exporter.render().encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()

    def factor(self, t_s: float) -> float:
        """The multiplier of growing samples at `t_s`."""
        return 1.0 + (t_s - self.start_s) / self._growth_s

    def render(self) -> str:
        """The text with growing samples scaled to now."""
        ms = round(self._clock() * 1000)
        k = self.factor(ms / 1000)
        return "".join(
            head if value is None else f"{head}{value * k!r} {ms}\n" if grows
            else f"{head}{value!r}\n"
            for head, value, grows in self._lines)

    @property
    def address(self) -> str:
        """host:port."""
        return f"127.0.0.1:{self._server.server_address[1]}"

    def target(self, *, job: str, honor_labels: bool = True, **labels: str) -> ScrapeTarget:
        """A ScrapeTarget for this exporter with the given target labels."""
        return ScrapeTarget(self.address, labels=labels, honor_labels=honor_labels, job=job)

    def close(self) -> None:
        """Stop serving."""
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> TextExporter:
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
