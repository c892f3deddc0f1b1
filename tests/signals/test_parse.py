"""parse_vector / parse_matrix / align: every bad-input case without Prometheus."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from scaler.errors import SignalError
from scaler.signals.frames import (
    SignalFrame,
    SignalHistory,
    align,
    align_history,
    parse_matrix,
    parse_vector,
)
from scaler.ticks import tick_grid

LABELS = {"namespace_label": "namespace", "isvc_label": "isvc"}


def series(ns: str | None, isvc: str | None, value: Any, **extra: str) -> dict[str, Any]:
    metric = {k: v for k, v in (("namespace", ns), ("isvc", isvc)) if v is not None} | extra
    return {"metric": metric, "value": [1_800_000_000.0, value]}


def causes(parsed: Any) -> dict[str, int]:
    return {i.cause: i.count for i in parsed.issues}


@pytest.mark.parametrize(("result", "expected", "issues"), [
    pytest.param([series("a", "x", "0.5"), series("b", "y", "2")],
                 {("a", "x"): 0.5, ("b", "y"): 2.0}, {}, id="clean"),
    pytest.param([], {}, {}, id="empty"),
    pytest.param([series("a", "x", "NaN")], {("a", "x"): math.nan}, {"non_finite": 1}, id="nan"),
    pytest.param([series("a", "x", "+Inf"), series("a", "y", "-Inf")],
                 {("a", "x"): math.nan, ("a", "y"): math.nan}, {"non_finite": 2}, id="inf"),
    pytest.param([series("a", "x", "zzz")], {("a", "x"): math.nan}, {"malformed": 1},
                 id="unparsable-value"),
    pytest.param([{"metric": {"namespace": "a", "isvc": "x"}, "value": []}],
                 {("a", "x"): math.nan}, {"malformed": 1}, id="empty-pair"),
    pytest.param([series("a", "x", "1", pod="p1"), series("a", "x", "3", pod="p2"),
                  series("a", "y", "4")],
                 {("a", "x"): math.nan, ("a", "y"): 4.0}, {"duplicate": 1}, id="duplicate"),
    pytest.param([series(None, "x", "1"), series("a", None, "1"), series("", "x", "1"),
                  series("a", "z", "1")],
                 {("a", "z"): 1.0}, {"missing_labels": 3}, id="missing-labels"),
    pytest.param([{"value": [0, "1"]}], {}, {"missing_labels": 1}, id="no-metric"),
])
def test_parse_vector(result: list[Any], expected: dict[Any, float],
                      issues: dict[str, int]) -> None:
    parsed = parse_vector(result, signal="kv_cache", **LABELS)
    assert set(parsed.values) == set(expected)
    for key, value in expected.items():
        assert parsed.values[key] == pytest.approx(value, nan_ok=True)
    assert causes(parsed) == issues


@pytest.mark.parametrize(("result", "cause"), [
    pytest.param([{"metric": {"namespace": "a", "isvc": "x"}, "values": [[0, "1"]]}], "matrix",
                 id="matrix"),
    pytest.param([1_800_000_000.0, "3"], "malformed", id="scalar"),
    pytest.param({"resultType": "vector"}, "malformed", id="dict"),
    pytest.param(None, "malformed", id="none"),
    pytest.param(["oops"], "malformed", id="string-item"),
])
def test_parse_vector_rejects_non_vectors(result: Any, cause: str) -> None:
    with pytest.raises(SignalError) as e:
        parse_vector(result, signal="cpu", **LABELS)
    assert e.value.cause_kind == cause
    assert e.value.signal == "cpu"


def test_custom_identity_labels() -> None:
    result = [{"metric": {"ns": "a", "serving_kserve_io_inferenceservice": "x", "namespace": "q"},
               "value": [0, "1.5"]}]
    parsed = parse_vector(result, signal="cpu", namespace_label="ns",
                          isvc_label="serving_kserve_io_inferenceservice")
    assert parsed.values == {("a", "x"): 1.5}


def test_align_union_sorted_with_nan_holes() -> None:
    keys, m = align({"kv_cache": {("b", "y"): 0.5, ("a", "x"): 0.25},
                     "cpu": {("a", "x"): 1.0, ("c", "z"): 2.0}},
                    signals=("latency_p99", "kv_cache", "cpu"))
    assert keys == (("a", "x"), ("b", "y"), ("c", "z"))
    expected = np.array([[np.nan, 0.25, 1.0], [np.nan, 0.5, np.nan], [np.nan, np.nan, 2.0]])
    np.testing.assert_array_equal(m, expected)
    assert m.dtype == np.float64


@given(st.dictionaries(
    st.sampled_from(["latency_p99", "kv_cache", "cpu", "replicas"]),
    st.dictionaries(st.tuples(st.sampled_from("abc"), st.sampled_from("xyz")),
                    st.floats(allow_nan=True, allow_infinity=False), max_size=6),
    max_size=4))
def test_align_places_every_value(columns: dict[str, dict[tuple[str, str], float]]) -> None:
    signals = ("latency_p99", "kv_cache", "cpu", "replicas")
    keys, m = align(columns, signals=signals)
    assert m.shape == (len(keys), len(signals))
    assert list(keys) == sorted(keys)
    for k, name in enumerate(signals):
        for i, key in enumerate(keys):
            want = columns.get(name, {}).get(key, math.nan)
            assert (math.isnan(want) and math.isnan(m[i, k])) or m[i, k] == want


def matrix_series(ns: str, isvc: str, points: list[tuple[float, str]]) -> dict[str, Any]:
    return {"metric": {"namespace": ns, "isvc": isvc}, "values": [list(p) for p in points]}


def test_parse_matrix_on_grid() -> None:
    grid = tick_grid(start_s=100.0, end_s=130.0, step_s=15.0)
    assert grid.tolist() == [100.0, 115.0, 130.0]
    result = [matrix_series("a", "x", [(100, "1"), (130, "NaN")]),
              matrix_series("a", "y", [(115, "2"), (117, "9")]),
              matrix_series("a", "y", [(115, "3")])]
    parsed = parse_matrix(result, signal="kv_cache", times_s=grid, **LABELS)
    np.testing.assert_array_equal(parsed.values[("a", "x")], [1.0, np.nan, np.nan])
    np.testing.assert_array_equal(parsed.present[("a", "x")], [True, False, True])
    np.testing.assert_array_equal(parsed.values[("a", "y")], [np.nan, np.nan, np.nan])
    np.testing.assert_array_equal(parsed.present[("a", "y")], [False, True, False])
    assert causes(parsed) == {"non_finite": 1, "off_grid": 1, "duplicate": 1}


def test_parse_matrix_rejects_vector() -> None:
    with pytest.raises(SignalError) as e:
        parse_matrix([series("a", "x", "1")], signal="cpu", times_s=np.array([0.0]), **LABELS)
    assert e.value.cause_kind == "malformed"


def test_history_frames_match_presence() -> None:
    grid = tick_grid(start_s=0.0, end_s=2.0, step_s=1.0)
    kv = parse_matrix([matrix_series("a", "x", [(0, "0.1"), (1, "0.2")]),
                       matrix_series("a", "y", [(1, "0.5"), (2, "0.6")])],
                      signal="kv_cache", times_s=grid, **LABELS)
    rep = parse_matrix([matrix_series("a", "x", [(0, "2"), (1, "2"), (2, "2")])],
                       signal="replicas", times_s=grid, **LABELS)
    signals = ("kv_cache", "replicas")
    keys, values, present = align_history({"kv_cache": kv, "replicas": rep}, signals=signals,
                                          times_s=grid)
    hist = SignalHistory(grid, keys, signals, values, present, queried=signals)
    f0, f1, f2 = (hist.frame(t) for t in range(3))
    assert f0.keys == (("a", "x"),) and f0.values.tolist() == [[0.1, 2.0]]
    assert f1.keys == (("a", "x"), ("a", "y"))
    assert f2.keys == (("a", "x"), ("a", "y"))
    assert math.isnan(f2.values[0, 0]) and f2.values[1].tolist()[0] == 0.6
    assert f2.time_s == 2.0


@pytest.mark.parametrize(("queried", "failed", "all_failed"), [
    pytest.param(("kv_cache", "cpu"), {"kv_cache": "timeout", "cpu": "connection"}, True,
                 id="all"),
    pytest.param(("kv_cache", "cpu"), {"kv_cache": "timeout"}, False, id="some"),
    pytest.param((), {}, False, id="nothing-queried"),
])
def test_all_failed(queried: tuple[str, ...], failed: dict[str, str], all_failed: bool) -> None:
    frame = SignalFrame(0.0, (), ("kv_cache", "cpu"), np.empty((0, 2)), queried=queried,
                        failed=failed)
    assert frame.all_failed is all_failed


def test_column_of_unknown_signal_is_nan() -> None:
    frame = SignalFrame(0.0, (("a", "x"),), ("kv_cache",), np.array([[0.5]]))
    assert frame.column("kv_cache").tolist() == [0.5]
    assert math.isnan(frame.column("cpu")[0])
