"""Duration parsing (`15s`, `5m`, `1h30m`, plain seconds) and its inverse."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scaler.config import format_duration, parse_duration


@pytest.mark.parametrize(("text", "seconds"), [
    ("15s", 15.0),
    ("5m", 300.0),
    ("1h", 3600.0),
    ("1h30m", 5400.0),
    ("1h30m15s", 5415.0),
    ("1d", 86400.0),
    ("250ms", 0.25),
    ("1m30s", 90.0),
    ("1s500ms", 1.5),
    ("1.5m", 90.0),
    (".5s", 0.5),
    ("0s", 0.0),
    ("0", 0.0),
    ("90", 90.0),
    ("2.5", 2.5),
    ("1e3", 1000.0),
    (" 15s ", 15.0),
    ("-5s", -5.0),
    ("-1h30m", -5400.0),
    ("+10s", 10.0),
    (15, 15.0),
    (0.25, 0.25),
    (-3, -3.0),
], ids=lambda v: repr(v))
def test_parse_duration_valid(text: object, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", [
    "", " ", "s", "m5", "5 m", "5x", "5sec", "1m1h", "30s1m", "1h1h", "1h30", "5ms5s",
    "1.2.3s", "--5s", "nan", "inf", ".inf", "5min",
], ids=lambda v: repr(v))
def test_parse_duration_invalid_text(text: str) -> None:
    with pytest.raises(ValueError, match="must be"):
        parse_duration(text)


@pytest.mark.parametrize("value", [True, False, None, [1], {"s": 1}, math.nan, math.inf, 10**400],
                         ids=repr)
def test_parse_duration_invalid_types(value: object) -> None:
    with pytest.raises(ValueError, match="must be"):
        parse_duration(value)


def test_unit_order_error_says_why() -> None:
    with pytest.raises(ValueError, match="units must go from d to ms, each once"):
        parse_duration("1m1h")


@pytest.mark.parametrize(("seconds", "text"), [
    (0.0, "0s"), (15.0, "15s"), (90.0, "1m30s"), (5400.0, "1h30m"), (86400.0, "1d"),
    (0.25, "250ms"), (1.5, "1s500ms"), (-5.0, "-5s"), (0.0004, "0.0004"), (3 * 15.0, "45s"),
], ids=str)
def test_format_duration(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


@given(st.integers(min_value=-10**12, max_value=10**12))
def test_format_then_parse_is_identity_on_whole_milliseconds(ms: int) -> None:
    seconds = ms / 1000
    assert parse_duration(format_duration(seconds)) == pytest.approx(seconds, rel=1e-12, abs=1e-9)
