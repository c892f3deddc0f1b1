"""PromSignalSource: one PromQL query per signal for ALL ISVCs, run concurrently (I/O).

Each enabled signal (non-empty query in `Config.queries`) is one instant query at the tick's
timestamp, run off the event loop. A failed query makes its column NaN for every ISVC; each
problem is counted in `query_errors_total{signal,cause}` on every occurrence but logged only
when its cause first appears for that signal, and again (INFO) when it clears.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from scaler.config.model import Config
from scaler.config.queries import SIGNAL_NAMES
from scaler.errors import SignalError
from scaler.metrics import ScalerMetrics
from scaler.signals.client import PromClient
from scaler.signals.frames import (
    Issue,
    SignalFrame,
    SignalHistory,
    align,
    align_history,
    parse_matrix,
    parse_vector,
)
from scaler.ticks import tick_grid

log = logging.getLogger(__name__)


class IssueLog:
    """Logs each (signal, cause) when it starts and when it clears: no flood every tick."""

    def __init__(self, logger: logging.Logger = log) -> None:
        self._log = logger
        self._active: dict[str, dict[str, str]] = {}

    def update(self, signal: str, problems: Mapping[str, str]) -> None:
        """Record this query's problems for `signal` (cause → message); log the changes."""
        before = self._active.get(signal, {})
        for cause, message in problems.items():
            if cause not in before:
                self._log.warning("signal %s: %s (%s; logged once until it clears)",
                                  signal, message, cause)
        for cause in before.keys() - problems.keys():
            self._log.info("signal %s: %s cleared", signal, cause)
        self._active[signal] = dict(problems)

    def active(self) -> dict[str, dict[str, str]]:
        """Current problems per signal (cause → message)."""
        return {s: dict(p) for s, p in self._active.items() if p}


class PromSignalSource:
    """SignalSource over a PromClient; `queries` maps signal → PromQL ("" = disabled)."""

    def __init__(
        self, client: PromClient, *, queries: Mapping[str, str], namespace_label: str,
        isvc_label: str, metrics: ScalerMetrics | None = None,
        signals: Sequence[str] = SIGNAL_NAMES, issue_log: IssueLog | None = None,
        monotonic: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.client = client
        self.signals = tuple(signals)
        self.queries = {s: q for s, q in queries.items() if s in self.signals and q.strip()}
        self.namespace_label = namespace_label
        self.isvc_label = isvc_label
        self.metrics = metrics
        self.issue_log = issue_log or IssueLog()
        self._monotonic = monotonic
        self.deadline_s = client.timeout_s + 2.0

    @classmethod
    def from_config(cls, config: Config, *,
                    metrics: ScalerMetrics | None = None) -> PromSignalSource:
        """Source for a Config: its prometheus, queries (signals it adds included), labels."""
        return cls(PromClient(config.prometheus), queries=config.queries,
                   namespace_label=config.namespace_label, isvc_label=config.isvc_label,
                   metrics=metrics, signals=config.signal_names)

    def close(self) -> None:
        """Release the HTTP connections."""
        self.client.close()

    async def fetch(self, time_s: float) -> SignalFrame:
        """Every enabled signal at `time_s`, queried concurrently; see SignalFrame."""
        names = tuple(self.queries)
        answers = await asyncio.gather(*(self._instant(s, time_s) for s in names))
        parsed, failed, errors, issues = self._partition(names, answers, count_issues=True)
        columns = {signal: answer.values for signal, answer in parsed.items()}
        keys, values = align(columns, signals=self.signals)
        return SignalFrame(time_s=time_s, keys=keys, signals=self.signals, values=values,
                           queried=names, failed=failed, errors=errors, issues=tuple(issues))

    async def fetch_range(self, *, start_s: float, end_s: float, step_s: float) -> SignalHistory:
        """Every enabled signal on the grid start_s + k·step_s ≤ end_s (one range query each,
        chunked by the client); ISVCs are present at a tick when any signal had a point."""
        times = tick_grid(start_s=start_s, end_s=end_s, step_s=step_s)
        names = tuple(self.queries)
        answers = await asyncio.gather(
            *(self._range(s, times, start_s, end_s, step_s) for s in names))
        columns, failed, errors, issues = self._partition(names, answers, count_issues=False)
        keys, values, present = align_history(columns, signals=self.signals, times_s=times)
        return SignalHistory(times_s=times, keys=keys, signals=self.signals, values=values,
                             present=present, queried=names, failed=failed, errors=errors,
                             issues=tuple(issues))

    def _partition(
        self, names: Sequence[str], answers: Sequence[Any], *, count_issues: bool
    ) -> tuple[dict[str, Any], dict[str, str], dict[str, str], list[Issue]]:
        """Split per-signal answers into parsed results, failure causes, messages and issues;
        count failures (and, live, per-series issues) in query_errors_total."""
        parsed: dict[str, Any] = {}
        failed: dict[str, str] = {}
        errors: dict[str, str] = {}
        issues: list[Issue] = []
        for signal, answer in zip(names, answers, strict=True):
            if isinstance(answer, SignalError):
                failed[signal], errors[signal] = answer.cause_kind, str(answer)
                self._count(signal, {answer.cause_kind: str(answer)})
                continue
            parsed[signal] = answer
            issues.extend(answer.issues)
            if count_issues:
                self._count(signal, {i.cause: i.detail for i in answer.issues})
        return parsed, failed, errors, issues

    async def _instant(self, signal: str, time_s: float) -> Any:
        start = self._monotonic()
        try:
            return await _off_loop(self.deadline_s, self._query_and_parse, signal, time_s)
        except SignalError as e:
            return e if e.signal else SignalError(str(e), signal=signal, cause_kind=e.cause_kind)
        finally:
            self._observe(signal, self._monotonic() - start)

    async def _range(
        self, signal: str, times: np.ndarray, start_s: float, end_s: float, step_s: float
    ) -> Any:
        start = self._monotonic()
        try:
            return await _off_loop(None, self._range_and_parse, signal, times, start_s, end_s,
                                   step_s)
        except SignalError as e:
            return e if e.signal else SignalError(str(e), signal=signal, cause_kind=e.cause_kind)
        finally:
            self._observe(signal, self._monotonic() - start)

    def _query_and_parse(self, signal: str, time_s: float) -> Any:
        """Blocking: the instant query and its parse, both in the query thread (the parse of
        thousands of series must not run on the event loop that answers KEDA)."""
        result = self.client.query(self.queries[signal], time_s=time_s)
        return parse_vector(result, signal=signal, namespace_label=self.namespace_label,
                            isvc_label=self.isvc_label)

    def _range_and_parse(self, signal: str, times: np.ndarray, start_s: float, end_s: float,
                         step_s: float) -> Any:
        """Blocking: the range query and its parse onto the tick grid, in the query thread."""
        result = self.client.query_range(self.queries[signal], start_s=start_s, end_s=end_s,
                                         step_s=step_s)
        return parse_matrix(result, signal=signal, namespace_label=self.namespace_label,
                            isvc_label=self.isvc_label, times_s=times)

    def _observe(self, signal: str, seconds: float) -> None:
        if self.metrics is not None:
            self.metrics.queries.labels(signal).inc()
            self.metrics.query_duration.labels(signal).observe(seconds)

    def _count(self, signal: str, problems: Mapping[str, str]) -> None:
        if self.metrics is not None:
            for cause in problems:
                self.metrics.query_errors.labels(signal, cause).inc()
        self.issue_log.update(signal, problems)


async def _off_loop(limit_s: float | None, fn: Callable[..., Any], *args: Any, **kw: Any) -> Any:
    """Run a blocking call in a thread; `limit_s` is a backstop for slow-trickling peers."""
    try:
        return await asyncio.wait_for(asyncio.to_thread(fn, *args, **kw), limit_s)
    except TimeoutError as e:
        raise SignalError(f"no complete answer within {limit_s:g}s", cause_kind="timeout") from e
