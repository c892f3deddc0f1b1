"""ConfigWatcher with a real file and real kubelet-style `..data` symlink swaps (no sleeping)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from scaler.errors import ConfigError
from scaler.metrics import ScalerMetrics
from scaler.serving.reload import ConfigWatcher, apply_reload_metrics
from tests.fakes import FakeClock

from .kubelet import ConfigMapVolume

GOOD_1 = "interval: 15s\npolicies: {default: {max_replicas: 8}}\n"
GOOD_2 = "interval: 30s\npolicies: {default: {max_replicas: 16}}\n"
BAD = "interval: 0\npolicies: {default: {max_replicas: -1}}\n"


@pytest.fixture
def volume(tmp_path: Path) -> ConfigMapVolume:
    vol = ConfigMapVolume(tmp_path / "config")
    vol.update({"policy.yaml": GOOD_1, "other.txt": "x"})
    return vol


def test_configmap_swaps_good_bad_good(volume: ConfigMapVolume) -> None:
    path = volume.root / "policy.yaml"
    watcher = ConfigWatcher(path, clock=FakeClock(now_s=1000.0, step_s=1.0))

    first = watcher.poll()
    assert (first.kind, first.generation) == ("applied", 1)
    assert first.config is not None and first.config.interval_s == 15.0
    assert first.config.source == str(path)
    assert first.realpath.endswith("..2026_11_23_19_30_00.000000001/policy.yaml")
    assert first.checked_s == 1001.0
    assert watcher.poll().kind == "unchanged"

    new_dir = volume.update({"policy.yaml": GOOD_2, "other.txt": "x"})
    applied = watcher.poll()
    assert (applied.kind, applied.generation) == ("applied", 2)
    assert applied.config is not None and applied.config.interval_s == 30.0
    assert applied.realpath == os.path.realpath(new_dir / "policy.yaml")
    assert watcher.config is applied.config

    volume.update({"policy.yaml": BAD, "other.txt": "x"})
    rejected = watcher.poll()
    assert (rejected.kind, rejected.generation, rejected.config) == ("rejected", 2, None)
    assert rejected.errors == ("interval = 0, must be > 0",
                               "policies.default.max_replicas = -1, must be in [1, 65534]")
    assert watcher.config is applied.config and watcher.generation == 2
    assert watcher.errors == rejected.errors
    assert "keeping generation 2" in rejected.message
    # The same bad content is reported once, not every second.
    assert watcher.poll().kind == "unchanged"
    assert watcher.errors == rejected.errors

    volume.update({"policy.yaml": GOOD_2, "other.txt": "x"})  # back to the config in force
    restored = watcher.poll()
    assert (restored.kind, restored.generation) == ("unchanged", 2)
    assert watcher.errors == ()

    volume.update({"policy.yaml": GOOD_1, "other.txt": "x"})
    again = watcher.poll()
    assert (again.kind, again.generation) == ("applied", 3)


def test_swap_of_other_key_with_same_policy_is_unchanged(volume: ConfigMapVolume) -> None:
    watcher = ConfigWatcher(volume.root / "policy.yaml")
    assert watcher.poll().kind == "applied"
    volume.update({"policy.yaml": GOOD_1, "other.txt": "changed"})
    result = watcher.poll()
    assert (result.kind, result.generation) == ("unchanged", 1)


def test_in_place_rewrite_with_same_size_and_mtime_is_detected(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text("interval: 15s\n")
    stat = path.stat()
    watcher = ConfigWatcher(path)
    assert watcher.poll().kind == "applied"
    path.write_text("interval: 45s\n")  # same length
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    result = watcher.poll()
    assert result.kind == "applied" and watcher.config is not None
    assert watcher.config.interval_s == 45.0


def test_missing_file_is_rejected_then_recovers(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    watcher = ConfigWatcher(path)
    missing = watcher.poll()
    assert (missing.kind, missing.generation) == ("rejected", 0)
    assert missing.errors == (f"cannot read {path}: No such file or directory",)
    assert watcher.poll().kind == "unchanged"
    with pytest.raises(ConfigError, match="cannot read"):
        watcher.load()
    path.write_text(GOOD_1)
    assert watcher.poll().kind == "applied"
    path.unlink()
    gone = watcher.poll()
    assert (gone.kind, gone.generation) == ("rejected", 1)
    assert watcher.config is not None and watcher.config.interval_s == 15.0


def test_non_utf8_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_bytes(b"interval: \xff\xfe\n")
    result = ConfigWatcher(path).poll()
    assert result.kind == "rejected"
    assert result.errors[0].startswith("not UTF-8 text: invalid start byte at byte 10")


def test_load_returns_first_config_or_raises(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(BAD)
    with pytest.raises(ConfigError) as info:
        ConfigWatcher(path).load()
    assert info.value.errors[0] == "interval = 0, must be > 0"
    assert str(info.value).startswith(f"{path}: ")
    path.write_text(GOOD_1)
    watcher = ConfigWatcher(path)
    config = watcher.load()
    assert watcher.generation == 1 and watcher.load() is config


def test_apply_reload_metrics(volume: ConfigMapVolume) -> None:
    metrics = ScalerMetrics(CollectorRegistry())
    watcher = ConfigWatcher(volume.root / "policy.yaml")

    def sample(name: str) -> float | None:
        return metrics.registry.get_sample_value(name)

    apply_reload_metrics(watcher.poll(), metrics)
    assert sample("isvc_scaler_config_generation") == 1.0
    assert sample("isvc_scaler_config_reloads_total") == 0.0
    volume.update({"policy.yaml": BAD})
    apply_reload_metrics(watcher.poll(), metrics)
    apply_reload_metrics(watcher.poll(), metrics)  # unchanged: not counted twice
    assert sample("isvc_scaler_config_reload_errors_total") == 1.0
    assert sample("isvc_scaler_config_generation") == 1.0
    volume.update({"policy.yaml": GOOD_2})
    apply_reload_metrics(watcher.poll(), metrics)
    assert sample("isvc_scaler_config_generation") == 2.0
    assert sample("isvc_scaler_config_reloads_total") == 1.0
