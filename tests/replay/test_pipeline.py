"""`scaler replay` end to end: decisions.csv, summary.json, comparison, plots, CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from scaler.cli import main
from scaler.errors import ConfigError
from scaler.replay.shell import PlotRequest, replay_to_dir, run_names
from scaler.replay.summary import COMPARISON_COLUMNS
from tests.replay.conftest import config_text

SIGNALS = """\
time_s,namespace,isvc,kv_cache
0,a,m,0.5
15,a,m,1.0
15,b,quiet,0.4
30,a,m,1.0
30,b,quiet,0.4
45,a,m,0.1
45,b,quiet,0.4
60,a,m,0.1
75,a,m,0.1
"""
# a/m: desired 1, 2, 4, 4, 1, 1 (hold, scale-up, scale-up, stabilizing, scale-down, hold)
# b/quiet: from 15 s, P 0.5 → 1 (hold); no rows at 60 s and 75 s → no-data, inactive.
POLICY = config_text("""
default:
  targets: {kv_cache: 0.8}
  scale_down_window: 30s
  max_replicas: 4
""")
SLOW = config_text("""
default:
  targets: {kv_cache: 0.8}
  scale_down_window: 60s
""")


Files = dict[str, Path]


@pytest.fixture
def files(tmp_path: Path) -> Files:
    paths = {"signals": tmp_path / "signals.csv", "policy": tmp_path / "policy.yaml",
             "slow": tmp_path / "conf" / "slow.yaml"}
    paths["slow"].parent.mkdir()
    paths["signals"].write_text(SIGNALS, encoding="utf-8")
    paths["policy"].write_text(POLICY, encoding="utf-8")
    paths["slow"].write_text(SLOW, encoding="utf-8")
    return paths


def test_decisions_csv_one_row_per_tick_and_isvc_from_its_first_row(
        files: Files, tmp_path: Path) -> None:
    replay_to_dir(files["signals"], [files["policy"]], tmp_path / "out")
    lines = (tmp_path / "out" / "decisions.csv").read_text(encoding="utf-8").splitlines()
    assert lines == [
        "time_s,namespace,isvc,pressure,desired,reason,active",
        "0,a,m,0.625,1,hold,true",
        "15,a,m,1.25,2,scale-up,true",
        "15,b,quiet,0.5,1,hold,true",
        "30,a,m,1.25,4,scale-up,true",
        "30,b,quiet,0.5,1,hold,true",
        "45,a,m,0.125,4,stabilizing,true",
        "45,b,quiet,0.5,1,hold,true",
        "60,a,m,0.125,1,scale-down,true",
        "60,b,quiet,,1,no-data,false",
        "75,a,m,0.125,1,hold,true",
        "75,b,quiet,,1,no-data,false",
    ]


def test_summary_per_isvc_and_overall(
        files: Files, tmp_path: Path) -> None:
    replay_to_dir(files["signals"], [files["policy"]], tmp_path / "out")
    summary = json.loads((tmp_path / "out" / "summary.json").read_text(encoding="utf-8"))
    m = summary["isvcs"]["a/m"]
    assert {k: m[k] for k in ("scale_ups", "scale_downs", "replica_seconds", "time_at_max_s",
                              "max_desired", "ticks", "policy", "first_time_s")} == {
        "scale_ups": 2, "scale_downs": 1, "replica_seconds": 15.0 * (1 + 2 + 4 + 4 + 1 + 1),
        "time_at_max_s": 30.0, "max_desired": 4, "ticks": 6, "policy": "default",
        "first_time_s": 0.0}
    assert m["mean_desired"] == pytest.approx(13 / 6)
    assert m["reasons"] == {"clamped-max": 0, "clamped-min": 0, "panic": 0, "scale-up": 2,
                            "scale-down": 1, "no-data": 0, "stabilizing": 1, "hold": 2,
                            "starting": 0, "latency-floor": 0}
    quiet = summary["isvcs"]["b/quiet"]
    assert (quiet["ticks"], quiet["replica_seconds"], quiet["reasons"]["no-data"]) == (5, 75.0, 2)
    overall = summary["overall"]
    assert (overall["isvcs"], overall["ticks"], overall["scale_ups"], overall["scale_downs"],
            overall["replica_seconds"], overall["max_desired"]) == (2, 11, 2, 1, 270.0, 4)
    assert overall["mean_desired"] == pytest.approx(18 / 11)
    assert (summary["start_s"], summary["end_s"], summary["ticks"], summary["interval_s"]) == (
        0.0, 75.0, 6, 15.0)


def test_several_configs_give_subdirectories_and_a_comparison(
        files: Files, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    code = main(["replay", str(files["signals"]), "--config", str(files["policy"]),
                 "--config", str(files["slow"]), "-o", str(out)])
    assert code == 0
    assert sorted(p.name for p in out.iterdir()) == ["comparison.csv", "policy", "slow"]
    assert sorted(p.name for p in (out / "slow").iterdir()) == ["decisions.csv", "summary.json"]
    table = pd.read_csv(out / "comparison.csv")
    assert list(table.columns) == list(COMPARISON_COLUMNS)
    assert list(table["config"]) == ["policy", "slow"]
    assert list(table["scale_downs"]) == [1, 0]  # 60 s window: a/m still at 4 at 75 s
    printed = capsys.readouterr().out.splitlines()
    assert printed[0].split() == ["metric", "policy", "slow"]
    assert printed[3].split() == ["scale_downs", "1", "0"]


@pytest.mark.parametrize(("paths", "names"), [
    (["a/policy.yaml"], ["policy"]),
    (["a/p.yaml", "b/q.yml"], ["p", "q"]),
    (["a/p.yaml", "b/p.yaml", "c/p.yaml"], ["p", "p-2", "p-3"]),
], ids=["one", "distinct", "colliding-stems"])
def test_run_names(paths: list[str], names: list[str]) -> None:
    assert run_names(paths) == names


def test_plot_default_top_by_scale_events(
        files: Files, tmp_path: Path) -> None:
    out = tmp_path / "out"
    replay_to_dir(files["signals"], [files["policy"]], out, plot=PlotRequest(top=1))
    pngs = sorted((out / "plots").iterdir())
    assert [p.name for p in pngs] == ["a_m.png"]
    assert pngs[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_selected_isvcs_via_cli(
        files: Files, tmp_path: Path) -> None:
    out = tmp_path / "out"
    code = main(["replay", str(files["signals"]), "--config", str(files["policy"]), "-o",
                 str(out), "--plot", "--isvc", "b/quiet"])
    assert code == 0
    assert [p.name for p in (out / "plots").iterdir()] == ["b_quiet.png"]


def test_unknown_plot_isvc_is_rejected_before_writing(
        files: Files, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="--isvc a/nope: no such ISVC"):
        replay_to_dir(files["signals"], [files["policy"]], tmp_path / "out",
                      plot=PlotRequest(isvcs=("a/nope",)))
    assert not (tmp_path / "out").exists()


def test_cli_bad_input_exits_1_naming_the_line(
        files: Files, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    files["signals"].write_text(SIGNALS + "90,a,m,lots\n", encoding="utf-8")
    code = main(["replay", str(files["signals"]), "--config", str(files["policy"]), "-o",
                 str(tmp_path / "out")])
    assert code == 1
    assert f"scaler replay: {files['signals']}:11: kv_cache = 'lots', not a number" in (
        capsys.readouterr().err)
    assert not (tmp_path / "out").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["conf", "policy.yaml", "signals.csv"]
