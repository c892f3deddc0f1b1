"""Time arguments of `scaler record` and the tick grid."""

from __future__ import annotations

import pytest

from scaler.errors import ConfigError
from scaler.replay.times import parse_duration_s, parse_time_s
from scaler.ticks import grid_range_s

NOW = 1_714_608_000.0  # 2024-05-02T00:00:00Z


@pytest.mark.parametrize(("text", "expected"), [
    ("now", NOW),
    ("-24h", NOW - 86400),
    ("-1h30m", NOW - 5400),
    ("-90", NOW - 90),
    ("1714521600", 1_714_521_600.0),
    ("1714521600.5", 1_714_521_600.5),
    ("2024-05-01T00:00:00Z", 1_714_521_600.0),
    ("2024-05-01T02:00:00+02:00", 1_714_521_600.0),
    ("2024-05-01T00:00:00.250Z", 1_714_521_600.25),
], ids=["now", "relative-h", "relative-hm", "relative-plain", "unix", "unix-frac", "rfc3339-z",
        "rfc3339-offset", "rfc3339-frac"])
def test_parse_time(text: str, expected: float) -> None:
    assert parse_time_s(text, now_s=NOW, name="--start") == expected


@pytest.mark.parametrize(("text", "message"), [
    ("yesterday", "--start = 'yesterday', must be RFC 3339"),
    ("2024-05-01T00:00:00", "--start = '2024-05-01T00:00:00' has no UTC offset"),
    ("-5x", "--start = '5x', must be a duration"),
], ids=["word", "naive", "bad-relative"])
def test_parse_time_rejects(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        parse_time_s(text, now_s=NOW, name="--start")


@pytest.mark.parametrize(("text", "expected"), [("15s", 15.0), ("1m", 60.0), ("7.5", 7.5)],
                         ids=["15s", "1m", "plain"])
def test_parse_step(text: str, expected: float) -> None:
    assert parse_duration_s(text, name="--step") == expected


@pytest.mark.parametrize("text", ["0s", "-15s", "fast"])
def test_parse_step_rejects(text: str) -> None:
    with pytest.raises(ConfigError, match=f"--step = '{text}'"):
        parse_duration_s(text, name="--step")


@pytest.mark.parametrize(("start", "end", "step", "expected"), [
    (100, 200, 15, (105.0, 195.0)),
    (105, 195, 15, (105.0, 195.0)),
    (1_714_521_607, 1_714_521_700, 15, (1_714_521_615.0, 1_714_521_690.0)),
    (10, 10.5, 0.5, (10.0, 10.5)),
], ids=["rounds-inwards", "on-grid", "unix", "sub-second"])
def test_grid_range(start: float, end: float, step: float, expected: tuple) -> None:
    assert grid_range_s(start, end, step_s=step) == expected


def test_grid_range_without_a_tick() -> None:
    with pytest.raises(ConfigError, match="no tick of the 15s grid"):
        grid_range_s(101, 104, step_s=15)
