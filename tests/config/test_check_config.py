"""`scaler check-config FILE…`: exit codes and output, through the real CLI dispatcher."""

from __future__ import annotations

from pathlib import Path

import pytest

from scaler.cli import main


def test_valid_file_prints_summary(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text("interval: 30s\npolicies: {batch: {targets: {kv_cache: 0.9}}}\n"
                    "isvcs: {prod/a: {max_replicas: 4}, prod/b: {policy: batch}}\n")
    assert main(["check-config", str(path)]) == 0
    out, err = capsys.readouterr()
    assert out == (f"{path}: OK, 2 policies (batch, default), 2 isvc overrides, interval 30s, "
                   "stale_after 1m30s, prometheus http://localhost:9090\n")
    assert err == ""


def test_invalid_file_prints_every_error(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text("interval: 0\npolicies:\n  batch:\n    targets: {kv_cache: -1}\n"
                    "    scale_down_window: -5s\n")
    assert main(["check-config", str(path)]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err.splitlines() == [
        f"{path}: interval = 0, must be > 0",
        f"{path}: policies.batch.targets.kv_cache = -1, must be > 0",
        f"{path}: policies.batch.scale_down_window = -5s, must be ≥ 0",
    ]


def test_yaml_error_names_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text("interval: 15s\npolicies:\n  default: {max_replicas: 4\n")
    assert main(["check-config", str(path)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"{path}: line 4, column 1: invalid YAML: ")


def test_several_files_and_missing_file(tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    good = tmp_path / "good.yaml"
    good.write_text("")
    missing = tmp_path / "missing.yaml"
    assert main(["check-config", str(good), str(missing)]) == 1
    out, err = capsys.readouterr()
    assert out.startswith(f"{good}: OK, 1 policy (default), 0 isvc overrides")
    assert err.startswith(f"{missing}: cannot read: ")


def test_requires_a_file(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["check-config"])
    assert info.value.code == 2
    assert "FILE" in capsys.readouterr().err


def test_simulation_section_is_validated(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text("simulation:\n  serving: {max_num_seqs: 0}\n")
    assert main(["check-config", str(path)]) == 1
    err = capsys.readouterr().err
    assert f"{path}: simulation.serving.max_num_seqs = 0, must be ≥ 1" in err.splitlines()
