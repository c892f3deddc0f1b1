"""PrometheusProcess: the real `prometheus` binary on a free loopback port, temp TSDB (dev/test).

    with PrometheusProcess([ScrapeTarget("127.0.0.1:9100", labels={"env": "t"})]) as prom:
        prom.wait_scraped()            # every target scraped at least twice
        requests.get(prom.url + "/api/v1/query", params={"query": "up"})

`stop()` then `start()` restarts on the same port and TSDB (for Prometheus-down tests);
`set_targets()` rewrites the config and reloads it (POST /-/reload, SIGHUP as fallback).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import yaml

DEFAULT_BINARY = "/usr/bin/prometheus"


@dataclass(frozen=True)
class ScrapeTarget:
    """One scrape job: `address` host:port, extra target `labels`, honour exported labels."""

    address: str
    labels: Mapping[str, str] = field(default_factory=dict)
    metrics_path: str = "/metrics"
    honor_labels: bool = True
    job: str = ""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PrometheusProcess:
    """A real Prometheus (config, TSDB and log in a temp dir removed by `close`)."""

    def __init__(
        self, targets: Sequence[ScrapeTarget] = (), *, scrape_interval_s: float = 1.0,
        binary: str = DEFAULT_BINARY, lookback_delta_s: float | None = None,
        port: int | None = None, extra_args: Sequence[str] = (),
        env: Mapping[str, str] | None = None, nice: int = 0,
        rule_files: Sequence[str | Path] = (),
    ) -> None:
        if not (os.path.isfile(binary) and os.access(binary, os.X_OK)):
            raise FileNotFoundError(f"prometheus binary not found at {binary} "
                                    "(Debian package `prometheus`; `make prometheus`)")
        self.binary = binary
        self.scrape_interval_s = scrape_interval_s
        self.lookback_delta_s = lookback_delta_s
        self.extra_args = tuple(extra_args)
        self.env = dict(env or {})
        self.nice = nice
        self.port = port or free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="scaler-prom-"))
        self.data_dir = self.dir / "data"
        self.config_path = self.dir / "prometheus.yml"
        self.log_path = self.dir / "prometheus.log"
        self._targets = tuple(targets)
        self.rule_files = tuple(str(Path(f).resolve()) for f in rule_files)
        self._proc: subprocess.Popen[bytes] | None = None
        self._write_config()

    @property
    def url(self) -> str:
        """Base URL, e.g. http://127.0.0.1:39213."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        """The running server's process id (RuntimeError if not running)."""
        if self._proc is None:
            raise RuntimeError("prometheus is not running")
        return self._proc.pid

    @property
    def running(self) -> bool:
        """True while the process is alive."""
        return self._proc is not None and self._proc.poll() is None

    def __enter__(self) -> PrometheusProcess:
        return self.start()

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def start(self, timeout_s: float = 30.0) -> PrometheusProcess:
        """Start (or restart, same port and TSDB) and wait until /-/ready answers 200."""
        if self.running:
            return self
        args = ["nice", "-n", str(self.nice)] if self.nice else []
        args += [self.binary, f"--config.file={self.config_path}",
                f"--storage.tsdb.path={self.data_dir}",
                f"--web.listen-address=127.0.0.1:{self.port}", "--web.enable-lifecycle",
                "--log.level=warn", *self.extra_args]
        if self.lookback_delta_s is not None:
            args.append(f"--query.lookback-delta={self.lookback_delta_s:g}s")
        log = open(self.log_path, "ab")  # noqa: SIM115 (owned by the child)
        self._proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT,
                                      stdin=subprocess.DEVNULL, cwd=self.dir,
                                      env={**os.environ, **self.env})
        log.close()
        self._wait_ready(timeout_s)
        return self

    def stop(self, timeout_s: float = 10.0) -> None:
        """Terminate (SIGTERM), wait, then kill if it does not exit in time."""
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout_s)

    def close(self) -> None:
        """Stop and remove the temp dir (config, TSDB, log)."""
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def set_targets(self, targets: Sequence[ScrapeTarget]) -> None:
        """Replace the scrape targets and reload the config (if running)."""
        self._targets = tuple(targets)
        self._write_config()
        if self.running:
            self.reload()

    def reload(self) -> None:
        """Reload the config: POST /-/reload (SIGHUP if the lifecycle API does not answer)."""
        try:
            req = urllib.request.Request(self.url + "/-/reload", method="POST")
            with urllib.request.urlopen(req, timeout=10) as r:
                r.read()
        except (urllib.error.URLError, OSError):
            if self._proc is not None:
                self._proc.send_signal(signal.SIGHUP)

    def query(self, q: str, *, time_s: float | None = None) -> list[dict[str, Any]]:
        """Instant query (for test set-up; the scaler uses scaler.signals.client.PromClient)."""
        params = {"query": q} | ({"time": f"{time_s:.3f}"} if time_s is not None else {})
        url = self.url + "/api/v1/query?" + urllib.parse.urlencode(params)
        with urllib.request.urlopen(url, timeout=10) as r:
            body = json.loads(r.read())
        return list(body["data"]["result"])

    def wait_scraped(self, *, scrapes: int = 2, timeout_s: float = 30.0) -> None:
        """Wait until every target is up and has been scraped ≥ `scrapes` times."""
        want = len(self._targets)
        window = f"{max(2.0, (scrapes + 2) * self.scrape_interval_s):g}s"
        q = f"count_over_time(up[{window}]) >= {scrapes} and up == 1"
        self.wait_until(lambda: len(self.query(q)) >= want, timeout_s=timeout_s,
                        what=f"{want} targets scraped {scrapes}×")

    def wait_until(self, predicate: Any, *, timeout_s: float = 30.0, what: str = "") -> None:
        """Poll `predicate()` every 0.1 s until true; TimeoutError with the log tail if not."""
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                if predicate():
                    return
            except (urllib.error.URLError, OSError, KeyError, ValueError):
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"prometheus: {what or 'condition'} not reached in "
                                   f"{timeout_s:g}s\n{self.log_tail()}")
            time.sleep(0.1)

    def log_tail(self, lines: int = 20) -> str:
        """The last lines of Prometheus' log (for error messages)."""
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def _wait_ready(self, timeout_s: float) -> None:
        def ready() -> bool:
            if not self.running:
                raise RuntimeError(f"prometheus exited:\n{self.log_tail()}")
            with urllib.request.urlopen(self.url + "/-/ready", timeout=2) as r:
                return bool(r.status == 200)

        self.wait_until(ready, timeout_s=timeout_s, what="/-/ready")

    def _write_config(self) -> None:
        interval = f"{self.scrape_interval_s:g}s"
        jobs = []
        for i, t in enumerate(self._targets):
            jobs.append({
                "job_name": t.job or f"target-{i}",
                "metrics_path": t.metrics_path,
                "honor_labels": t.honor_labels,
                "static_configs": [{"targets": [t.address], "labels": dict(t.labels)}],
            })
        config = {
            "global": {"scrape_interval": interval, "scrape_timeout": interval,
                       "evaluation_interval": interval},
            "scrape_configs": jobs,
        }
        if self.rule_files:
            config["rule_files"] = list(self.rule_files)
        tmp = self.config_path.with_suffix(".tmp")
        tmp.write_text(yaml.safe_dump(config, sort_keys=False))
        tmp.replace(self.config_path)
