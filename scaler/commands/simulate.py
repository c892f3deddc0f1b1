"""`scaler simulate TRACE.csv --config policy.yaml [--config other.yaml …] -o DIR` (DESIGN §6).

A real request trace drives a model of vLLM replicas under each policy (the real
scaler.policy.step) through an emulation of KEDA + HPA, next to three baselines (static fleet
sized for the peak, HPA on CPU, KEDA's Prometheus scaler). Writes DIR/summary.json,
DIR/timeline.csv, DIR/comparison.csv and PNG plots; prints the comparison table.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from scaler.durations import parse_duration


def _duration(text: str) -> float:
    try:
        seconds = parse_duration(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(f"{text}: {e}") from None
    if seconds < 0:
        raise argparse.ArgumentTypeError(f"{text}: must be ≥ 0")
    return seconds


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text}: must be a number") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text}: must be > 0")
    return value


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """Register the sub-command."""
    p = sub.add_parser(
        "simulate", help="closed-loop simulation of policies on a request trace",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("trace", help="CSV (timestamp_s,input_tokens,output_tokens[,isvc]) or "
                   "synthetic:KIND[:key=value,...] (KIND poisson, step, bursty)")
    p.add_argument("--config", action="append", required=True, metavar="POLICY_YAML",
                   help="policy.yaml to simulate (repeat to compare several)")
    p.add_argument("-o", "--output", required=True, type=Path, metavar="DIR")
    p.add_argument("--isvc", default="default/llm",
                   help="ISVC of rows without an isvc column (default default/llm)")
    p.add_argument("--start", type=_duration, default=0.0, help="window start (trace time)")
    p.add_argument("--duration", type=_duration, default=None, help="window length")
    p.add_argument("--jitter", default=None, metavar="DURATION|auto",
                   help="spread arrivals uniformly over [t, t+DURATION) (auto: detected slot, "
                   "e.g. Mooncake's 3 s quantisation)")
    p.add_argument("--rate-scale", type=_positive, default=1.0,
                   help="multiply the request rate (thin or duplicate, seeded)")
    p.add_argument("--rate-method", choices=("duplicate", "overlay"), default="duplicate",
                   help="duplicate: copies follow each request (bursts scale too); overlay: "
                   "time-shifted copies of the whole trace (independent tenants, smoother)")
    p.add_argument("--speed", type=_positive, default=1.0, help="compress time by this factor")
    p.add_argument("--tile-to", type=_duration, default=None, metavar="DURATION",
                   help="repeat the trace back to back up to this length (e.g. 24h)")
    p.add_argument("--diurnal", type=_positive, default=None, metavar="TROUGH",
                   help="daily cycle by thinning: keep share TROUGH (0-1] at t=0, all at 12 h")
    p.add_argument("--sweep", action="append", default=[], metavar="KEY=V1,V2,...",
                   help="grid over a config path, e.g. policies.default.targets.kv_cache=0.6,0.8")
    p.add_argument("--baselines", default="static,hpa-cpu,keda-prometheus",
                   help="comma-separated baselines to run as well, or 'none'")
    p.add_argument("--workers", type=int, default=2, choices=(1, 2),
                   help="worker processes (default 2)")
    p.add_argument("--seed", type=int, default=0, help="seed of jitter and rate scaling")
    p.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    return p


def run(args: argparse.Namespace) -> int:
    """Run the sub-command."""
    from scaler.sim.shell import execute

    return execute(args)
