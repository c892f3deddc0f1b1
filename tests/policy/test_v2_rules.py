"""Scenario tables for the v2 rules (DESIGN §3 "v2 (Contract: properties)" 3–6,
scaler/policy/guard.py): one ISVC stepped tick by tick (the tick counter `t` is the only clock),
each row giving `n` ticks of the same inputs and the (desired, reason, guard phase) expected at
each of them.

Targets are 1.0 for `cpu` and `kv_cache` (utilization) and for `latency_p99` (latency, its default
kind), so the pressures are the signal values themselves. Ready replicas (`current`) and
requested ones (`spec`) are given per row; a row's `ready` is what the cluster made of the
previous desired (pods take as many ticks to become ready as the table says).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

from scaler.policy import REASONS, PolicyParams, PolicyState, step
from scaler.policy import guard as _guard
from tests import reference_policy_v1
from tests.policy.helpers import INF, NAN

PHASES = {_guard.IDLE: "idle", _guard.TRIAL: "trial", _guard.FLOOR: "floor",
          _guard.HELPED: "helped"}
IDLE, TRIAL, FLOOR, HELPED = "idle", "trial", "floor", "helped"
UP, DOWN, HOLD, STAB, START, LFLOOR, PANIC, NODATA = (
    "scale-up", "scale-down", "hold", "stabilizing", "starting", "latency-floor", "panic",
    "no-data")

# 15 s ticks; the latency guard's windows and the down window 60 s = 4 ticks each.
SHORT = {"latency_sustain_window_s": 60, "latency_observe_window_s": 60, "scale_down_window_s": 60}


@dataclass(frozen=True)
class Ticks:
    """`n` ticks of the same inputs, each expected to give (desired, reason, phase)."""

    n: int
    ready: float
    spec: float
    cpu: float
    lat: float
    desired: int
    reason: str
    phase: str
    kv: float = NAN
    req: float = NAN  # request rate (req/s), the guard's demand; NaN = unknown


class Isvc:
    """One ISVC (targets cpu = kv_cache = 1.0, latency_p99 = 1.0 s unless given; 15 s ticks)."""

    def __init__(self, latency_target: float = 1.0, **overrides: Any) -> None:
        self.params = PolicyParams.uniform(
            1, targets={"cpu": 1.0, "kv_cache": 1.0, "latency_p99": latency_target},
            interval_s=15, **overrides)
        self.state = PolicyState.empty(self.params)
        self.t = 0

    def tick(self, row: Ticks) -> tuple[int, int, str, str]:
        """Step once; (t, desired, reason, guard phase after the step)."""
        signals = {name: np.array([value]) for name, value in
                   (("cpu", row.cpu), ("kv_cache", row.kv), ("latency_p99", row.lat))}
        decision, self.state = step(self.state, self.params, signals, np.array([row.ready]),
                                    spec=np.array([row.spec]), requests=np.array([row.req]))
        assert self.state.guard is not None
        out = (self.t, int(decision.desired[0]), REASONS[int(decision.reason[0])],
               PHASES[int(self.state.guard.phase[0])])
        self.t += 1
        return out


def run(rows: list[Ticks], **overrides: Any) -> tuple[list[tuple], list[tuple]]:
    """(actual, expected) per tick, each (t, desired, reason, phase)."""
    isvc = Isvc(**overrides)
    actual, expected = [], []
    for row in rows:
        for _ in range(row.n):
            expected.append((isvc.t, row.desired, row.reason, row.phase))
            actual.append(isvc.tick(row))
    return actual, expected


Case = tuple[str, dict[str, Any], list[Ticks]]


def cases(table: list[Case]) -> list[Any]:
    return [pytest.param(rows, overrides, id=name) for name, overrides, rows in table]


# --- Property 4: pods in flight ---------------------------------------------------------------

# 2 → 8 at a load of 6 replicas; the 6 new pods take 8 ticks to become ready while the load
# falls to 1 replica's worth (v1 would fall back to 2 at once, see the test below).
UP_2_TO_8 = [
    #     n  ready spec  cpu   lat  → desired reason phase
    Ticks(1, 2, 2, 3.0, NAN, 8, UP, IDLE),  # t0: ideal 6 → 8
    Ticks(7, 2, 8, 0.5, NAN, 8, START, IDLE),  # t1–t7: starting pods hold desired at spec
    Ticks(3, 8, 8, 0.125, NAN, 8, STAB, IDLE),  # t8–t10: ready; r = 2, the down window holds 8
    Ticks(1, 8, 8, 0.125, NAN, 2, DOWN, IDLE),  # t11: 4 ticks of r = 2
]

STARTING: list[Case] = [
    ("up-2-to-8-held-while-starting", SHORT, UP_2_TO_8),
    # Starting pods are supply: the pressure that asked for 8 does not ask again (no 16), a
    # load beyond the 8 in flight does (one real second step).
    ("same-pressure-no-second-step", SHORT, [
        Ticks(1, 2, 2, 3.0, NAN, 8, UP, IDLE),  # load 6 → 8
        Ticks(1, 2, 8, 3.0, NAN, 8, START, IDLE),  # still load 6 on 2 ready: up = 8 = spec
        Ticks(1, 4, 8, 1.5, NAN, 8, START, IDLE),  # half ready, load 6: up = 8
        Ticks(1, 4, 8, 1.9, NAN, 8, START, IDLE),  # load 7.6: still within the 8 in flight
        Ticks(1, 4, 8, 2.5, NAN, 16, UP, IDLE),  # load 10 > 8 in flight → 16
        Ticks(2, 4, 16, 2.5, NAN, 16, START, IDLE),  # same load: no 32
        Ticks(1, 16, 16, 0.625, NAN, 16, HOLD, IDLE),  # all ready, load 10 on 16: in the band
    ]),
    # Pods that never become ready hold desired for startup_timeout (120 s = 8 ticks), then
    # the floor is released and desired follows the ready replicas again.
    ("startup-timeout-releases-the-floor", {**SHORT, "startup_timeout_s": 120}, [
        Ticks(1, 2, 2, 3.0, NAN, 8, UP, IDLE),
        Ticks(8, 2, 8, 1.0, NAN, 8, START, IDLE),  # t1–t8: 0 … 105 s since first seen
        Ticks(2, 2, 8, 1.0, NAN, 2, HOLD, IDLE),  # t9: 120 s passed → released
    ]),
    ("startup-timeout-zero-holds-one-tick", {**SHORT, "startup_timeout_s": 0}, [
        Ticks(1, 2, 2, 3.0, NAN, 8, UP, IDLE),
        Ticks(1, 2, 8, 1.0, NAN, 8, START, IDLE),
        Ticks(1, 2, 8, 1.0, NAN, 2, HOLD, IDLE),
    ]),
    # An unknown spec is the ready count: nothing is starting, v1 applies.
    ("spec-unknown-is-ready", SHORT, [
        Ticks(1, 2, 2, 3.0, NAN, 8, UP, IDLE),
        Ticks(1, 2, NAN, 0.5, NAN, 2, HOLD, IDLE),
    ]),
    # Fewer requested than ready (pods terminating) is not "starting".
    ("spec-below-ready-is-not-starting", {"scale_down_window_s": 0}, [
        Ticks(1, 8, 4, 0.1, NAN, 2, DOWN, IDLE),
    ]),
    # Pods becoming ready one by one keep the floor until all are ready.
    ("partial-readiness", SHORT, [
        Ticks(1, 2, 2, 3.0, NAN, 8, UP, IDLE),
        Ticks(1, 4, 8, 0.25, NAN, 8, START, IDLE),
        Ticks(1, 7, 8, 0.2, NAN, 8, START, IDLE),
        Ticks(1, 8, 8, 0.25, NAN, 8, STAB, IDLE),  # ready: r = 4, the window still holds 8
    ]),
    # A pod stuck Pending past the startup timeout (3 of 4 ready, for good) must not take the
    # protection away from pods requested later: at t6 the pods asked for at t5 have been
    # starting for one tick, so desired must stay at their spec (8), not fall back to 3.
    ("new-pods-after-a-stuck-pod-timed-out", {**SHORT, "startup_timeout_s": 30}, [
        Ticks(2, 3, 4, 1.2, NAN, 4, START, IDLE),  # t0–t1: the 4th pod starting
        Ticks(3, 3, 4, 1.2, NAN, 4, UP, IDLE),  # t2–t4: it timed out; utilization wants 4
        Ticks(1, 3, 4, 2.5, NAN, 8, UP, IDLE),  # t5: load 7.5 → 8
        Ticks(1, 3, 8, 1.0, NAN, 8, START, IDLE),  # t6: 4 new pods starting since t5
    ]),
]


@pytest.mark.parametrize(("rows", "overrides"), cases(STARTING))
def test_starting_pods(rows: list[Ticks], overrides: dict[str, Any]):
    actual, expected = run(rows, **overrides)
    assert actual == expected


def test_v1_would_drop_the_starting_pods():
    """The contrast for UP_2_TO_8: v1 (ready pods only) falls back to 2 while the pods start."""
    params = PolicyParams.uniform(1, targets={"cpu": 1.0}, interval_s=15, scale_down_window_s=60)
    oracle = reference_policy_v1.RefPolicy(params)
    v1 = [oracle.step({"cpu": [row.cpu]}, [row.ready])[0].desired
          for row in UP_2_TO_8 for _ in range(row.n)]
    assert v1[:8] == [8] + [2] * 7
    v2 = [d for _, d, _, _ in run(UP_2_TO_8, **SHORT)[0]]
    assert v2[:8] == [8] * 8


# --- Property 3: the latency guard ------------------------------------------------------------

# 4 replicas, utilization content with 4 (cpu 0.5: load 2), latency 1.8 × target: after 60 s
# (4 ticks) one step to 8, whose pods take 2 ticks to become ready and are then observed for
# the observe window (4 ticks) plus the latency seen at the ask (1.8 s at the 1 s target →
# 1 tick of backlog), t6–t9, before the step is judged at t10.
ASK = [
    #     n  ready spec  cpu   lat  → desired reason phase
    Ticks(3, 4, 4, 0.5, 1.8, 4, HOLD, IDLE),  # t0–t2: above target, not yet for 60 s
    Ticks(1, 4, 4, 0.5, 1.8, 8, UP, TRIAL),  # t3: sustained → next power of two
    Ticks(2, 4, 8, 0.5, 1.8, 8, START, TRIAL),  # t4–t5: the step's pods start
]


def observed(lat: float) -> list[Ticks]:
    """t6–t9: the 8 ready and observed at latency `lat` (load 2 on 8: utilization wants 4)."""
    return [Ticks(4, 8, 8, 0.25, lat, 8, HOLD, TRIAL)]


def at_rate(req: float, rows: list[Ticks]) -> list[Ticks]:
    """`rows` with a request rate of `req` req/s."""
    return [dataclasses.replace(row, req=req) for row in rows]


LATENCY: list[Case] = [
    # (a) improved (1.3 ≤ 0.8 × 1.8) but still above target: helped holds 8 and, after another
    # 60 s above target, asks the next step.
    ("helped-then-next-step", SHORT, [*ASK, *observed(1.3),
        Ticks(1, 8, 8, 0.5, 1.3, 8, HOLD, HELPED),  # t10: judged (utilization alone: 8)
        Ticks(3, 8, 8, 0.5, 1.3, 8, HOLD, HELPED),  # t11–t13: held
        Ticks(1, 8, 8, 0.5, 1.3, 16, UP, TRIAL),  # t14: 8 → 16, one step again
        Ticks(1, 8, 16, 0.5, 1.3, 16, START, TRIAL),
    ]),
    # ... but never more than one power of two above what utilization sizes: at cpu 0.25
    # utilization recommends 4, so 8 is the guard's ceiling and it holds there.
    ("helped-capped-at-twice-utilization", SHORT, [*ASK, *observed(1.3),
        Ticks(1, 8, 8, 0.25, 1.3, 8, HOLD, HELPED),
        Ticks(6, 8, 8, 0.25, 1.3, 8, HOLD, HELPED),
    ]),
    # (a') met the target: helped holds 8 while the load stays above 0.7 × the load at the ask
    # (2 → 1.4), releases when it falls; then the down window, then utilization's 2.
    ("helped-releases-when-load-falls", SHORT, [*ASK, *observed(0.9),
        Ticks(1, 8, 8, 0.25, 0.9, 8, HOLD, HELPED),  # t10
        Ticks(3, 8, 8, 0.2, 0.9, 8, HOLD, HELPED),  # load 1.6 > 1.4: held (utilization: 4)
        Ticks(3, 8, 8, 0.15, 0.9, 8, STAB, IDLE),  # load 1.2 → released; r = 2, window holds 8
        Ticks(1, 8, 8, 0.15, 0.9, 2, DOWN, IDLE),
    ]),
    # With a request rate, the demand is requests, not c · P_u: 50 req/s at the ask, held
    # while above 0.7 × 50 = 35 even though utilization's load falls, released at 30 req/s.
    ("helped-follows-the-request-rate", SHORT, [
        *at_rate(50.0, [*ASK, *observed(0.9)]),
        Ticks(1, 8, 8, 0.25, 0.9, 8, HOLD, HELPED, req=50.0),  # t10
        Ticks(3, 8, 8, 0.15, 0.9, 8, HOLD, HELPED, req=40.0),  # c · P_u 1.2, but 40 req/s
        Ticks(1, 8, 8, 0.15, 0.9, 8, STAB, IDLE, req=30.0),  # released
    ]),
    # A missing request-rate sample is not a fall of the demand: helped keeps holding 8.
    ("helped-survives-a-missing-request-rate", SHORT, [
        *at_rate(50.0, [*ASK, *observed(0.9)]),
        Ticks(1, 8, 8, 0.25, 0.9, 8, HOLD, HELPED, req=50.0),  # t10
        Ticks(1, 8, 8, 0.25, 0.9, 8, HOLD, HELPED, req=NAN),  # t11: one sample missing
        Ticks(6, 8, 8, 0.25, 0.9, 8, HOLD, HELPED, req=50.0),  # t12–t17: demand unchanged
    ]),
    # (b) no improvement (1.7 > 0.8 × 1.8): floor — no further asks, nothing held; replicas go
    # back to utilization's 4 once the down window no longer holds 8, and stay there, even
    # when latency doubles (a floor above target never asks again).
    ("floor-no-further-asks", SHORT, [*ASK, *observed(1.7),
        Ticks(1, 8, 8, 0.25, 1.7, 8, LFLOOR, FLOOR),  # t10: judged; r = 4, window holds 8
        Ticks(2, 8, 8, 0.25, 1.7, 8, LFLOOR, FLOOR),  # t11–t12
        Ticks(1, 8, 8, 0.25, 1.7, 4, DOWN, FLOOR),  # t13: the down window has passed
        Ticks(12, 4, 4, 0.5, 1.7, 4, LFLOOR, FLOOR),  # no asks, no flap
        Ticks(8, 4, 4, 0.5, 3.5, 4, LFLOOR, FLOOR),  # latency doubled: still no ask
    ]),
    # (b-) a floor holds nothing for latency (property 3: more replicas did not lower it), not
    # even the 4 before the step: at an unchanged demand (50 req/s) utilization's 2 applies.
    ("floor-releases-to-utilization-at-the-same-demand", SHORT, [
        *at_rate(50.0, [*ASK, *observed(1.7)]),
        Ticks(3, 8, 8, 0.17, 1.7, 8, LFLOOR, FLOOR, req=50.0),  # t10–t12: r = 2, window: 8
        Ticks(1, 8, 8, 0.17, 1.7, 2, DOWN, FLOOR, req=50.0),  # t13
        Ticks(6, 2, 2, 0.68, 1.7, 2, LFLOOR, FLOOR, req=50.0),  # load 1.36 on 2: no ask
    ]),
    # (b') a passing floor (a burst) re-arms once latency stays at or under the target (≤ 1.0,
    # not 1 + tolerance) for a down window (8 ticks here): the next burst of the same load
    # does not ask again.
    ("floor-rearms-after-a-down-window-at-target", {**SHORT, "scale_down_window_s": 120}, [
        *ASK, *observed(1.7),
        Ticks(7, 8, 8, 0.25, 1.7, 8, LFLOOR, FLOOR),  # t10–t16: the 8-tick window holds 8
        Ticks(1, 8, 8, 0.25, 1.7, 4, DOWN, FLOOR),  # t17
        Ticks(2, 4, 4, 0.5, 1.0, 4, HOLD, FLOOR),  # at target: counted
        Ticks(1, 4, 4, 0.5, 1.05, 4, HOLD, FLOOR),  # within tolerance, above target: restarts
        Ticks(4, 4, 4, 0.5, 1.8, 4, LFLOOR, FLOOR),  # a burst like the first: no ask
        Ticks(7, 4, 4, 0.5, 1.0, 4, HOLD, FLOOR),
        Ticks(1, 4, 4, 0.5, 1.0, 4, HOLD, IDLE),  # 8 ticks in a row at target → idle
        Ticks(3, 4, 4, 0.5, 1.8, 4, HOLD, IDLE),
        Ticks(1, 4, 4, 0.5, 1.8, 8, UP, TRIAL),  # asks again after the sustain window
    ]),
    # (b'') a growing load does not re-arm a floor: utilization sizes it (scales up here),
    # latency asks no further.
    ("floor-stays-when-the-load-grows", SHORT, [*ASK, *observed(1.7),
        Ticks(3, 8, 8, 0.25, 1.7, 8, LFLOOR, FLOOR),  # t10–t12
        Ticks(1, 8, 8, 0.25, 1.7, 4, DOWN, FLOOR),  # t13
        Ticks(8, 4, 4, 0.75, 1.7, 4, LFLOOR, FLOOR),  # load 3.0 (1.5 × the ask's): no ask
        Ticks(1, 4, 4, 1.5, 1.7, 8, UP, FLOOR),  # utilization's own step
    ]),
    # The sustain window restarts when latency is not above target for a tick.
    ("sustain-restarts", SHORT, [
        Ticks(2, 4, 4, 0.5, 1.8, 4, HOLD, IDLE),
        Ticks(1, 4, 4, 0.5, 1.1, 4, HOLD, IDLE),  # = 1 + tolerance: not above
        Ticks(3, 4, 4, 0.5, 1.8, 4, HOLD, IDLE),
        Ticks(1, 4, 4, 0.5, NAN, 4, HOLD, IDLE),  # missing: not above either
        Ticks(3, 4, 4, 0.5, 1.8, 4, HOLD, IDLE),
        Ticks(1, 4, 4, 0.5, 1.8, 8, UP, TRIAL),
    ]),
    # While utilization scales up (its pods starting), latency does not ask; it counts from
    # when they are ready.
    ("latency-waits-for-utilization-step", SHORT, [
        Ticks(1, 4, 4, 1.5, 1.8, 8, UP, IDLE),  # utilization: load 6 → 8
        Ticks(3, 4, 8, 1.5, 1.8, 8, START, IDLE),
        Ticks(3, 8, 8, 0.75, 1.8, 8, HOLD, IDLE),  # ready, load 6 on 8: in the band
        Ticks(1, 8, 8, 0.75, 1.8, 16, UP, TRIAL),
    ]),
    # The step's pods never become ready: the starting floor goes after startup_timeout
    # (120 s = 8 ticks), the trial's goal after startup_timeout + observe window + backlog
    # (13 ticks): then floor, and desired returns to the ready 4.
    ("trial-pods-never-ready", {**SHORT, "startup_timeout_s": 120}, [
        *ASK[:2],
        Ticks(8, 4, 8, 0.5, 1.8, 8, START, TRIAL),  # t4–t11
        Ticks(5, 4, 8, 0.5, 1.8, 8, UP, TRIAL),  # t12–t16: only the trial's goal holds 8
        Ticks(1, 4, 8, 0.5, 1.8, 4, LFLOOR, FLOOR),  # t17
    ]),
    # The backlog grows with the latency at the ask: 36 s at a 20 s target (P_l 1.8) is
    # 3 ticks, so the step is judged after 4 + 3 ticks ready (t6–t12).
    ("latency-backlog-extends-observation", {**SHORT, "latency_target": 20.0}, [
        Ticks(3, 4, 4, 0.5, 36.0, 4, HOLD, IDLE),
        Ticks(1, 4, 4, 0.5, 36.0, 8, UP, TRIAL),
        Ticks(2, 4, 8, 0.5, 36.0, 8, START, TRIAL),
        Ticks(6, 8, 8, 0.25, 30.0, 8, HOLD, TRIAL),  # t6–t11
        Ticks(1, 8, 8, 0.25, 30.0, 8, LFLOOR, FLOOR),  # t12: 1.5 > 0.8 × 1.8
    ]),
    # One step at a time up to max_replicas (6, not a power of two): then no step is left.
    ("steps-stop-at-max", {**SHORT, "max_replicas": 6, "latency_observe_window_s": 15}, [
        ASK[0],
        Ticks(1, 4, 4, 0.5, 1.8, 6, UP, TRIAL),  # the step is clamped to max_replicas
        Ticks(1, 4, 6, 0.5, 1.8, 6, START, TRIAL),
        Ticks(1, 6, 6, 0.33, 1.4, 6, HOLD, TRIAL),  # observe 1 tick + 1 of backlog
        Ticks(1, 6, 6, 0.33, 1.4, 6, HOLD, HELPED),  # 1.4 ≤ 0.8 × 1.8: helped
        Ticks(8, 6, 6, 0.33, 1.4, 6, HOLD, HELPED),  # still above target, but no step left
    ]),
]


@pytest.mark.parametrize(("rows", "overrides"), cases(LATENCY))
def test_latency_guard(rows: list[Ticks], overrides: dict[str, Any]):
    actual, expected = run(rows, **overrides)
    assert actual == expected


def closed_loop(latency_at: dict[int, float], ticks: int, *, load: float = 2.0,
                start_ticks: int = 2, first: int = 4, **overrides: Any) -> list[int]:
    """Desired per tick of one ISVC in a closed loop at a constant load (in replicas' worth of
    cpu): spec = the previous desired, pods ready `start_ticks` later, latency a function of
    the ready replicas (`latency_at[ready]`, × target)."""
    isvc = Isvc(**overrides)
    desired = [first] * start_ticks
    for _ in range(ticks):
        ready, spec = desired[-start_ticks], desired[-1]
        row = Ticks(1, ready, spec, load / ready, latency_at[ready], 0, "", "")
        desired.append(isvc.tick(row)[1])
    return desired[start_ticks:]


@pytest.mark.parametrize("latency_at_8", [
    pytest.param(0.9, id="step-meets-target"),
    pytest.param(0.6, id="step-lands-comfortably-under-target"),
])
def test_a_step_that_helps_is_kept_under_constant_load(latency_at_8: float):
    """Defaults (sustain / observe 60 s, down window 300 s). Latency 1.8 × target at 4
    replicas, `latency_at_8` at 8, load constant: one step 4 → 8 after the sustain window,
    then 8 for good — however well the step works, releasing it only brings back the
    latency that asked for it (4 → 8 → 4 → … would be a flap)."""
    desired = closed_loop({4: 1.8, 8: latency_at_8}, 120)
    assert desired[:3] == [4, 4, 4]
    assert desired[3:] == [8] * 117


# --- Property 3: latency never causes a scale-down, blocks one outside floor ------------------

NEVER_DOWN: list[Case] = [
    # Only a latency signal, far below target: no scale-down (as a utilization signal: 1).
    ("latency-only-low-holds", {"scale_down_window_s": 0}, [
        Ticks(3, 8, 8, NAN, 0.0, 8, HOLD, IDLE)]),
    ("same-signal-as-utilization-scales-down",
     {"scale_down_window_s": 0, "kinds": {"latency_p99": "utilization"}}, [
        Ticks(1, 8, 8, NAN, 0.0, 1, DOWN, IDLE)]),
    # Utilization wants 2 (load 0.8); a latency above target keeps one power of two above
    # that (the most an ask could add), at or under target it does not.
    ("latency-above-target-keeps-twice-utilization", {"scale_down_window_s": 0}, [
        Ticks(3, 8, 8, 0.1, 1.2, 4, DOWN, IDLE)]),
    ("latency-above-target-blocks", {"scale_down_window_s": 0}, [
        Ticks(3, 4, 4, 0.2, 1.2, 4, HOLD, IDLE)]),
    ("latency-at-tolerance-does-not-block", {"scale_down_window_s": 0}, [
        Ticks(1, 8, 8, 0.1, 1.1, 2, DOWN, IDLE)]),
    ("latency-missing-does-not-block", {"scale_down_window_s": 0}, [
        Ticks(1, 8, 8, 0.1, NAN, 2, DOWN, IDLE)]),
    # At max_replicas there is no step to ask for; latency above target does not pin the
    # ISVC there: it keeps one power of two above utilization's 2, as anywhere.
    ("latency-at-max-keeps-twice-utilization",
     {**SHORT, "scale_down_window_s": 0, "max_replicas": 8}, [
        Ticks(8, 8, 8, 0.1, 1.5, 4, DOWN, IDLE)]),
    ("latency-blocks-at-max", {**SHORT, "scale_down_window_s": 0, "max_replicas": 8}, [
        Ticks(8, 8, 8, 0.3, 1.5, 8, HOLD, IDLE)]),
    # In floor latency no longer blocks: utilization's scale-down applies after the window.
    ("floor-does-not-block", {**SHORT, "latency_sustain_window_s": 15,
                              "latency_observe_window_s": 15, "scale_down_window_s": 30}, [
        Ticks(1, 4, 4, 0.5, 1.8, 8, UP, TRIAL),
        Ticks(1, 8, 8, 0.1, 1.8, 8, HOLD, TRIAL),  # observed (1 tick + 1 of backlog)
        Ticks(1, 8, 8, 0.1, 1.8, 8, LFLOOR, FLOOR),  # r = 2, the window holds 8
        Ticks(1, 8, 8, 0.1, 1.8, 2, DOWN, FLOOR),
    ]),
]


@pytest.mark.parametrize(("rows", "overrides"), cases(NEVER_DOWN))
def test_latency_never_scales_down(rows: list[Ticks], overrides: dict[str, Any]):
    actual, expected = run(rows, **overrides)
    assert actual == expected


# --- Property 5: scale down only when the smaller fleet absorbs the load ----------------------

# scale_down_utilization 0.5 (exact in binary), down window 1 tick: predicted utilization at
# the new count d is c · P / d, and d must keep it ≤ 0.5.
ABSORB = {"scale_down_utilization": 0.5, "scale_down_window_s": 0}

SCALE_DOWN: list[Case] = [
    ("absorbed-at-exactly-sdu", ABSORB, [Ticks(1, 8, 8, 0.25, NAN, 4, DOWN, IDLE)]),
    ("just-above-sdu-at-4-holds", ABSORB, [Ticks(1, 8, 8, 0.2500001, NAN, 8, HOLD, IDLE)]),
    ("every-signal-counts", ABSORB, [Ticks(1, 8, 8, 0.1, NAN, 4, DOWN, IDLE, kv=0.25)]),
    ("one-signal-missing-uses-the-others", ABSORB,
     [Ticks(1, 8, 8, 0.1, NAN, 2, DOWN, IDLE, kv=NAN)]),
    ("no-data-holds", ABSORB, [Ticks(2, 8, 8, NAN, NAN, 8, NODATA, IDLE)]),
    ("only-latency-present-holds", ABSORB, [Ticks(1, 8, 8, NAN, 0.2, 8, HOLD, IDLE)]),
    ("negative-or-inf-is-missing", ABSORB, [Ticks(1, 8, 8, -1.0, NAN, 8, NODATA, IDLE, kv=INF)]),
    ("never-while-starting", ABSORB, [Ticks(3, 8, 16, 0.05, NAN, 16, START, IDLE)]),
    ("spec-below-ready", ABSORB, [Ticks(1, 8, 4, 0.05, NAN, 1, DOWN, IDLE)]),
    # A tick of missing data puts a value of c in the down window: the wait starts again.
    ("missing-tick-restarts-the-window", {**ABSORB, "scale_down_window_s": 30}, [
        Ticks(1, 8, 8, 0.1, NAN, 8, STAB, IDLE),
        Ticks(1, 8, 8, NAN, NAN, 8, NODATA, IDLE),
        Ticks(1, 8, 8, 0.1, NAN, 8, STAB, IDLE),
        Ticks(1, 8, 8, 0.1, NAN, 2, DOWN, IDLE),
    ]),
]


@pytest.mark.parametrize(("rows", "overrides"), cases(SCALE_DOWN))
def test_scale_down_needs_absorbed_load(rows: list[Ticks], overrides: dict[str, Any]):
    actual, expected = run(rows, **overrides)
    assert actual == expected


# --- Property 6: precedence of the new reasons ------------------------------------------------

# `starting` is checked after `panic`: c = 2 ready, spec 8, up window 60 s (so only panic or the
# in-flight floor lift desired on this first tick).
PANIC_VS_STARTING = {"scale_up_window_s": 60}

# `latency-floor` is checked after `scale-down` (and scale-up), before stabilizing / hold:
# reached in three ticks (sustain and observe 1 tick, 1 tick of backlog, down window 2 ticks),
# then one more tick.
TO_FLOOR = [
    Ticks(1, 4, 4, 0.5, 1.8, 8, UP, TRIAL),
    Ticks(1, 8, 8, 0.25, 1.8, 8, HOLD, TRIAL),
    Ticks(1, 8, 8, 0.25, 1.8, 8, LFLOOR, FLOOR),  # r = 4 ≠ c, window holds 8: not stabilizing
]
FLOOR_FAST = {"latency_sustain_window_s": 15, "latency_observe_window_s": 15,
              "scale_down_window_s": 30}

REASON_ORDER: list[Case] = [
    ("panic-before-starting", PANIC_VS_STARTING, [Ticks(1, 2, 8, 2.5, NAN, 8, PANIC, IDLE)]),
    ("panic-above-spec", PANIC_VS_STARTING, [Ticks(1, 2, 8, 5.0, NAN, 16, PANIC, IDLE)]),
    # panic lifts to 4 only, the in-flight floor to 8: the floor explains desired
    ("starting-over-smaller-panic", PANIC_VS_STARTING,
     [Ticks(1, 2, 8, 2.0, NAN, 8, START, IDLE)]),
    ("starting-without-panic", PANIC_VS_STARTING, [Ticks(1, 2, 8, 1.5, NAN, 8, START, IDLE)]),
    ("clamped-max-before-starting", {"max_replicas": 6},
     [Ticks(1, 2, 8, 1.0, NAN, 6, "clamped-max", IDLE)]),
    ("clamped-min-before-starting", {"min_replicas": 10},
     [Ticks(1, 2, 8, 1.0, NAN, 10, "clamped-min", IDLE)]),
    ("scale-up-beyond-spec", {}, [Ticks(1, 4, 6, 1.9, NAN, 8, UP, IDLE)]),
    ("scale-down-before-latency-floor", FLOOR_FAST,
     [*TO_FLOOR, Ticks(1, 8, 8, 0.25, 1.8, 4, DOWN, FLOOR)]),
    # (the request rate is the demand here: utilization's load grows without re-arming)
    ("scale-up-before-latency-floor", FLOOR_FAST,
     at_rate(50.0, [*TO_FLOOR, Ticks(1, 8, 8, 1.5, 1.8, 16, UP, FLOOR)])),
    # c · P_u 2.84: r = 8 = c, and not grown past 2 / 0.7 (which would re-arm the guard)
    ("latency-floor-before-hold", FLOOR_FAST,
     [*TO_FLOOR, Ticks(1, 8, 8, 0.355, 1.8, 8, LFLOOR, FLOOR)]),
    ("latency-floor-without-utilization", FLOOR_FAST,
     [*TO_FLOOR, Ticks(1, 8, 8, NAN, 1.8, 8, LFLOOR, FLOOR)]),
    ("floor-within-target-is-hold", FLOOR_FAST,
     [*TO_FLOOR, Ticks(1, 8, 8, 0.355, 1.05, 8, HOLD, FLOOR)]),
]


@pytest.mark.parametrize(("rows", "overrides"), cases(REASON_ORDER))
def test_reason_precedence(rows: list[Ticks], overrides: dict[str, Any]):
    actual, expected = run(rows, **overrides)
    assert actual == expected
