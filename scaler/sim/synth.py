"""Synthetic request traces (Poisson, step, bursty ON/OFF) for tests and what-ifs; pure.

CLI form (in place of TRACE.csv): `synthetic:KIND[:key=value,...]`, e.g.
`synthetic:step:rate=2,peak=10,at=10m,duration=30m,input=2048,output=128`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from scaler.durations import parse_duration
from scaler.errors import ConfigError
from scaler.sim.trace import Trace, make_trace

KINDS = ("poisson", "step", "bursty")


@dataclass(frozen=True)
class SynthSpec:
    """Rates in req/s, times in s, tokens per request (means when tokens == "geometric")."""

    kind: str = "poisson"
    rate: float = 1.0  # base rate (poisson, step before `at`, bursty long-run mean)
    peak: float = 10.0  # step: rate from `at` on
    at: float = 600.0  # step: time of the step
    duration: float = 1800.0
    on: float = 30.0  # bursty: mean ON period; OFF periods have mean `off`
    off: float = 90.0
    input: int = 1024
    output: int = 128
    tokens: str = "fixed"  # or "geometric"


def _poisson_times(rate_rps: float, start_s: float, end_s: float,
                   rng: np.random.Generator) -> np.ndarray:
    count = rng.poisson(rate_rps * max(end_s - start_s, 0.0))
    return np.sort(rng.uniform(start_s, end_s, count))


def _bursty_times(spec: SynthSpec, rng: np.random.Generator) -> np.ndarray:
    """ON/OFF modulated Poisson: rate × (on + off) / on while ON, 0 while OFF."""
    chunks, t, on = [], 0.0, True
    rate_on = spec.rate * (spec.on + spec.off) / spec.on
    while t < spec.duration:
        length = rng.exponential(spec.on if on else spec.off)
        if on:
            chunks.append(_poisson_times(rate_on, t, min(t + length, spec.duration), rng))
        t, on = t + length, not on
    return np.concatenate(chunks) if chunks else np.zeros(0)


def synthetic(spec: SynthSpec, *, seed: int = 0) -> Trace:
    """A trace drawn from `spec` with numpy's default generator seeded by `seed`."""
    rng = np.random.default_rng(seed)
    if spec.kind == "poisson":
        t = _poisson_times(spec.rate, 0.0, spec.duration, rng)
    elif spec.kind == "step":
        t = np.concatenate([_poisson_times(spec.rate, 0.0, spec.at, rng),
                            _poisson_times(spec.peak, spec.at, spec.duration, rng)])
    elif spec.kind == "bursty":
        t = _bursty_times(spec, rng)
    else:
        raise ValueError(f"kind = {spec.kind}, must be one of {', '.join(KINDS)}")
    n = t.shape[0]
    inp: np.ndarray = np.full(n, spec.input)
    out: np.ndarray = np.full(n, spec.output)
    if spec.tokens == "geometric":
        if spec.input > 0:
            inp = np.asarray(rng.geometric(1.0 / spec.input, n))
        out = np.asarray(rng.geometric(1.0 / max(spec.output, 1), n))
    return make_trace(t, inp, out, source=f"synthetic:{spec.kind}")


_TIME_KEYS = ("at", "duration", "on", "off")


def parse_synth(text: str) -> SynthSpec:
    """`synthetic:KIND[:k=v,...]` → SynthSpec; raises ConfigError naming the bad key."""
    _, _, rest = text.partition(":")
    kind, _, args = rest.partition(":")
    if kind not in KINDS:
        raise ConfigError(f"trace {text}: kind = {kind}, must be one of {', '.join(KINDS)}")
    values: dict[str, object] = {"kind": kind}
    fields = SynthSpec.__dataclass_fields__
    for item in filter(None, args.split(",")):
        key, _, value = item.partition("=")
        if key not in fields or key == "kind":
            raise ConfigError(f"trace {text}: unknown key {key} (expected one of: "
                              f"{', '.join(k for k in fields if k != 'kind')})")
        try:
            if key in _TIME_KEYS:
                values[key] = parse_duration(value)
            elif key in ("input", "output"):
                values[key] = int(value)
            elif key == "tokens":
                if value not in ("fixed", "geometric"):
                    raise ValueError(value)
                values[key] = value
            else:
                values[key] = float(value)
        except ValueError:
            raise ConfigError(f"trace {text}: {key} = {value} is invalid") from None
    return SynthSpec(**values)  # type: ignore[arg-type]
