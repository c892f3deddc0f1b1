"""Trace loading (real files as they are, error table with line numbers) and transformations."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scaler.errors import ConfigError, DataError
from scaler.sim import trace as tr
from scaler.sim.synth import SynthSpec, parse_synth, synthetic
from tests.shared_paths import TRACES


@pytest.mark.parametrize(("name", "rows", "duration_s", "mean_input"), [
    ("azure_code_2023.csv", 8819, 3435.9, 2048),
    ("mooncake_conversation_first30m.csv", 5719, 1797.0, 12870),
], ids=["azure", "mooncake"])
def test_real_traces_load_as_they_are(name: str, rows: int, duration_s: float,
                                      mean_input: float) -> None:
    trace = tr.load_trace(TRACES / name)
    assert trace.n == rows
    assert trace.duration_s == pytest.approx(duration_s, abs=0.1)
    assert trace.input_tokens.mean() == pytest.approx(mean_input, rel=1e-3)
    assert trace.keys == (tr.DEFAULT_ISVC,)
    assert np.all(np.diff(trace.time_s) >= 0)


def test_mooncake_quantisation_is_detected_and_jitter_spreads_it() -> None:
    trace = tr.load_trace(TRACES / "mooncake_conversation_first30m.csv")
    assert tr.slot_s(trace) == pytest.approx(3.0, abs=0.01)
    spread = tr.jitter(trace, width_s=3.0, rng=np.random.default_rng(1))
    assert tr.slot_s(spread) == 0.0
    assert spread.n == trace.n
    assert np.all(np.diff(spread.time_s) >= 0)
    assert tr.slot_s(tr.load_trace(TRACES / "azure_code_2023.csv")) == 0.0


HEADER = "timestamp_s,input_tokens,output_tokens\n"


@pytest.mark.parametrize(("text", "message"), [
    ("", ":1: empty file"),
    ("time,input_tokens,output_tokens\n0,1,1\n", ":1: missing column(s) timestamp_s"),
    (HEADER, ":1: no requests after the header"),
    (HEADER + "0,10,5\nabc,10,5\n", ":3: timestamp_s = 'abc', must be a number"),
    (HEADER + "0,10,5\n1,10,5\n-1,3,3\n", ":4: timestamp_s = -1.0, must be finite and ≥ 0"),
    (HEADER + "nan,10,5\n", ":2: timestamp_s = nan, must be finite"),
    (HEADER + "0,-3,5\n", ":2: input_tokens = '-3', must be an integer ≥ 0"),
    (HEADER + "0,10,2.5\n", ":2: output_tokens = '2.5', must be an integer ≥ 0"),
    (HEADER + "0,10,x\n", ":2: output_tokens = 'x'"),
    (HEADER + "0,10\n", ":2: 2 fields, expected 3"),
    ("timestamp_s,input_tokens,output_tokens,isvc\n0,1,1,a/b/c\n", ":2: isvc = a/b/c"),
], ids=["empty", "missing-column", "no-rows", "bad-time", "negative-time", "nan-time",
        "negative-tokens", "fractional-tokens", "text-tokens", "short-row", "bad-isvc"])
def test_bad_rows_raise_data_error_with_line(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "t.csv"
    path.write_text(text)
    with pytest.raises(DataError) as err:
        tr.load_trace(path)
    assert f"{path}{message}" in str(err.value)


def test_isvc_column_blank_lines_and_rebasing(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("isvc,timestamp_s,input_tokens,output_tokens,extra\n"
                    "prod/a,12,100,10,x\n\nb,10,50.0,5,y\n,11,1,1,z\n")
    trace = tr.load_trace(path, default_isvc=("ns", "dflt"))
    assert trace.time_s.tolist() == [0.0, 1.0, 2.0]
    assert [trace.keys[i] for i in trace.isvc] == [("default", "b"), ("ns", "dflt"),
                                                    ("prod", "a")]
    assert trace.input_tokens.tolist() == [50, 1, 100]


def _trace(n: int = 1000, seed: int = 0) -> tr.Trace:
    return synthetic(SynthSpec(kind="poisson", rate=2.0, duration=n / 2.0), seed=seed)


def test_window_selects_and_rebases() -> None:
    trace = _trace()
    cut = tr.window(trace, start_s=100.0, duration_s=50.0)
    assert cut.time_s.min() >= 0 and cut.time_s.max() < 50.0
    assert cut.n == np.sum((trace.time_s >= 100) & (trace.time_s < 150))
    with pytest.raises(DataError, match="no requests"):
        tr.window(trace, start_s=1e6)


@pytest.mark.parametrize("method", tr.RATE_METHODS)
@pytest.mark.parametrize("factor", [0.3, 1.0, 2.5], ids=["thin", "same", "more"])
def test_rate_scale_scales_count_and_is_seeded(factor: float, method: str) -> None:
    trace = _trace(20_000)
    a = tr.rate_scale(trace, factor=factor, rng=np.random.default_rng(7), method=method)
    b = tr.rate_scale(trace, factor=factor, rng=np.random.default_rng(7), method=method)
    assert a.n == pytest.approx(factor * trace.n, rel=0.03)
    assert np.array_equal(a.time_s, b.time_s)
    assert a.duration_s <= trace.duration_s + trace.duration_s / trace.n + 1e-9
    if factor > 1:  # copies are not piled on one instant
        assert np.mean(np.diff(a.time_s) == 0) < 0.01


def test_overlay_smooths_bursts_duplicate_keeps_them() -> None:
    trace = tr.load_trace(TRACES / "azure_code_2023.csv")
    peaks = {}
    for method in tr.RATE_METHODS:
        scaled = tr.rate_scale(trace, factor=8, rng=np.random.default_rng(0), method=method)
        per_minute = np.bincount((scaled.time_s // 60).astype(int))
        peaks[method] = per_minute.max() / per_minute.mean()
    assert peaks["duplicate"] == pytest.approx(4.18, rel=0.05)  # the trace's own (README)
    assert peaks["overlay"] < 2.0


def test_speed_tile_and_diurnal() -> None:
    trace = _trace(1000)
    fast = tr.speed(trace, factor=4.0)
    assert fast.duration_s == pytest.approx(trace.duration_s / 4)
    day = tr.tile(trace, until_s=10 * trace.duration_s)
    assert day.n == pytest.approx(10 * trace.n, rel=0.01)
    assert day.duration_s < 10 * trace.duration_s
    assert np.all(np.diff(day.time_s) >= 0)
    cycled = tr.diurnal(tr.tile(trace, until_s=86_400), trough=0.2,
                        rng=np.random.default_rng(0))
    hours = np.bincount((cycled.time_s // 3600).astype(int), minlength=24)
    assert hours[11:13].mean() / hours[[0, 23]].mean() == pytest.approx(1 / 0.2, rel=0.25)


@settings(max_examples=25, deadline=None)
@given(factor=st.floats(0.05, 4.0), seed=st.integers(0, 10))
def test_rate_scale_keeps_rows_valid(factor: float, seed: int) -> None:
    trace = _trace(300, seed)
    try:
        out = tr.rate_scale(trace, factor=factor, rng=np.random.default_rng(seed))
    except DataError:
        return
    assert np.all(np.diff(out.time_s) >= 0)
    assert out.time_s.min() >= 0
    assert set(out.input_tokens.tolist()) <= set(trace.input_tokens.tolist())


@pytest.mark.parametrize(("kind", "extra"), [
    ("poisson", {}), ("step", {"rate": 1.0, "peak": 5.0, "at": 500.0}),
    ("bursty", {"on": 20.0, "off": 60.0})], ids=["poisson", "step", "bursty"])
def test_synthetic_mean_rate(kind: str, extra: dict[str, float]) -> None:
    spec = SynthSpec(kind=kind, duration=4000.0, **({"rate": 3.0} | extra))
    trace = synthetic(spec, seed=3)
    if kind == "step":
        before = np.sum(trace.time_s < 500) / 500
        after = np.sum(trace.time_s >= 500) / 3500
        assert (before, after) == (pytest.approx(1.0, rel=0.2), pytest.approx(5.0, rel=0.1))
    else:
        assert trace.n / 4000 == pytest.approx(3.0, rel=0.2)
    assert np.array_equal(trace.time_s, synthetic(spec, seed=3).time_s)


def test_parse_synth() -> None:
    spec = parse_synth("synthetic:step:rate=2,peak=10,at=10m,duration=1h,input=512,"
                       "tokens=geometric")
    assert (spec.kind, spec.rate, spec.peak, spec.at, spec.duration, spec.input, spec.tokens) == (
        "step", 2.0, 10.0, 600.0, 3600.0, 512, "geometric")
    for bad in ("synthetic:wave", "synthetic:poisson:speed=2", "synthetic:poisson:at=soon",
                "synthetic:poisson:tokens=many"):
        with pytest.raises(ConfigError):
            parse_synth(bad)
