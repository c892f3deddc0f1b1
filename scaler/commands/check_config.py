"""`scaler check-config FILE…`: validate policy.yaml files (DESIGN §6).

Exit 0 when every file is valid (one summary line each on stdout), else 1 with every error on
stderr, one a line, prefixed by the file name: `policy.yaml: interval = 0, must be > 0`.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from scaler.config import Config, format_duration, load_config
from scaler.errors import ConfigError


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """Register the sub-command."""
    parser = sub.add_parser(
        "check-config", help="validate policy.yaml (exit 1 listing every error)",
        description="Validate policy.yaml files; print every error, one a line.")
    parser.add_argument("files", nargs="+", metavar="FILE", help="policy.yaml to check")
    return parser


def run(args: argparse.Namespace) -> int:
    """Check each file; 0 if all are valid, else 1."""
    status = 0
    for path in args.files:
        try:
            config = load_config(path)
            if config.simulation:
                from scaler.sim.params import parse_sim_params

                parse_sim_params(config.simulation)
        except ConfigError as e:
            for message in e.errors:
                print(f"{path}: {message}", file=sys.stderr)
            status = 1
            continue
        print(f"{path}: OK, {summary(config)}")
    return status


def summary(config: Config) -> str:
    """One line: policies, ISVC overrides, interval, stale_after and Prometheus URL."""
    overrides = len(config.isvcs)
    return (f"{len(config.policies)} {_plural(len(config.policies), 'policy', 'policies')} "
            f"({', '.join(sorted(config.policies))}), {overrides} isvc "
            f"{_plural(overrides, 'override', 'overrides')}, "
            f"interval {format_duration(config.interval_s)}, "
            f"stale_after {format_duration(config.stale_after_s)}, "
            f"prometheus {config.prometheus.url}{config.prometheus.path_prefix}")


def _plural(count: int, one: str, many: str) -> str:
    return one if count == 1 else many
