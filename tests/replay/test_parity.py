"""Live/offline parity against a real Prometheus scraping synthetic vLLM exporters.

The live engine ticks over a period in which an ISVC heats up, one disappears and one appears;
`scaler record` then captures the same period and `scaler replay` must reproduce the engine's
decisions tick for tick (same config, same grid: DESIGN §1) wherever the engine made one.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
from prometheus_client import CollectorRegistry

from scaler.cli import main
from scaler.config import load_config
from scaler.config.queries import DEFAULT_TEMPLATES, SIGNAL_NAMES, render_query
from scaler.devtools.fleet import Fleet
from scaler.devtools.prometheus import PrometheusProcess
from scaler.engine import Engine
from scaler.engine.snapshot import Snapshot
from scaler.engine.store import SnapshotStore
from scaler.metrics import ScalerMetrics
from scaler.signals.source import PromSignalSource

pytestmark = [pytest.mark.prometheus, pytest.mark.timeout(120)]

STEADY, HOT, FADING, LATE = ("team-a", "steady"), ("team-a", "hot"), ("team-b", "fading"), (
    "team-b", "late")


@dataclass
class Period:
    """A recorded stretch of fleet history: config file and the tick grid [first_s, last_s]."""

    config: Path
    first_s: float
    last_s: float

    @property
    def ticks(self) -> list[float]:
        return [float(t) for t in range(int(self.first_s), int(self.last_s) + 1)]


def _wait_for(prom: PrometheusProcess, query: str, want: float) -> None:
    """Until `query` returns `want`, i.e. Prometheus has scraped a change."""
    def seen() -> bool:
        result = prom.query(query)
        return bool(result) and math.isclose(float(result[0]["value"][1]), want)
    prom.wait_until(seen, timeout_s=20, what=f"{query} = {want}")


def _wait_until_gone(prom: PrometheusProcess, key: tuple[str, str]) -> None:
    """Until no signal query returns a series for ISVC `key`."""
    def gone() -> bool:
        return not any((r["metric"].get("namespace"), r["metric"].get("isvc")) == key
                       for name in SIGNAL_NAMES for r in prom.query(_rendered(name)))
    prom.wait_until(gone, timeout_s=20, what=f"{key} gone from every signal")


def _rendered(signal: str) -> str:
    """The default query of `signal` with 5 s rate windows (so vanished series go quickly)."""
    return render_query(DEFAULT_TEMPLATES[signal], namespace_label="namespace",
                        isvc_label="isvc", rate_window="5s")


def _short_window_queries() -> str:
    return "".join(f"  {name}: {{query: {json.dumps(_rendered(name))}}}\n"
                   for name in SIGNAL_NAMES)


def _let_time_pass(prom: PrometheusProcess, seconds: float) -> None:
    until = time.time() + seconds
    prom.wait_until(lambda: time.time() >= until, timeout_s=seconds + 5, what="time to pass")


@pytest.fixture(scope="module")
def period(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Period]:
    fleet = Fleet()
    fleet.add(*STEADY, kv_cache=0.5, ttft_p99_s=0.2, cpu_ratio=0.3, pods=1)
    fleet.add(*HOT, kv_cache=0.6, ttft_p99_s=0.3, cpu_ratio=0.4, pods=1,
              metric_style="underscore")
    fleet.add(*FADING, kv_cache=0.1, ttft_p99_s=0.05, cpu_ratio=0.1, pods=4)
    with fleet.serve() as server, PrometheusProcess([server.target()],
                                                    scrape_interval_s=1.0) as prom:
        config = tmp_path_factory.mktemp("parity") / "policy.yaml"
        config.write_text(
            f"prometheus: {{url: '{prom.url}'}}\ninterval: 1s\n"
            f"signals:\n{_short_window_queries()}"
            "policies:\n  default:\n    targets: {latency_p99: 0.5, kv_cache: 0.8, cpu: 0.7}\n"
            "    scale_down_window: 3s\n"
            "isvcs:\n  team-b/fading: {max_replicas: 2}\n", encoding="utf-8")
        prom.wait_scraped(scrapes=3)
        first_s = math.ceil(time.time())
        _let_time_pass(prom, 3)
        fleet.set(HOT, kv_cache=0.99, ttft_p99_s=1.5, pods=2)
        _wait_for(prom, 'vllm_kv_cache_usage_perc{isvc="hot"}', 0.99)
        _let_time_pass(prom, 3)
        fleet.remove(FADING)
        fleet.add(*LATE, kv_cache=0.9, ttft_p99_s=0.1, cpu_ratio=0.2, pods=1)
        _wait_for(prom, 'vllm:kv_cache_usage_perc{isvc="late"}', 0.9)
        _wait_until_gone(prom, FADING)
        _let_time_pass(prom, 3)
        last_s = math.floor(time.time()) - 2
        yield Period(config, first_s, last_s)


def _live_snapshots(period: Period) -> list[Snapshot]:
    config = load_config(period.config)
    metrics = ScalerMetrics(CollectorRegistry())
    source = PromSignalSource.from_config(config, metrics=metrics)
    store = SnapshotStore(clock=time.time, stale_after_s=config.stale_after_s)
    engine = Engine(config=config, store=store, source=source, metrics=metrics, clock=time.time)

    async def run() -> list[Snapshot]:
        snapshots = []
        for tick_s in period.ticks:
            snapshot = await engine.tick(tick_s)
            assert snapshot is not None, f"live tick {tick_s} failed"
            snapshots.append(snapshot)
        return snapshots

    try:
        return asyncio.run(run())
    finally:
        source.close()


def _live_table(snapshots: list[Snapshot]) -> pd.DataFrame:
    rows = [(s.tick_s, e.namespace, e.isvc, e.pressure, e.desired, e.reason, e.active)
            for s in snapshots for e in sorted(s.entries.values(),
                                               key=lambda e: (e.namespace, e.isvc))]
    return pd.DataFrame(rows, columns=["time_s", "namespace", "isvc", "pressure", "desired",
                                       "reason", "active"])


def test_replay_of_recorded_history_reproduces_live_decisions(period: Period,
                                                              tmp_path: Path) -> None:
    live = _live_table(_live_snapshots(period))
    signals = tmp_path / "signals.csv"
    assert main(["record", "--config", str(period.config), "--start", f"{period.first_s:.0f}",
                 "--end", f"{period.last_s:.0f}", "-o", str(signals)]) == 0
    assert main(["replay", str(signals), "--config", str(period.config), "-o",
                 str(tmp_path / "out")]) == 0
    offline = pd.read_csv(tmp_path / "out" / "decisions.csv", keep_default_na=False,
                          na_values=[""])
    offline["time_s"] = offline["time_s"].astype(float)
    live["time_s"] = live["time_s"].astype(float)

    assert set(live["reason"]) >= {"scale-up", "hold"}, "the period should exercise scaling"
    keys = set(zip(live["namespace"], live["isvc"], strict=True))
    assert keys == {STEADY, HOT, FADING, LATE}
    merged = offline.merge(live, on=["time_s", "namespace", "isvc"], how="left",
                           suffixes=("", "_live"), indicator=True)
    both = merged[merged["_merge"] == "both"]
    assert len(both) == len(live), "every live decision has an offline one"
    for column in ("pressure", "desired", "reason", "active"):
        pd.testing.assert_series_equal(both[column], both[f"{column}_live"], check_names=False,
                                       check_dtype=False, rtol=0, atol=0)
    # DESIGN §6: after its last row an ISVC keeps getting (no-data) decisions offline; the live
    # engine keeps a vanished ISVC as no-data too (for an hour), so nothing is left over.
    assert (merged["_merge"] == "both").all(), "every offline decision has a live one"
    fading = live[(live["namespace"] == FADING[0]) & (live["isvc"] == FADING[1])]
    assert "no-data" in set(fading["reason"]), "the fading ISVC was held after it vanished"


def test_recorded_rows_are_what_live_ticks_saw(period: Period, tmp_path: Path) -> None:
    """Input parity: each recorded row equals the engine's own instant-query frame."""
    config = load_config(period.config)
    source = PromSignalSource.from_config(config)
    signals = tmp_path / "signals.parquet"
    assert main(["record", "--config", str(period.config), "--start", f"{period.first_s:.0f}",
                 "--end", f"{period.last_s:.0f}", "-o", str(signals)]) == 0
    recorded = pd.read_parquet(signals)
    try:
        frames = asyncio.run(_fetch_all(source, period.ticks))
    finally:
        source.close()
    rows = []
    for frame in frames:
        for i, (ns, name) in enumerate(frame.keys):
            rows.append([frame.time_s, ns, name, *frame.values[i].tolist()])
    live = pd.DataFrame(rows, columns=["time_s", "namespace", "isvc", *frames[0].signals])
    recorded["time_s"] = recorded["time_s"].astype(float)
    pd.testing.assert_frame_equal(recorded[live.columns], live, check_dtype=False, rtol=0,
                                  atol=0)


async def _fetch_all(source: PromSignalSource, ticks: list[float]) -> list:  # type: ignore[type-arg]
    return [await source.fetch(t) for t in ticks]
