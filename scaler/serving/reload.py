"""Hot reload of policy.yaml: `ConfigWatcher.poll()` once a second from the serve loop.

A ConfigMap volume is a symlink farm that the kubelet updates atomically:
  policy.yaml -> ..data/policy.yaml,  ..data -> ..2026_11_23_19_30_00.123456789
and an update writes a new timestamped directory, points `..data_tmp` at it and renames it
over `..data`. The mtime of `policy.yaml` (a symlink) never changes, so the watcher reads the
file through the symlinks on every poll and compares a content hash (the file is small).
A change is parsed: valid → `applied` with the next generation (1 = first load); invalid →
`rejected` with every error, and the last good config stays in force. A file that returns to
the config in force after a rejection clears the errors (`unchanged`).
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from scaler.config.model import Config
from scaler.config.parse import parse_config
from scaler.errors import ConfigError

if TYPE_CHECKING:
    from scaler.metrics import ScalerMetrics

ReloadKind = Literal["unchanged", "applied", "rejected"]


@dataclass(frozen=True)
class ReloadResult:
    """Outcome of one poll. `config` is set only when applied; `generation` is the one in force
    after the poll (0 = nothing valid loaded yet); `errors` only when rejected."""

    kind: ReloadKind
    generation: int
    config: Config | None = None
    errors: tuple[str, ...] = ()
    path: str = ""
    realpath: str = ""
    checked_s: float = 0.0

    @property
    def message(self) -> str:
        """One log line describing the outcome."""
        if self.kind == "applied":
            digest = self.config.digest[:12] if self.config else ""
            return (f"config {self.path} applied as generation {self.generation} "
                    f"(from {self.realpath}, sha256 {digest})")
        if self.kind == "rejected":
            kept = f"keeping generation {self.generation}" if self.generation else "no config"
            return f"config {self.path} rejected, {kept}: " + "; ".join(self.errors)
        return f"config {self.path} unchanged (generation {self.generation})"


class ConfigWatcher:
    """Detects content changes of a (possibly ConfigMap-mounted) policy.yaml; no threads.

    `clock` (seconds, any epoch) only stamps results; nothing here sleeps. `read`, if given,
    returns the bytes instead of the file at `path` (raising OSError while unavailable), e.g.
    the `policy.yaml` key of a ConfigMap watched through the API (`--config-map`); `path`
    then only names the source in messages. Validation and last-good semantics are the same.
    """

    def __init__(self, path: str | Path, *,
                 clock: Callable[[], float] = time.monotonic,
                 read: Callable[[], bytes] | None = None) -> None:
        self.path = str(path)
        self._read = read
        self._clock = clock
        self._seen: str | None = None
        self._applied: str | None = None
        self.config: Config | None = None
        self.generation = 0
        self.errors: tuple[str, ...] = ()

    def poll(self) -> ReloadResult:
        """Read the file, and apply or reject it if its content differs from the last seen."""
        realpath = self.path if self._read else os.path.realpath(self.path)
        data: bytes | str
        try:
            data = self._read() if self._read else Path(self.path).read_bytes()
            digest = hashlib.sha256(data).hexdigest()
        except OSError as e:
            data = f"cannot read {self.path}: {e.strerror or e}"
            digest = "error:" + data
        if digest == self._seen:
            return self._result("unchanged", realpath)
        self._seen = digest
        if digest == self._applied:
            self.errors = ()
            return self._result("unchanged", realpath)
        try:
            config = self._parse(data)
        except ConfigError as e:
            self.errors = tuple(e.errors)
            return self._result("rejected", realpath, errors=self.errors)
        self.config, self._applied, self.errors = config, digest, ()
        self.generation += 1
        return self._result("applied", realpath, config=config)

    def load(self) -> Config:
        """The config in force, loading it first if needed; raises ConfigError if none is valid
        (use at start-up: a server must not start without a valid config)."""
        if self.config is None:
            self.poll()
            if self.config is None:
                raise ConfigError(list(self.errors), source=self.path)
        return self.config

    def _parse(self, data: bytes | str) -> Config:
        """Config from the file's bytes; `data` is a read error message when it is a str."""
        if isinstance(data, str):
            raise ConfigError(data)
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as e:
            raise ConfigError(f"not UTF-8 text: {e.reason} at byte {e.start}") from e
        return parse_config(text, source=self.path)

    def _result(self, kind: ReloadKind, realpath: str, *, config: Config | None = None,
                errors: tuple[str, ...] = ()) -> ReloadResult:
        return ReloadResult(kind=kind, generation=self.generation, config=config, errors=errors,
                            path=self.path, realpath=realpath, checked_s=self._clock())


def apply_reload_metrics(result: ReloadResult, metrics: ScalerMetrics) -> None:
    """Update config_generation / config_reloads_total / config_reload_errors_total.

    The first load sets the generation but is not counted as a reload.
    """
    if result.kind == "applied":
        metrics.config_generation.set(result.generation)
        if result.generation > 1:
            metrics.config_reloads.inc()
    elif result.kind == "rejected":
        metrics.config_reload_errors.inc()
