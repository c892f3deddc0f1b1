"""Policy v2 rules beyond v1 (DESIGN §3 properties 3–5): pods in flight and the latency guard.

Applied by the kernel only to the ISVCs that need them — pods starting (spec > ready), a
latency signal above target, or guard state left from earlier ticks — so an ISVC with only
utilization signals and nothing starting takes v1's path, bit for bit (property 1).

In-flight pods (property 4). `sp` = spec replicas (NaN → ready). While pods start
(sp > c, for at most `startup_timeout` since spec last rose): r = max(up, sp) if the load
c·P_u exceeds the pods in flight by more than the tolerance (c·P_u > sp·(1 + tolerance)),
else sp — starting pods count as supply, so the same pressure never asks twice — and
desired ≥ sp.
Example: c = 2 ready, sp = 8, P_u = 3 (load of 6 replicas) → r = 8, no second step;
P_u = 5 (load 10 > 8.8) → up = pow2ceil(10) = 16 → r = 16 (the load outgrew the pods in
flight).

Latency guard (property 3), one state machine per ISVC; P_l = max latency signal / target:
  idle    P_l > 1 + tolerance for `latency_sustain_window` while nothing starts and
          utilization does not already scale up → ask goal = next power of two above c
          (≤ max_replicas, ≤ 2 × utilization's recommendation: latency adds at most one power
          of two to what utilization sizes), remember P_l and the demand (request rate,
          else c·P_u) → trial.
  trial   hold goal; once c ≥ goal with nothing starting for `latency_observe_window` plus
          the latency seen at the ask (so that every request in the latency window arrived
          after the new pods were ready, not while a backlog drained), judge at a comparable
          load (demand still ≥ scale_down_utilization × the demand at the ask: a burst that
          ended proves nothing): P_l ≤ 1 + tolerance or P_l ≤ (1 − latency_min_improvement)
          · P_l(ask) → helped, else → floor (reason `latency-floor`). Pods never ready in time
          → floor.
  helped  hold goal until the demand falls to scale_down_utilization × the demand at the ask
          (request rate, else c·P_u), or P_l ≤ scale_down_utilization / 2 — the band's lower
          edge, far below what the step was for — for a down window (a drained backlog no
          longer needs it); sustained P_l > 1 + tolerance asks the next step (→ trial).
  floor   no asks, nothing held: utilization sizes the fleet alone (after the down
          window's hysteresis), below the replicas before the step too if it says so — more
          replicas did not lower latency, so latency has no claim on any (property 3; keeping
          the ones before the step held Mooncake's nights at 32 where 16 served). Back to idle once
          P_l ≤ 1 for a down window: a floor above the target never asks again, a passing
          one (a burst) may, but not on the next burst. A growing load does not re-arm it
          (utilization sizes growth; re-arming on it ratcheted a daily ramp, 0.70× → 0.79×
          of static on Mooncake 24 h).
A latency above target never causes a scale-down, and blocks one except in `floor` — down to
one power of two above utilization's recommendation, no further: latency never holds more than
it could have asked for (c = 64 at max_replicas, utilization's r 4, latency high → r = 8; an
ask is impossible at max_replicas, so without the cap the fleet stayed at 64 all evening).
Example: c = 4, P_l = 1.8 for 60 s → ask 8 (trial); 8 ready for 60 s, P_l = 1.7 > 0.8 × 1.8
→ floor: r falls back to utilization's 4, applied once the down window no longer holds 8.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

IDLE, TRIAL, FLOOR, HELPED = 0, 1, 2, 3
"""Guard phases (uint8)."""

U16_MAX = 65535


@dataclass(frozen=True, eq=False)
class GuardState:
    """Per-ISVC v2 state, (n,) arrays; all zero for an ISVC the guard does not concern.

    phase uint8 (IDLE…HELPED); count uint16 (idle/helped: ticks of sustained high latency;
    trial: ticks since the ask; floor: ticks in a row with latency ≤ target); seen uint16
    (trial: ticks ready at goal; helped: ticks in a row with latency comfortably under
    target); goal uint16 (replicas asked); start uint16 (ticks since the latest rise of spec
    above ready); spec_at uint16 (that spec); ref float32 (P_l at the ask; in floor, P_l
    seen at the floor); load float32 (demand at the ask: the request rate, or −c·P_u when
    there is none; NaN if neither). 19 bytes per ISVC.
    """

    phase: np.ndarray
    count: np.ndarray
    seen: np.ndarray
    goal: np.ndarray
    start: np.ndarray
    spec_at: np.ndarray
    ref: np.ndarray
    load: np.ndarray

    FIELDS = ("phase", "count", "seen", "goal", "start", "spec_at", "ref", "load")

    @classmethod
    def zeros(cls, n: int) -> GuardState:
        """State for n ISVCs the guard has never concerned."""
        return cls(phase=np.zeros(n, np.uint8), count=np.zeros(n, np.uint16),
                   seen=np.zeros(n, np.uint16), goal=np.zeros(n, np.uint16),
                   start=np.zeros(n, np.uint16), spec_at=np.zeros(n, np.uint16),
                   ref=np.zeros(n, np.float32),
                   load=np.full(n, np.nan, np.float32))

    def copy(self) -> GuardState:
        """A writable copy (the kernel writes the ISVCs it handles into it)."""
        return GuardState(*(getattr(self, f).copy() for f in self.FIELDS))

    def take(self, index: np.ndarray, fresh: np.ndarray) -> GuardState:
        """Rows at `index` (valid rows; any where `fresh`), zero state where `fresh`."""
        zero = GuardState.zeros(len(index))
        return GuardState(*(np.where(fresh, getattr(zero, f), getattr(self, f)[index])
                            .astype(getattr(self, f).dtype) for f in self.FIELDS))

    def rows(self, index: np.ndarray) -> GuardState:
        """A copy of the rows at `index`."""
        return GuardState(*(getattr(self, f)[index] for f in self.FIELDS))

    def put(self, index: np.ndarray, part: GuardState) -> None:
        """Write `part`'s rows at `index` (this state must be a writable copy)."""
        for f in self.FIELDS:
            getattr(self, f)[index] = getattr(part, f)

    @property
    def nbytes(self) -> int:
        """Bytes held."""
        return sum(int(getattr(self, f).nbytes) for f in self.FIELDS)

    def busy(self) -> np.ndarray:
        """ISVCs whose guard state is not all zero (bool (n,))."""
        return (self.phase != 0) | (self.count != 0) | (self.start != 0)


@dataclass(frozen=True)
class GuardInputs:
    """One tick's values at the ISVCs handled (arrays of the subset's length)."""

    c: np.ndarray  # ready replicas after step 0
    spec: np.ndarray  # requested replicas, NaN = unknown
    demand: np.ndarray  # request rate (req/s), NaN = unknown
    latency_target_s: np.ndarray  # smallest latency target, s (converts P_l to seconds)
    interval_s: float
    p_util: np.ndarray  # utilization pressure, NaN = none
    p_lat: np.ndarray  # latency pressure, NaN = none
    r: np.ndarray  # v1 recommendation from utilization
    up: np.ndarray  # pow2ceil(c · P_u), ≥ 1
    up_threshold: np.ndarray
    scale_down_utilization: np.ndarray
    min_improvement: np.ndarray
    max_replicas: np.ndarray
    sustain_ticks: np.ndarray
    observe_ticks: np.ndarray
    startup_ticks: np.ndarray
    down_ticks: np.ndarray


@dataclass(frozen=True)
class GuardResult:
    """New recommendation, the in-flight floor on desired (0 = none) and the new phase."""

    r: np.ndarray
    floor: np.ndarray
    phase: np.ndarray
    starting: np.ndarray


def next_pow2(c: np.ndarray) -> np.ndarray:
    """Smallest power of two > c (c ≥ 1, float64): 3 → 4, 4 → 8."""
    return np.exp2(np.floor(np.log2(c)) + 1.0)


def next_step(c: np.ndarray, max_replicas: np.ndarray, r_u: np.ndarray) -> np.ndarray:
    """The replicas a latency ask would reach: one power of two above c, at most
    max_replicas, and never more than one power of two above utilization's recommendation
    r_u (e.g. c 4, r_u 2 → min(8, 4) = 4: no ask)."""
    return np.minimum(np.minimum(next_pow2(c), max_replicas), 2.0 * r_u)


def apply(g: GuardInputs, old: GuardState, new: GuardState, idx: np.ndarray) -> GuardResult:
    """The v2 rules at global indices `idx`: reads `old`, writes `new` at idx."""
    phase = old.phase[idx].astype(np.int64)
    count = old.count[idx].astype(np.int64)
    seen = old.seen[idx].astype(np.int64)
    goal = old.goal[idx].astype(np.float64)
    ref = old.ref[idx].astype(np.float64)
    load = old.load[idx].astype(np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        spec = np.where(np.isfinite(g.spec), np.ceil(g.spec), g.c)
        sp = np.maximum(spec, g.c)
        raw_starting = sp > g.c
        old_start = old.start[idx].astype(np.int64)
        old_at = old.spec_at[idx].astype(np.float64)
        risen = raw_starting & ((old_start == 0) | (sp > old_at))
        start = np.where(risen, 1, np.where(raw_starting, np.minimum(old_start + 1, U16_MAX), 0))
        spec_at = np.where(risen, np.minimum(sp, U16_MAX), np.where(raw_starting, old_at, 0))
        starting = raw_starting & (start <= g.startup_ticks)
        supply = np.where(starting, sp, g.c)
        util_up = g.p_util > g.up_threshold
        outgrown = util_up & (g.c * g.p_util > sp * g.up_threshold)
        r_u = np.where(starting, np.where(outgrown, np.maximum(g.up, sp), sp), g.r)
        high = g.p_lat > g.up_threshold
        ok = g.p_lat <= 1.0
        quiet = ~starting & (r_u <= supply)
        nxt = next_step(g.c, g.max_replicas, r_u)
        demand_ok = np.isfinite(g.demand) & (g.demand >= 0)
        replica_load = g.c * g.p_util
        load_at_ask = np.where(demand_ok, g.demand, -replica_load)

        # idle / helped: sustained high latency asks the next step.
        asking_phase = (phase == IDLE) | (phase == HELPED)
        count = np.where(asking_phase, np.where(high & quiet, count + 1, 0), count)
        ask = asking_phase & (count >= g.sustain_ticks) & quiet & (nxt > g.c)

        # helped: release once the demand fell well below the one that needed the step (in
        # the unit stored at the ask), or latency stayed comfortable for a down window.
        helped = phase == HELPED
        comfortable = g.p_lat <= g.scale_down_utilization / 2.0
        calm = np.where(helped, np.where(comfortable, seen + 1, 0), 0)
        fell = np.where(np.isnan(load), False, np.where(
            load >= 0, demand_ok & (g.demand <= g.scale_down_utilization * load),
                        np.isfinite(replica_load)
                        & (replica_load <= -g.scale_down_utilization * load)))
        released = helped & ~ask & ((calm >= g.down_ticks) | fell)

        # trial: wait for the goal's pods to be ready and observed, then judge.
        trial = phase == TRIAL
        seen = np.where(trial, np.where((g.c >= goal) & ~raw_starting, seen + 1, 0), 0)
        age = np.where(trial, count + 1, 0)
        backlog = np.ceil(np.nan_to_num(ref * g.latency_target_s, nan=0.0, posinf=0.0)
                          / g.interval_s - 1e-9)
        judged = trial & (seen >= g.observe_ticks + backlog) & ~np.isnan(g.p_lat)
        held_load = np.where(load >= 0, demand_ok & (g.demand >= g.scale_down_utilization * load),
                             ~(replica_load < -g.scale_down_utilization * load))
        comparable = np.isnan(load) | held_load
        improved = comparable & ((g.p_lat <= g.up_threshold)
                                 | (g.p_lat <= (1.0 - g.min_improvement) * ref))
        timed_out = trial & ~judged & (age > g.startup_ticks + g.observe_ticks + backlog)
        to_floor = (judged & ~improved) | timed_out
        to_helped = judged & improved

        # floor: re-arm once latency stayed at or under target for a down window.
        floor = phase == FLOOR
        fcount = np.where(floor, np.where(ok, count + 1, 0), 0)
        rearm = floor & (fcount >= g.down_ticks)

        new_phase = phase.copy()
        new_phase[ask] = TRIAL
        new_phase[released] = IDLE
        new_phase[to_floor] = FLOOR
        new_phase[to_helped] = HELPED
        new_phase[rearm] = IDLE

        new_count = np.where(trial, age, np.where(floor, fcount, count))
        new_count = np.where(ask | released | to_floor | to_helped | rearm, 0, new_count)
        new_goal = np.where(ask, nxt, goal)
        new_ref = np.where(ask, g.p_lat, np.where(to_floor, g.p_lat, ref))
        new_load = np.where(ask, load_at_ask, load)
        idle_now = new_phase == IDLE
        new_goal = np.where(idle_now, 0.0, new_goal)
        new_ref = np.where(idle_now, 0.0, new_ref)
        new_load = np.where(idle_now, np.nan, new_load)
        new_seen = np.where(new_phase == TRIAL, np.where(ask, 0, seen),
                            np.where(new_phase == HELPED, np.where(to_helped, 0, calm), 0))

        holding = (new_phase == TRIAL) | (new_phase == HELPED)
        hold = np.where(holding, new_goal, 0.0)
        block = high & (new_phase != FLOOR)
        r = np.maximum(np.maximum(r_u, hold), np.where(block, np.minimum(g.c, 2.0 * r_u), 0.0))
        floor_out = np.where(starting, sp, 0.0)

        new.phase[idx] = new_phase
        new.count[idx] = np.minimum(new_count, U16_MAX)
        new.seen[idx] = np.minimum(new_seen, U16_MAX)
        new.goal[idx] = np.minimum(new_goal, U16_MAX)
        new.start[idx] = start
        new.spec_at[idx] = spec_at
        new.ref[idx] = new_ref  # float32: overflow saturates at inf
        new.load[idx] = new_load
    return GuardResult(r=r, floor=floor_out, phase=new_phase, starting=starting)
