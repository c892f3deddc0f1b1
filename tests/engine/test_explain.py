"""`scaler explain`: the why-lines for every reason, and the command against real Prometheus."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from scaler.cli import main
from scaler.config import Config
from scaler.devtools import Fleet, PrometheusProcess
from scaler.engine.explain import rows, table
from scaler.keys import IsvcKey
from tests.engine.fakes import CONFIG, FakeClock, FakeSource, Values, config, engine, frame

T0 = 1_800_000_000.0
EXPLAIN_CONFIG = CONFIG.replace(
    "default: {targets: {kv_cache: 0.8}, scale_down_window: 60s}",
    "default: {targets: {kv_cache: 0.8, latency_p99: 0.5}, scale_down_window: 60s, "
    "max_replicas: 16}") + "isvcs:\n  prod/panic: {scale_up_window: 60s}\n"


def k(name: str) -> IsvcKey:
    return ("prod", name)


def explain_ticks(*ticks: Values) -> dict[str, str]:
    e = engine(FakeSource(FakeClock(T0), lambda t: {}), cfg=config(EXPLAIN_CONFIG))
    for i, values in enumerate(ticks):
        e.absorb(frame(T0 + 15 * i, values), publish=True)
    assert e.last is not None
    return {r.key[1]: r.why for r in rows(e.last)}


def test_why_lines_for_every_reason() -> None:
    first = {
        k("up"): {"kv_cache": 0.93, "replicas": 2, "requests": 1},
        k("panic"): {"kv_cache": 1.8, "latency_p99": 1.5, "replicas": 2, "requests": 1},
        k("starting"): {"kv_cache": 0.5, "replicas": 2, "spec_replicas": 8, "requests": 1},
        k("slow"): {"kv_cache": 0.5, "latency_p99": 0.9, "replicas": 4, "requests": 1},
        k("hold"): {"kv_cache": 0.6, "replicas": 4, "requests": 1},
        k("nodata"): {"replicas": 3, "requests": 0},
        k("max"): {"kv_cache": 1.2, "replicas": 16, "requests": 1},
        k("down"): {"kv_cache": 0.1, "replicas": 8, "requests": 1},
    }
    later = {**first, k("down"): {"kv_cache": 0.1, "replicas": 8, "requests": 1}}
    why = explain_ticks(first)
    assert why["up"] == "kv_cache 0.93/0.8 = 1.16 > 1.10 → scale-up 2→4"
    assert why["panic"] == ("kv_cache 1.8/0.8 = 2.25 ≥ panic 2.00 → panic 2→8; latency_p99 "
                            "1.5/0.5 = 3.00 > 1.10: asks one step after 60s")
    assert why["starting"] == ("6 pods starting (spec 8 > ready 2) → desired held at 8 until "
                               "they are ready; kv_cache 0.5/0.8 = 0.62")
    assert why["slow"] == ("kv_cache 0.5/0.8 = 0.62 within (0.35, 1.10] → hold 4; latency_p99 "
                           "0.9/0.5 = 1.80 > 1.10: asks one step after 60s")
    assert why["hold"] == "kv_cache 0.6/0.8 = 0.75 within (0.35, 1.10] → hold 4"
    assert why["nodata"] == ("no signal with a target has data (latency_p99 -, kv_cache -) → "
                             "no-data at 3; inactive (requests 0 ≤ 0 req/s)")
    assert why["max"] == "kv_cache 1.2/0.8 = 1.50 recommends 32 → clamped to max_replicas 16"
    assert why["down"] == ("kv_cache 0.1/0.8 = 0.12 recommends 2, held at 8 by the "
                           "scale-down window (60s)")
    why = explain_ticks(first, later, later, later, later)
    assert why["down"] == ("kv_cache 0.1/0.8 = 0.12; 8×0.12/0.7 = 1.43 → scale-down 8→2 "
                           "(all of the 60s window ≤ 2)")


def test_table_is_aligned_with_units() -> None:
    e = engine(FakeSource(FakeClock(T0), lambda t: {}))
    e.absorb(frame(T0, {k("a"): {"kv_cache": 0.93, "replicas": 2, "latency_p99": 0.25,
                                 "requests": 6.0}}), publish=True)
    assert e.last is not None
    text = table(rows(e.last))
    header, line, _, why = text.splitlines()
    assert header.split() == ["ISVC", "POLICY", "LATENCY_P99(s)", "KV_CACHE", "CPU",
                              "INFLIGHT(req)", "PROMPT_THROUGHPUT(tok/s)", "REPLICAS",
                              "SPEC_REPLICAS", "REQUESTS(req/s)", "PRESSURE", "CURRENT",
                              "DESIRED", "REASON", "ACTIVE"]
    assert line.split() == ["prod/a", "default", "0.25", "0.93", "-", "-", "-", "2", "-", "6",
                            "1.16", "2", "4", "scale-up", "yes"]
    assert header.index("KV_CACHE") == line.index("0.93")
    assert why.startswith("prod/a: kv_cache 0.93/0.8 = 1.16")


@pytest.fixture
def explain_config(prometheus_ready: PrometheusProcess, make_config: Callable[..., Config],
                   tmp_path: Path) -> Path:
    queries = make_config(prometheus_ready.url).queries
    signals = "".join(f"  {name}: {{query: {json.dumps(q)}}}\n" for name, q in queries.items())
    path = tmp_path / "policy.yaml"
    path.write_text(
        f'prometheus: {{url: "{prometheus_ready.url}", timeout: 2s}}\ninterval: 1s\n'
        f"signals:\n{signals}"
        "policies:\n  default: {targets: {kv_cache: 0.5}, scale_down_window: 3s}\n")
    return path


def test_explain_command_against_prometheus(
    explain_config: Path, fleet: Fleet, capsys: pytest.CaptureFixture[str],
) -> None:
    key = ("team-1", "llm-0001")
    kv = fleet.drive(key).kv_cache
    assert main(["explain", "--config", str(explain_config)]) == 0
    out = capsys.readouterr().out
    assert "Warm start: replayed 4 ticks (3s) of history" in out
    assert "REQUESTS(req/s)" in out and "team-0/llm-0000" in out
    why = next(line for line in out.splitlines() if line.startswith("team-1/llm-0001: "))
    assert why.startswith(f"team-1/llm-0001: kv_cache {kv:.3g}/0.5 = {kv / 0.5:.2f}")

    assert main(["explain", "--config", str(explain_config), "--json", "--isvc",
                 "team-1/llm-0001"]) == 0
    [item] = json.loads(capsys.readouterr().out)
    assert (item["namespace"], item["isvc"], item["policy"]) == ("team-1", "llm-0001", "default")
    assert item["signals"]["kv_cache"] == pytest.approx(kv)
    assert item["why"] == why.split(": ", 1)[1]

    assert main(["explain", "--config", str(explain_config), "--isvc", "x/absent"]) == 1
    assert "x/absent has no series" in capsys.readouterr().err
