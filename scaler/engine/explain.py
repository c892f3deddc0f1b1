"""Why an ISVC got its decision, in words, and the `scaler explain` table (pure).

    kv_cache 0.93/0.80 = 1.16 > 1.10 → scale-up 2→4
    prompt_throughput 5.1e+03/7e+03 = 0.73 within (0.35, 1.10] → hold 8; latency_p99 1.2/0.5 =
    2.40 ignored: the step to 16 did not lower it (latency-floor)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from scaler.config.queries import SIGNAL_NAMES, SIGNAL_UNITS
from scaler.engine.evaluation import Evaluation
from scaler.policy import REASONS
from scaler.policy.guard import FLOOR, HELPED, TRIAL


@dataclass(frozen=True)
class Row:
    """One ISVC's line of the table plus its explanation."""

    key: tuple[str, str]
    policy: str
    signals: dict[str, float]
    pressure: float
    current: float
    desired: int
    reason: str
    active: bool
    why: str


def rows(ev: Evaluation) -> list[Row]:
    """Table rows of every ISVC of `ev`, in key order."""
    return [_row(ev, i) for i in range(len(ev.keys))]


def _row(ev: Evaluation, i: int) -> Row:
    d = ev.decision
    signals = dict(zip(ev.frame.signals, ev.frame.values[i].tolist(), strict=True))
    return Row(ev.keys[i], ev.specs[i].name, signals, float(d.pressure[i]),
               float(d.current[i]), int(d.desired[i]), REASONS[int(d.reason[i])],
               bool(d.active[i]), why(ev, i))


def why(ev: Evaluation, i: int) -> str:
    """The decision of ISVC `i` in one line, e.g.
    `kv_cache 0.93/0.80 = 1.16 > 1.10 → scale-up 2→4`."""
    p, d = ev.params, ev.decision
    c, want, r = _n(d.current[i]), int(d.desired[i]), int(d.recommendation[i])
    reason = REASONS[int(d.reason[i])]
    pressure = float(d.pressure[i])
    up_limit = 1.0 + float(p.tolerance[i])
    sdu = float(p.scale_down_utilization[i])
    latency = _latency(ev, i)
    if math.isnan(pressure) and not latency:
        text = f"no signal with a target has data ({_targets(ev, i)}) → {reason} at {want}"
        return text + _activity(ev, i)
    head = _dominant(ev, i) or "no utilization signal has data"
    spec = float(ev.frame.column("spec_replicas")[i])
    if reason == "starting":
        text = (f"{_n(spec) - c} pods starting (spec {_n(spec)} > ready {c}) → desired held at "
                f"{want} until they are ready; {head}")
    elif reason == "latency-floor":
        text = f"{head} → hold {want}"
    elif reason == "scale-up" and r > c and _latency_asked(ev, i):
        text = f"{head}; latency asks one step → scale-up {c}→{want}"
    elif math.isnan(pressure):
        text = f"no utilization signal has data → {reason} at {want}"
    elif reason == "panic":
        text = f"{head} ≥ panic {float(p.panic_threshold[i]):.2f} → panic {c}→{want}"
    elif reason == "scale-up":
        text = f"{head} > {up_limit:.2f} → scale-up {c}→{want}"
    elif reason == "scale-down":
        text = (f"{head}; {c}×{pressure:.2f}/{sdu:g} = {c * pressure / sdu:.2f} → "
                f"scale-down {c}→{want} (all of the {_window_s(ev, i, 'down')} window ≤ {want})")
    elif reason == "stabilizing":
        side = "down" if r < c else "up"
        text = (f"{head} recommends {r}, held at {want} by the scale-{side} window "
                f"({_window_s(ev, i, side)})")
    elif reason in ("clamped-max", "clamped-min"):
        bound = p.max_replicas[i] if reason == "clamped-max" else p.min_replicas[i]
        text = f"{head} recommends {r} → clamped to {reason[8:]}_replicas {int(bound)}"
    else:
        text = (f"{head} within ({sdu / 2:.2f}, {up_limit:.2f}] → hold {want}"
                if pressure > sdu / 2 else f"{head} → hold {want}")
    return text + (f"; {latency}" if latency else "") + _activity(ev, i)


def _latency(ev: Evaluation, i: int) -> str:
    """What the latency guard did with the latency signals of ISVC `i` ("" if none)."""
    p_lat = float(ev.decision.latency_pressure[i])
    if math.isnan(p_lat):
        return ""
    guard = ev.state.guard
    assert guard is not None
    phase, goal = int(guard.phase[i]), int(guard.goal[i])
    head = _dominant(ev, i, kind="latency")
    above = p_lat > 1.0 + float(ev.params.tolerance[i])
    if phase == FLOOR:
        return (f"{head} ignored: a step did not lower it (latency-floor)" if above
                else f"{head} (latency-floor until it stays under target)")
    if phase == TRIAL:
        return f"{head}: asked one step to {goal}, waiting for its pods to be ready and observed"
    if phase == HELPED:
        return f"{head}: the step to {goal} lowered it, held while the load stays"
    if above:
        sustain = int(ev.params.sustain_ticks[i]) * ev.params.interval_s
        limit = 1.0 + float(ev.params.tolerance[i])
        return f"{head} > {limit:.2f}: asks one step after {sustain:g}s"
    return f"{head} under target"


def _latency_asked(ev: Evaluation, i: int) -> bool:
    guard = ev.state.guard
    return guard is not None and int(guard.phase[i]) in (TRIAL, HELPED)


def _dominant(ev: Evaluation, i: int, kind: str = "utilization") -> str:
    """`signal value/target = ratio` of the signal of `kind` giving the (latency) pressure."""
    best, best_ratio = "", -math.inf
    for k, name in enumerate(ev.params.signals):
        if ev.params.kinds[k] != kind:
            continue
        target = float(ev.params.targets[i, k])
        value = float(ev.frame.column(name)[i])
        if math.isfinite(value) and value >= 0 and target > 0 and value / target > best_ratio:
            best_ratio = value / target
            best = f"{name} {_fmt(value)}/{_fmt(target)} = {best_ratio:.2f}"
    return best


def _targets(ev: Evaluation, i: int) -> str:
    names = [n for k, n in enumerate(ev.params.signals) if ev.params.targets[i, k] > 0]
    return ", ".join(f"{n} {_fmt(float(ev.frame.column(n)[i]))}" for n in names) or "no targets"


def _activity(ev: Evaluation, i: int) -> str:
    if bool(ev.decision.active[i]):
        return ""
    req = float(ev.frame.column("requests")[i])
    threshold = float(ev.params.activation_threshold[i])
    if math.isfinite(req):
        return f"; inactive (requests {_fmt(req)} ≤ {threshold:g} req/s)"
    return "; inactive (no requests signal and no pressure)"


def _window_s(ev: Evaluation, i: int, side: str) -> str:
    ticks = int((ev.params.down_ticks if side == "down" else ev.params.up_ticks)[i])
    return f"{ticks * ev.params.interval_s:g}s"


def _n(x: float) -> int:
    return int(x) if math.isfinite(x) else 0


def _fmt(x: float) -> str:
    if not math.isfinite(x):
        return "-"
    return f"{x:.3g}" if abs(x) < 1000 else f"{x:.0f}"


def table(rs: Sequence[Row]) -> str:
    """Aligned text table with units in the headers, then one `why` line per ISVC."""
    names = list(rs[0].signals) if rs else list(SIGNAL_NAMES)
    head = ["ISVC", "POLICY", *(_header(s) for s in names), "PRESSURE", "CURRENT",
            "DESIRED", "REASON", "ACTIVE"]
    body = [[f"{r.key[0]}/{r.key[1]}", r.policy, *(_fmt(r.signals.get(s, math.nan))
                                                   for s in names),
             _fmt(r.pressure), _fmt(r.current), str(r.desired), r.reason,
             "yes" if r.active else "no"] for r in rs]
    widths = [max(len(row[j]) for row in [head, *body]) for j in range(len(head))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
             for row in [head, *body]]
    lines.append("")
    lines += [f"{r.key[0]}/{r.key[1]}: {r.why}" for r in rs]
    return "\n".join(lines)


def _header(signal: str) -> str:
    unit = SIGNAL_UNITS.get(signal, "")
    return f"{signal.upper()}({unit})" if unit else signal.upper()
