"""`scaler simulate` end to end on a real trace, sweeps, seeds and input errors."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from scaler.cli import main
from scaler.sim.loop import TIMELINE_COLUMNS
from scaler.sim.report import COMPARISON_COLUMNS
from tests.shared_paths import TRACES

MOONCAKE = str(TRACES / "mooncake_conversation_first30m.csv")
POLICY = """
policies:
  default:
    targets: {latency_p99: 4.0, kv_cache: 0.8}
simulation:
  ttft_slo: 5s
  serving: {startup: 60s}
"""


@pytest.fixture
def policy(tmp_path: Path) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(POLICY)
    return path


def test_real_trace_end_to_end_writes_every_output(
        tmp_path: Path, policy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    code = main(["simulate", MOONCAKE, "--config", str(policy), "-o", str(out),
                 "--duration", "8m", "--jitter", "auto", "--rate-scale", "2", "--seed", "3"])
    assert code == 0
    summary = json.loads((out / "summary.json").read_text())
    runs = [r["run"] for r in summary["runs"]]
    assert runs == ["policy", "static-peak", "hpa-cpu-70", "keda-prometheus-requests"]
    assert summary["trace"]["transformations"] == ["window [0 s, 480 s)", "jitter 3s", "rate x2"]
    for run in summary["runs"]:
        assert 0 <= run["slo_attainment"] <= 1 and run["gpu_hours"] > 0
        assert run["requests"] == summary["trace"]["requests"]
        assert run["ttft_p50_s"] <= run["ttft_p99_s"]
    with open(out / "timeline.csv") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["run", *TIMELINE_COLUMNS]
    assert {r[0] for r in rows[1:]} == set(runs)
    with open(out / "comparison.csv") as f:
        table = list(csv.reader(f))
    assert table[0] == list(COMPARISON_COLUMNS) and len(table) == 5
    for png in ("replicas.png", "latency_p99.png", "kv_cache.png", "comparison.png"):
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    printed = capsys.readouterr().out
    assert "slo_attainment" in printed and "keda-prometheus-requests" in printed


def test_seed_makes_outputs_reproducible(tmp_path: Path, policy: Path) -> None:
    def run(seed: int, name: str) -> str:
        out = tmp_path / name
        assert main(["simulate", MOONCAKE, "--config", str(policy), "-o", str(out),
                     "--duration", "4m", "--jitter", "3s", "--rate-scale", "1.5",
                     "--seed", str(seed), "--baselines", "none", "--no-plots",
                     "--workers", "1"]) == 0
        return (out / "summary.json").read_text() + (out / "timeline.csv").read_text()

    assert run(7, "a") == run(7, "b")
    assert run(7, "a") != run(8, "c")


def test_sweep_and_several_configs(tmp_path: Path, policy: Path) -> None:
    other = tmp_path / "other.yaml"
    other.write_text("policies: {default: {targets: {kv_cache: 0.5}}}\n")
    out = tmp_path / "out"
    assert main(["simulate", "synthetic:poisson:rate=3,duration=10m,input=2000,output=100",
                 "--config", str(policy), "--config", str(other), "-o", str(out),
                 "--sweep", "policies.default.targets.kv_cache=0.6,0.9",
                 "--baselines", "static", "--no-plots"]) == 0
    runs = [r["run"] for r in json.loads((out / "summary.json").read_text())["runs"]]
    assert runs == ["policy[kv_cache=0.6]", "policy[kv_cache=0.9]", "other[kv_cache=0.6]",
                    "other[kv_cache=0.9]", "static-peak"]


@pytest.mark.parametrize(("args", "message"), [
    (["missing.csv"], "missing.csv: cannot read"),
    (["synthetic:wave"], "kind = wave"),
    ([MOONCAKE, "--baselines", "hpa-memory"], "--baselines: unknown hpa-memory"),
    ([MOONCAKE, "--sweep", "policies.default"], "--sweep policies.default: expected"),
    ([MOONCAKE, "--isvc", "a/b/c"], "--isvc"),
    ([MOONCAKE, "--start", "2h"], "no requests in [7200 s"),
], ids=["no-file", "bad-synthetic", "bad-baseline", "bad-sweep", "bad-isvc", "empty-window"])
def test_input_errors_exit_1(tmp_path: Path, policy: Path, capsys: pytest.CaptureFixture[str],
                             args: list[str], message: str) -> None:
    assert main(["simulate", *args, "--config", str(policy), "-o", str(tmp_path / "o"),
                 "--no-plots"]) == 1
    assert message in capsys.readouterr().err


def test_invalid_simulation_section_names_file_and_path(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("simulation:\n  serving: {max_num_seqs: 0}\n")
    assert main(["simulate", MOONCAKE, "--config", str(bad), "-o", str(tmp_path / "o")]) == 1
    err = capsys.readouterr().err
    assert f"{bad}: simulation.serving.max_num_seqs = 0, must be ≥ 1" in err
