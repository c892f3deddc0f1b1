"""`scaler replay`: run the live policy over recorded signals (DESIGN §6).

    scaler replay signals.csv --config policy.yaml -o out/
    scaler replay signals.csv --config a.yaml --config b.yaml -o out/ --plot --isvc prod/llama
"""

from __future__ import annotations

import argparse
from typing import Any

from scaler.errors import ConfigError


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """Register the sub-command."""
    p = sub.add_parser(
        "replay", help="replay a policy over recorded signals (what would it have done?)",
        description="Run exactly the live engine's policy step over a signals file written by "
        "`scaler record` (CSV or Parquet). Writes DIR/decisions.csv and DIR/summary.json; "
        "with several --config, one sub-directory per config and DIR/comparison.csv.")
    p.add_argument("signals", help="signals file (CSV, or Parquet if it ends in .parquet)")
    p.add_argument("--config", action="append", required=True,
                   help="policy.yaml; repeat to compare several")
    p.add_argument("-o", "--output", required=True, help="output directory")
    p.add_argument("--plot", action="store_true", help="write one PNG per selected ISVC")
    p.add_argument("--isvc", action="append", default=[], metavar="NS/NAME",
                   help="ISVC to plot (repeatable; default: the --top by scale events)")
    p.add_argument("--top", type=int, default=5,
                   help="how many ISVCs to plot when no --isvc is given (default 5)")
    return p


def run(args: argparse.Namespace) -> int:
    """Run the sub-command."""
    from scaler.replay.shell import PlotRequest, replay_to_dir
    from scaler.replay.summary import format_table

    if args.isvc and not args.plot:
        raise ConfigError("--isvc selects ISVCs to plot; add --plot")
    if args.top < 1:
        raise ConfigError(f"--top = {args.top}, must be ≥ 1")
    plot = PlotRequest(isvcs=tuple(args.isvc), top=args.top) if args.plot else None
    rows = replay_to_dir(args.signals, args.config, args.output, plot=plot)
    print(format_table(rows))
    return 0
