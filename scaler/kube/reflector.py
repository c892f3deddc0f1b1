"""List-then-watch of one resource into an in-memory store, on its own thread.

    list (paged, `limit`) → store replaced, resourceVersion R
    watch from R (bookmarks on) → ADDED / MODIFIED / DELETED applied, R advanced, BOOKMARK
                                  advances R; the server ends the watch after `timeoutSeconds`
                                  → watch again from R (no list)
    410 Gone (too old R, as a status or an ERROR event) → list again
    any other error → out of sync, jittered exponential back-off (bounded), then list again

`synced` is True from a successful list, or from the first event or bookmark of a watch
resumed from R after an error (not on the reconnect alone: a 410 may be its first line),
until the next error: readers use the store only while it is. The store keeps reduced records
(scaler.kube.objects), so memory is O(objects). `stop()` ends the thread promptly by closing
the open stream.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from kubernetes.client.exceptions import ApiException
from kubernetes.watch.watch import iter_resp_lines

from scaler.kube.objects import ObjectKey, key_of
from scaler.kube.timing import Backoff, WatchTiming

log = logging.getLogger(__name__)

Lister = Callable[..., Any]
"""A kubernetes-client list function with its path arguments bound (watch via `watch=True`)."""


class _Gone(Exception):
    """The resourceVersion is too old (HTTP 410): list again."""


class Reflector:
    """Keeps `store` = {(namespace, name): reduce(object)} for one list/watch, in sync."""

    def __init__(self, name: str, lister: Lister, *,
                 reduce: Callable[[Mapping[str, Any]], Any], timing: WatchTiming | None = None,
                 on_change: Callable[[], None] = lambda: None,
                 on_event: Callable[[str, str], None] = lambda resource, what: None) -> None:
        self.name = name
        self._list = lister
        self._reduce = reduce
        self._timing = timing = timing or WatchTiming()
        self._on_change = on_change
        self._on_event = on_event
        self._lock = threading.Lock()
        self._store: dict[ObjectKey, Any] = {}
        self._fences: dict[ObjectKey, int] = {}
        self.resource_version: str | None = None
        self.synced = False
        self.version = 0
        self.last_error = ""
        self._stop = threading.Event()
        self._response: Any = None
        self._thread: threading.Thread | None = None
        self._backoff = Backoff(timing.backoff_base_s, timing.backoff_cap_s)

    def __len__(self) -> int:
        return len(self._store)

    def items(self) -> dict[ObjectKey, Any]:
        """A copy of the store."""
        with self._lock:
            return dict(self._store)

    def upsert(self, obj: Mapping[str, Any]) -> None:
        """Apply an object the scaler just wrote. Watch events for it that are older than
        this write (still in flight) are then ignored, so the next round does not see a
        stale object and write again."""
        self._fence(key_of(obj), _rv(obj))
        self._apply("MODIFIED", obj)

    def forget(self, key: ObjectKey, resource_version: str = "") -> None:
        """Drop an object the scaler just deleted (at `resource_version`); older watch
        events for it are then ignored."""
        rv = _rv({"metadata": {"resourceVersion": resource_version}})
        self._fence(key, None if rv is None else rv + 1)
        self._apply("DELETED", {"metadata": {"namespace": key[0], "name": key[1]}})

    def _fence(self, key: ObjectKey, rv: int | None) -> None:
        with self._lock:
            if rv is not None:
                self._fences[key] = rv

    def start(self) -> None:
        """Run `run()` on a daemon thread."""
        self._thread = threading.Thread(target=self.run, name=f"watch-{self.name}", daemon=True)
        self._thread.start()

    def stop(self, *, join_s: float = 2.0) -> None:
        """End the thread (closes the open watch stream)."""
        self._stop.set()
        response = self._response
        if response is not None:
            _shutdown(response)
        if self._thread is not None:
            self._thread.join(join_s)

    def run(self) -> None:
        """List and watch until `stop()`. A watch that ends at once without an event (a
        misbehaving proxy) and repeated 410s back off like errors: never a busy loop."""
        gone = 0
        while not self._stop.is_set():
            try:
                if self.resource_version is None:
                    self.list_once()
                started, events = time.monotonic(), self._watch_once()
                gone = 0
                if events == 0 and time.monotonic() - started < 1.0:
                    self._stop.wait(self._backoff.next_s())
            except _Gone:
                self.resource_version = None
                self._on_event(self.name, "relist")
                log.info("kube: %s: resourceVersion too old (410 Gone); listing again", self.name)
                gone += 1
                if gone > 1:
                    self._stop.wait(self._backoff.next_s())
            except Exception as e:
                if self._stop.is_set():
                    return
                self._failed(e)
                self._stop.wait(self._backoff.next_s())

    def list_once(self) -> None:
        """One (paged) list: the store becomes exactly what the API holds."""
        items: dict[ObjectKey, Any] = {}
        token: str | None = None
        while True:
            kwargs: dict[str, Any] = {"limit": self._timing.page_size}
            if token:
                kwargs["_continue"] = token
            page = self._call(**kwargs)
            for obj in page.get("items") or ():
                value = self._reduce(obj)
                if value is not None:
                    items[key_of(obj)] = value
            meta = page.get("metadata") or {}
            token = meta.get("continue")
            if not token:
                break
        with self._lock:
            self._store = items
            self._fences.clear()
            self.resource_version = str(meta.get("resourceVersion") or "") or None
            self.version += 1
        self._synced()

    def _watch_once(self) -> int:
        """One watch from the current resourceVersion; returns the events received."""
        timing = self._timing
        response = self._list(
            watch=True, resource_version=self.resource_version, allow_watch_bookmarks=True,
            timeout_seconds=timing.watch_timeout_s, _preload_content=False,
            _request_timeout=(timing.connect_timeout_s,
                              timing.watch_timeout_s + timing.read_slack_s))
        self._response = response
        self._backoff.reset()
        received = 0
        try:
            for event in _events(response):
                if self._stop.is_set():
                    break
                received += 1
                self._handle(event)
                self._synced()    # the first good event (or bookmark) of a resumed watch
            if not self._stop.is_set():
                self._synced()    # ended by its timeout: no 410 for the whole watch
            return received
        finally:
            self._response = None
            response.release_conn()

    def _handle(self, event: Mapping[str, Any]) -> None:
        kind, obj = event.get("type"), event.get("object") or {}
        if kind == "ERROR":
            if obj.get("code") == 410:
                raise _Gone(obj.get("message", ""))
            raise RuntimeError(f"watch error {obj.get('code')}: {obj.get('message')}")
        rv = (obj.get("metadata") or {}).get("resourceVersion")
        if kind == "BOOKMARK":
            if rv:
                self.resource_version = str(rv)
            return
        if kind in ("ADDED", "MODIFIED", "DELETED"):
            if not self._behind_fence(obj):
                self._apply(kind, obj)
            if rv:
                self.resource_version = str(rv)

    def _behind_fence(self, obj: Mapping[str, Any]) -> bool:
        """True for a watch event older than the scaler's own last write of that object
        (resourceVersions compared as integers, which etcd's are; otherwise never)."""
        key, rv = key_of(obj), _rv(obj)
        with self._lock:
            fence = self._fences.get(key)
            if fence is None or rv is None:
                return False
            if rv < fence:
                return True
            del self._fences[key]
            return False

    def _apply(self, kind: str, obj: Mapping[str, Any]) -> None:
        key = key_of(obj)
        value = None if kind == "DELETED" else self._reduce(obj)
        with self._lock:
            if value is None:
                if self._store.pop(key, None) is None:
                    return
            elif self._store.get(key) == value:
                return
            else:
                self._store[key] = value
            self.version += 1
        self._on_change()

    def _call(self, **kwargs: Any) -> dict[str, Any]:
        timing = self._timing
        try:
            response = self._list(_preload_content=False, _request_timeout=(
                timing.connect_timeout_s, timing.connect_timeout_s + timing.read_slack_s),
                **kwargs)
        except ApiException as e:
            if e.status == 410:
                raise _Gone(str(e.reason)) from e
            raise
        try:
            return json.loads(response.data)  # type: ignore[no-any-return]
        finally:
            response.release_conn()

    def _synced(self) -> None:
        self._backoff.reset()
        if not self.synced:
            self.synced = True
            self.last_error = ""
            log.info("kube: %s in sync (resourceVersion %s, %d objects)", self.name,
                     self.resource_version, len(self._store))
            self._on_event(self.name, "synced")
            self._on_change()

    def _failed(self, error: Exception) -> None:
        text = _describe(error)
        self._on_event(self.name, "error")
        if self.synced or text != self.last_error:
            log.warning("kube: %s: %s; serving from the last cache and Prometheus, retrying",
                        self.name, text)
        self.last_error = text
        if self.synced:
            self.synced = False
            self._on_event(self.name, "unsynced")
            self._on_change()


def _rv(obj: Mapping[str, Any]) -> int | None:
    text = str((obj.get("metadata") or {}).get("resourceVersion") or "")
    return int(text) if text.isdigit() else None


def _events(response: Any) -> Iterator[dict[str, Any]]:
    for line in iter_resp_lines(response):
        if line:
            yield json.loads(line)


def _shutdown(response: Any) -> None:
    """Unblock a thread reading `response` (urllib3 ≥ 2.3 has shutdown(); else close)."""
    try:
        shutdown = getattr(response, "shutdown", None)
        (shutdown or response.close)()
    except Exception:   # already closed
        pass


def _describe(error: Exception) -> str:
    if isinstance(error, ApiException):
        return f"HTTP {error.status} {error.reason}"
    return f"{type(error).__name__}: {error}"[:300]
