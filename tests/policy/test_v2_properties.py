"""Property tests of policy v2 (DESIGN §3, "v2 (Contract: properties)" 1–6), each property on
its own, over random per-ISVC parameters and random ticks (the v2 oracle equality lives in
test_properties.py):

1. utilization signals only, nothing starting → every Decision field equals the v1 oracle;
2. a recommendation that moves replicas is a power of two (before the min/max clamp);
3. latency never lowers replicas, and asks one power of two at a time, after observation;
4. while pods start (within startup_timeout) desired ≥ min(spec, max_replicas);
5. a scale-down leaves every utilization signal ≤ target × scale_down_utilization, and
   happens neither on missing data nor while pods start, and while latency is above target
   (outside the guard's floor) not below one power of two above utilization's size;
6. reasons, old and new, mean what they say.
"""

from __future__ import annotations

from typing import Any
from unittest import mock

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from scaler.policy import Decision, PolicyParams, PolicyState, step
from scaler.policy import kernel as _policy_kernel
from scaler.policy.guard import FLOOR
from tests import reference_policy_v1 as v1
from tests.policy.helpers import drawn_params

NAN, INF = float("nan"), float("inf")
SIGNALS = ("latency_p99", "kv_cache", "cpu")
POW2_CAP = float(2**62)
"""Decision.recommendation saturates here."""
V1_FIELDS = ("desired", "pressure", "reason", "active", "recommendation", "current")

odd_values = st.sampled_from([NAN, INF, -INF, -1.0, -0.0, 0.0, 1e308, 5e-324, 1e-300, 2.0])
signal_value = st.one_of(st.floats(0.0, 3.0), odd_values)
finite_current = st.one_of(
    st.integers(0, 70).map(float),
    st.floats(-3.0, 70.0),
    st.sampled_from([1e30, 65535.0, 70000.0]),
)
current_value = st.one_of(finite_current, st.sampled_from([NAN, INF, -INF]))


@st.composite
def v2_params(draw: st.DrawFn, kinds: str = "mixed", max_n: int = 5,
              max_offsets: tuple[int, ...] = (0, 1, 3, 60, 65534 - 6),
              startup_timeouts: tuple[float, ...] = (0.0, 15.0, 30.0, 60.0, 600.0),
              ) -> PolicyParams:
    """Random per-ISVC parameters; `kinds`: "utilization" (every signal, latency_p99 included,
    explicitly of kind utilization), "latency" (every signal of kind latency) or "mixed"."""
    n = draw(st.integers(1, max_n))
    names = draw(st.lists(st.sampled_from(SIGNALS), min_size=1, max_size=3, unique=True))
    vec = lambda s: np.array(draw(st.lists(s, min_size=n, max_size=n)))  # noqa: E731
    targets = {
        name: vec(st.one_of(st.floats(0.01, 5.0), st.sampled_from([NAN, 1e-300, 1e300])))
        for name in names
    }
    if kinds == "mixed":
        kind_of = {name: draw(st.sampled_from(["latency", "utilization"])) for name in names}
    else:
        kind_of = dict.fromkeys(names, kinds)
    return drawn_params(draw, vec, n, targets=targets, kinds=kind_of,
                        max_offsets=max_offsets, startup_timeouts=startup_timeouts)


FACTORS = {"utilization": (0.0, 0.05, 0.2, 0.4, 0.8, 1.0, 1.5, 2.5, NAN),
           "latency": (0.5, 1.0, 1.5, 2.5, 2.5, NAN)}
"""Signal values as multiples of their target (`scaled` ticks): every band of the policy,
latency more often above target than not."""


@st.composite
def tick_strategy(draw: st.DrawFn, params: PolicyParams, *, spec: str = "any",
                  current: st.SearchStrategy[float] = current_value,
                  scaled: bool = False) -> dict[str, Any]:
    """One tick: signals (some keys missing), current, requests and spec.

    Signal values are random, or with `scaled` mostly FACTORS × their target. spec "any":
    None, current + an offset (pods starting, terminating, NaN) or unrelated; "none-starting":
    None, = current, NaN, or below current, per ISVC (never pods starting).
    """
    n = params.n
    vec = lambda s: np.array(draw(st.lists(s, min_size=n, max_size=n)), dtype=float)  # noqa: E731
    names = draw(st.lists(st.sampled_from(params.signals), unique=True))
    signals = {name: vec(signal_value) for name in names}
    if scaled and draw(st.integers(0, 3)):
        kinds = params.kinds or ()
        signals = {name: vec(st.sampled_from(FACTORS[kind])) * params.targets[:, k]
                   for k, (name, kind) in enumerate(zip(params.signals, kinds, strict=True))}
    requests = draw(st.one_of(st.none(), st.just(vec(signal_value))))
    cur = vec(current)
    if spec == "any":
        spec_value = draw(st.one_of(st.none(), st.just(cur + vec(st.sampled_from(
            [0.0, 0.0, 1.0, 3.0, 8.0, -1.0, NAN, 0.5]))), st.just(vec(current_value))))
    else:
        offset = vec(st.sampled_from([0.0, NAN, -1.0, -3.0, -INF]))
        with np.errstate(invalid="ignore"):
            below = cur + offset
        spec_value = draw(st.sampled_from([None, cur, below]))
    return {"signals": signals, "current": cur, "requests": requests, "spec": spec_value}


def do_step(state: PolicyState, params: PolicyParams,
            tick: dict[str, Any]) -> tuple[Decision, PolicyState]:
    return step(state, params, tick["signals"], tick["current"], requests=tick["requests"],
                spec=tick["spec"])


def in_flight(spec: np.ndarray | None, c: np.ndarray) -> np.ndarray:
    """Requested replicas as the policy reads them: ceil(spec), NaN/±inf → c, at least c."""
    if spec is None:
        return c.copy()
    with np.errstate(invalid="ignore"):
        return np.maximum(np.where(np.isfinite(spec), np.ceil(spec), c), c)


def is_pow2(a: np.ndarray) -> np.ndarray:
    return (a > 0) & ((a & (a - 1)) == 0)


def next_pow2(c: np.ndarray) -> np.ndarray:
    """Smallest power of two > c (c ≥ 1)."""
    return np.exp2(np.floor(np.log2(c)) + 1.0)


class Starting:
    """Which ISVCs have had pods starting (spec > ready) for less than startup_timeout.

    Counts the ticks of an unbroken run with spec > c (this tick included); the first of them
    is 0 s into the run, the k-th (k − 1) · interval s.
    """

    def __init__(self, params: PolicyParams) -> None:
        self.params = params
        self.ticks = np.zeros(params.n, np.int64)

    def update(self, sp: np.ndarray, c: np.ndarray) -> np.ndarray:
        self.ticks = np.where(sp > c, self.ticks + 1, 0)
        elapsed = (self.ticks - 1) * self.params.interval_s
        return (self.ticks > 0) & (elapsed < self.params.startup_timeout_s)


# --- Property 1 -------------------------------------------------------------------------------

@settings(max_examples=100, deadline=None)
@given(data=st.data())
def test_utilization_only_nothing_starting_is_v1(data: st.DataObject):
    """Every Decision field equals the untouched v1 oracle's, tick by tick."""
    params = data.draw(v2_params(kinds="utilization", max_n=7))
    assert set(params.kinds or ()) == {"utilization"}
    state, oracle = PolicyState.empty(params), v1.RefPolicy(params)
    chunk = data.draw(st.sampled_from([1, 2, 3, _policy_kernel.CHUNK]), label="chunk")
    with mock.patch.object(_policy_kernel, "CHUNK", chunk):
        for t in range(data.draw(st.integers(1, 25), label="ticks")):
            tick = data.draw(tick_strategy(params, spec="none-starting", scaled=True))
            decision, state = do_step(state, params, tick)
            expected = v1.as_arrays(oracle.step(tick["signals"], tick["current"],
                                                tick["requests"]))
            for name in V1_FIELDS:
                np.testing.assert_array_equal(getattr(decision, name), expected[name],
                                              err_msg=f"{name} at tick {t}")
            assert np.isnan(decision.latency_pressure).all()


# --- Property 2 -------------------------------------------------------------------------------

@settings(max_examples=50, deadline=None)
@given(data=st.data())
def test_moving_recommendation_is_power_of_two(data: st.DataObject):
    """r ≠ c and r ≠ the in-flight spec → r is a power of two, or max_replicas: the latency
    guard asks min(next power of two, max_replicas), the clamp desired gets anyway."""
    params = data.draw(v2_params())
    state = PolicyState.empty(params)
    for t in range(data.draw(st.integers(1, 30), label="ticks")):
        tick = data.draw(tick_strategy(params, scaled=True))
        decision, state = do_step(state, params, tick)
        r, c = decision.recommendation, decision.current
        moving = (r != c) & (r != in_flight(tick["spec"], c))
        ok = is_pow2(r) | (r == params.max_replicas)
        assert ok[moving].all(), (t, r, c, tick["spec"])


# --- Property 3 -------------------------------------------------------------------------------

@settings(max_examples=50, deadline=None)
@given(data=st.data())
def test_latency_alone_never_scales_down(data: st.DataObject):
    """Only latency signals: recommendation ≥ c and desired ≥ min(c, max_replicas), whatever
    the ticks (current unknown included: then c is the previous desired)."""
    params = data.draw(v2_params(kinds="latency"))
    state = PolicyState.empty(params)
    for t in range(data.draw(st.integers(1, 30), label="ticks")):
        decision, state = do_step(state, params, data.draw(tick_strategy(params, scaled=True)))
        c = decision.current
        assert np.isnan(decision.pressure).all()
        assert (decision.recommendation >= np.minimum(c, POW2_CAP)).all(), t
        assert (decision.desired >= np.minimum(c, params.max_replicas)).all(), t


@settings(max_examples=50, deadline=None)
@given(data=st.data())
def test_latency_signals_never_lower_desired(data: st.DataObject):
    """The same ticks with and without their latency signals (current known): the run that
    sees latency recommends and decides at least as much as the one that does not."""
    params = data.draw(v2_params(kinds="mixed"))
    latency = [s for s, k in zip(params.signals, params.kinds or (), strict=True)
               if k == "latency"]
    with_lat, without = PolicyState.empty(params), PolicyState.empty(params)
    for t in range(data.draw(st.integers(1, 30), label="ticks")):
        tick = data.draw(tick_strategy(params, current=finite_current, scaled=True))
        blind = {**tick, "signals": {k: np.full(params.n, NAN) if k in latency else v
                                     for k, v in tick["signals"].items()}}
        a, with_lat = do_step(with_lat, params, tick)
        b, without = do_step(without, params, blind)
        np.testing.assert_array_equal(a.pressure, b.pressure)
        assert (a.recommendation >= b.recommendation).all(), t
        assert (a.desired >= b.desired).all(), (t, a.desired, b.desired)


LATENCY_FACTORS = (3.0, 2.0, 2.0, 2.0, 1.6, 1.6, 1.2, 0.9, 0.3, NAN)
"""Latency signal values as multiples of their target in the closed-loop test."""


@settings(max_examples=50, deadline=None)
@given(data=st.data())
def test_latency_asks_one_step_after_observation(data: st.DataObject):
    """Closed loop, only latency signals: spec = the previous desired, pods ready `delay`
    ticks later. Each tick c ≤ desired ≤ min(next power of two above c, max_replicas); the
    first rise comes after the sustain window, and the next only after the pods of the
    previous one were ready and observed: rises are ≥ delay + observe + sustain − 1 ticks
    apart."""
    # startup_timeout (≥ 60 s ≥ 4 ticks) longer than the delay: pods in flight hold desired.
    params = data.draw(v2_params(kinds="latency", max_offsets=(1, 3, 60),
                                 startup_timeouts=(60.0, 600.0)))
    n = params.n
    delay = data.draw(st.integers(1, 3), label="delay")
    lo = np.maximum(params.min_replicas, 1)
    first = np.array([data.draw(st.integers(int(a), int(b)), label="c0")
                      for a, b in zip(lo, params.max_replicas, strict=True)], dtype=float)
    desired_hist = [first]
    state = PolicyState.empty(params)
    last_rise = np.full(n, -(10**6))
    gap = delay + params.observe_ticks + params.sustain_ticks - 1
    for t in range(data.draw(st.integers(1, 40), label="ticks")):
        # latency mostly above target (sustained runs), sometimes within it or missing
        factor = np.array(data.draw(st.lists(st.sampled_from(LATENCY_FACTORS), min_size=n,
                                             max_size=n)))
        signals = {name: factor * params.targets[:, k] for k, name in enumerate(params.signals)}
        ready = desired_hist[max(0, len(desired_hist) - delay)]
        spec = desired_hist[-1]
        decision, state = step(state, params, signals, ready, spec=spec)
        c, d = decision.current, decision.desired
        np.testing.assert_array_equal(c, ready)
        assert (d >= c).all(), (t, d, c)
        assert (d <= np.minimum(next_pow2(c), params.max_replicas)).all(), (t, d, c)
        rose = d > spec
        assert (is_pow2(d) | (d == params.max_replicas))[rose].all(), (t, d)
        assert (t >= params.sustain_ticks - 1)[rose].all(), (t, d)
        assert (t - last_rise >= gap)[rose].all(), (t, last_rise, gap)
        last_rise = np.where(rose, t, last_rise)
        desired_hist.append(d.astype(float))


# --- Property 4 -------------------------------------------------------------------------------

@settings(max_examples=50, deadline=None)
@given(data=st.data())
def test_starting_pods_hold_desired(data: st.DataObject):
    """While spec > ready and the startup timeout has not passed since pods began starting,
    desired ≥ min(ceil(spec), max_replicas)."""
    params = data.draw(v2_params())
    state, starting = PolicyState.empty(params), Starting(params)
    for t in range(data.draw(st.integers(1, 30), label="ticks")):
        tick = data.draw(tick_strategy(params, scaled=True))
        decision, state = do_step(state, params, tick)
        sp = in_flight(tick["spec"], decision.current)
        held = starting.update(sp, decision.current)
        floor = np.minimum(sp, params.max_replicas)
        assert (decision.desired >= floor)[held].all(), (t, decision.desired, sp)


# --- Property 5 -------------------------------------------------------------------------------

@settings(max_examples=50, deadline=None)
@given(data=st.data())
def test_scale_down_only_when_the_smaller_fleet_absorbs_the_load(data: st.DataObject):
    """desired < min(c, max_replicas) (a scale-down, not the max clamp) only with utilization
    data, c · P_u / desired ≤ scale_down_utilization (every utilization signal predicted at
    the new count within target × sdu), no pods starting, and with latency above target outside
    the guard's floor not below twice utilization's power of two."""
    params = data.draw(v2_params())
    state, starting = PolicyState.empty(params), Starting(params)
    for t in range(data.draw(st.integers(1, 30), label="ticks")):
        tick = data.draw(tick_strategy(params, scaled=True))
        decision, state = do_step(state, params, tick)
        c, d, p = decision.current, decision.desired, decision.pressure
        held = starting.update(in_flight(tick["spec"], c), c)
        down = d < np.minimum(c, params.max_replicas)
        if not down.any():
            continue
        assert not np.isnan(p[down]).any(), t
        with np.errstate(over="ignore", invalid="ignore"):
            absorbed = (c * p) / params.scale_down_utilization <= d
        assert absorbed[down].all(), (t, c, p, d)
        assert not held[down].any(), t
        assert state.guard is not None
        blocked = (decision.latency_pressure > params.up_threshold) & (state.guard.phase != FLOOR)
        # latency above target outside the floor: down at most to one power of two above
        # what utilization sizes (the most latency could have asked for)
        with np.errstate(over="ignore", invalid="ignore"):
            sized = 2.0 ** np.ceil(np.log2(np.maximum(c * p / params.scale_down_utilization, 1)))
        assert (d >= np.minimum(c, 2 * sized))[down & blocked].all(), (t, c, p, d)


# --- Property 6 -------------------------------------------------------------------------------

@settings(max_examples=50, deadline=None)
@given(data=st.data())
def test_reasons_keep_their_meaning(data: st.DataObject):
    """v1's reasons mean what they meant (scale-up: desired > c, …); `starting`: pods in
    flight lifted desired above c, to at most spec; `latency-floor`: the guard is in floor,
    latency above target, desired = c."""
    params = data.draw(v2_params())
    state = PolicyState.empty(params)
    for t in range(data.draw(st.integers(1, 30), label="ticks")):
        tick = data.draw(tick_strategy(params, scaled=True))
        decision, state = do_step(state, params, tick)
        assert state.guard is not None
        c, d = decision.current, decision.desired
        sp = in_flight(tick["spec"], c)
        reason = np.array(decision.reason_names())
        same = d == c
        expect = {
            "scale-up": d > c,
            "scale-down": d < c,
            "hold": same,
            "stabilizing": same,
            "no-data": same & np.isnan(decision.pressure) & np.isnan(decision.latency_pressure),
            "starting": (sp > c) & (d > c) & (d <= sp),
            "latency-floor": same & (state.guard.phase == FLOOR)
            & (decision.latency_pressure > params.up_threshold),
        }
        for name, ok in expect.items():
            where = reason == name
            assert ok[where].all(), (t, name, c[where], d[where])
