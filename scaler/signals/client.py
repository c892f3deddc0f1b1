"""Prometheus HTTP API client (I/O): auth, TLS, tenant headers, API prefix, timeouts, chunking.

Wraps prometheus-api-client's `PrometheusConnect` (blocking; call it off the event loop with
`asyncio.to_thread`). Every failure is raised as `SignalError(cause_kind=...)` from the
transport error; cause kinds: `timeout`, `connection`, `tls`, `credentials`, `http_4xx`,
`http_5xx`, `malformed`. Secrets (token, password) never appear in messages or logs.
"""

from __future__ import annotations

import ast
import json
import math
import os
import re
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests
import requests.auth
from prometheus_api_client import PrometheusConnect
from prometheus_api_client.exceptions import PrometheusApiClientException
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from scaler.config.model import PrometheusConfig
from scaler.errors import SignalError

MAX_POINTS_PER_SERIES = 11_000
"""Prometheus rejects a range query with more than this many steps per series."""

_STATUS = re.compile(r"HTTP Status Code (\d{3}) \((.*)\)\s*$", re.S)


PrometheusSettings = PrometheusConfig
"""What the client reads: policy.yaml's `prometheus:` section."""


class _CredentialsError(Exception):
    """A token or password file could not be read (raised inside the auth hook)."""


class FileAuth(requests.auth.AuthBase):
    """Bearer token or basic auth whose secret is read from a file, re-read when it changes.

    The file's (inode, mtime, size) is checked on every request, so a rotated Kubernetes
    service-account token or a remounted Secret is picked up without restart.
    """

    def __init__(
        self, *, token_file: str | None = None, username: str | None = None,
        password_file: str | None = None,
    ) -> None:
        self._token_file = token_file
        self._username = username
        self._password_file = password_file
        self._lock = threading.Lock()
        self._cache: tuple[tuple[int, int, int], str] | None = None

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        if self._token_file:
            r.headers["Authorization"] = "Bearer " + self._secret(self._token_file)
        elif self._username is not None:
            password = self._secret(self._password_file) if self._password_file else ""
            return requests.auth.HTTPBasicAuth(self._username, password)(r)
        return r

    def _secret(self, path: str) -> str:
        try:
            st = os.stat(path)
            stamp = (st.st_ino, st.st_mtime_ns, st.st_size)
            with self._lock:
                if self._cache is not None and self._cache[0] == stamp:
                    return self._cache[1]
                with open(path, encoding="utf-8") as f:
                    secret = f.read().strip()
                self._cache = (stamp, secret)
                return secret
        except OSError as e:
            raise _CredentialsError(f"cannot read {path}: {e.strerror or e}") from e


def redact_url(url: str) -> str:
    """`url` without user:password (for messages and logs)."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))


def range_chunks(
    *, start_s: float, end_s: float, step_s: float, max_points: int = 10_000
) -> list[tuple[float, float]]:
    """Split [start_s, end_s] on the grid start_s + k·step_s into pieces of ≤ max_points.

    Example: start 0, end 25, step 10, max_points 2 → [(0, 10), (20, 20)] (grid 0, 10, 20).
    """
    if not (step_s > 0 and math.isfinite(step_s)) or max_points < 1:
        raise ValueError(f"step_s = {step_s}, must be > 0 (max_points = {max_points} ≥ 1)")
    if end_s < start_s:
        return []
    steps = math.floor((end_s - start_s) / step_s + 1e-9)
    chunks = []
    for first in range(0, steps + 1, max_points):
        last = min(first + max_points - 1, steps)
        chunks.append((start_s + first * step_s, start_s + last * step_s))
    return chunks


class PromClient:
    """Instant and range queries against one Prometheus-compatible API (thread-safe)."""

    def __init__(
        self, cfg: PrometheusSettings, *, pool_size: int = 16,
        max_points: int = 10_000,
    ) -> None:
        self.timeout_s = float(cfg.timeout_s)
        self.max_points = min(max_points, MAX_POINTS_PER_SERIES)
        self.base_url = cfg.url.rstrip("/") + _prefix(cfg.path_prefix)
        self.display_url = redact_url(self.base_url)
        session = requests.Session()
        session.verify = False if cfg.insecure_skip_verify else (cfg.ca_file or True)
        if cfg.cert_file:
            session.cert = (cfg.cert_file, cfg.key_file) if cfg.key_file else cfg.cert_file
        auth = None
        if cfg.bearer_token_file or cfg.basic_auth_username is not None:
            auth = FileAuth(token_file=cfg.bearer_token_file, username=cfg.basic_auth_username,
                            password_file=cfg.basic_auth_password_file)
        self._conn = PrometheusConnect(
            url=self.base_url, headers=dict(cfg.headers) or None, session=session, auth=auth,
            timeout=self.timeout_s)  # type: ignore[arg-type]
        adapter = HTTPAdapter(max_retries=Retry(total=0, read=False), pool_connections=2,
                              pool_maxsize=pool_size)
        session.mount(self.base_url, adapter)
        self._session = session

    def close(self) -> None:
        """Release pooled connections."""
        self._session.close()

    def query(self, q: str, *, time_s: float) -> list[dict[str, Any]]:
        """Instant query evaluated at `time_s` (Unix s): the API's `result` list."""
        params = {"time": _ts(time_s), "timeout": f"{self.timeout_s:g}"}
        return self._call(lambda: self._conn.custom_query(q, params=params))

    def query_range(
        self, q: str, *, start_s: float, end_s: float, step_s: float
    ) -> list[dict[str, Any]]:
        """Range query on the grid start_s + k·step_s ≤ end_s, chunked under Prometheus' limit
        of 11,000 points per series; chunks are merged per series (values in time order)."""
        merged: dict[tuple[tuple[str, str], ...], dict[str, Any]] = {}
        for lo, hi in range_chunks(start_s=start_s, end_s=end_s, step_s=step_s,
                                   max_points=self.max_points):
            result = self._call(partial(self._range_chunk, q, lo, hi, step_s))
            for series in result:
                if not isinstance(series, dict) or not isinstance(series.get("values"), list):
                    raise SignalError("range query returned a non-matrix result",
                                      cause_kind="malformed")
                key = tuple(sorted(series.get("metric", {}).items()))
                slot = merged.setdefault(key, {"metric": series.get("metric", {}), "values": []})
                slot["values"].extend(series["values"])
        return list(merged.values())

    def _range_chunk(self, q: str, lo_s: float, hi_s: float, step_s: float) -> Any:
        # exact float start/end in `params` override the library's rounding to whole seconds
        params = {"start": _ts(lo_s), "end": _ts(hi_s), "timeout": f"{self.timeout_s:g}"}
        return self._conn.custom_query_range(
            q, start_time=_dt(lo_s), end_time=_dt(hi_s), step=f"{step_s:g}", params=params)

    def _call(self, fn: Callable[[], Any]) -> list[dict[str, Any]]:
        try:
            result = fn()
        except requests.exceptions.Timeout as e:
            raise SignalError(f"no answer from {self.display_url} within {self.timeout_s:g}s",
                              cause_kind="timeout") from e
        except requests.exceptions.SSLError as e:
            raise SignalError(f"TLS error talking to {self.display_url}: {_short(e)}",
                              cause_kind="tls") from e
        except requests.exceptions.ConnectionError as e:
            raise SignalError(f"cannot connect to {self.display_url}: {_short(e)}",
                              cause_kind="connection") from e
        except _CredentialsError as e:
            raise SignalError(str(e), cause_kind="credentials") from e
        except PrometheusApiClientException as e:
            raise _http_error(e) from e
        except (ValueError, KeyError, TypeError) as e:
            raise SignalError(f"malformed answer from {self.display_url}: {_short(e)}",
                              cause_kind="malformed") from e
        except requests.exceptions.RequestException as e:
            raise SignalError(f"request to {self.display_url} failed: {_short(e)}",
                              cause_kind="connection") from e
        if not isinstance(result, list):
            raise SignalError(f"malformed answer from {self.display_url}: result is not a list",
                              cause_kind="malformed")
        return result


def _http_error(e: PrometheusApiClientException) -> SignalError:
    """SignalError for a non-200 answer, with Prometheus' own `error` text when present."""
    m = _STATUS.match(str(e))
    if not m:
        return SignalError(_short(e), cause_kind="http")
    status = int(m.group(1))
    try:
        detail = _decode_body(m.group(2))
    except (ValueError, SyntaxError):
        detail = m.group(2)
    try:
        body = json.loads(detail)
        detail = f"{body.get('errorType', '')}: {body.get('error', '')}".strip(": ")
    except (ValueError, AttributeError):
        detail = detail[:200]
    kind = "http_4xx" if 400 <= status < 500 else "http_5xx" if status >= 500 else "http"
    return SignalError(f"HTTP {status}: {detail}", cause_kind=kind)


def _decode_body(text: str) -> str:
    """Decode the `repr(bytes)` that prometheus-api-client puts in its message."""
    value = ast.literal_eval(text)
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _short(e: BaseException, limit: int = 200) -> str:
    text = str(e) or type(e).__name__
    return text if len(text) <= limit else text[:limit] + "…"


def _prefix(path_prefix: str) -> str:
    p = path_prefix.strip().strip("/")
    return f"/{p}" if p else ""


def _ts(t_s: float) -> str:
    return f"{t_s:.3f}"


def _dt(t_s: float) -> datetime:
    return datetime.fromtimestamp(t_s, tz=UTC)
