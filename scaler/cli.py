"""The `scaler` command: a thin dispatcher over scaler/commands/<name>.py (DESIGN §6).

Each command module exposes `add_parser(subparsers) -> argparse.ArgumentParser` and
`run(args) -> int` (the process exit code). Modules are imported lazily so `scaler --help`
and light commands stay fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from scaler import __version__
from scaler.errors import ScalerError

COMMANDS = ("serve", "check-config", "explain", "record", "replay", "simulate")


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser with every sub-command registered."""
    parser = argparse.ArgumentParser(
        prog="scaler",
        description="KEDA external scaler for KServe InferenceServices (isvc-scaler).",
    )
    parser.add_argument("--version", action="version", version=f"isvc-scaler {__version__}")
    parser.add_argument(
        "--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="log verbosity (default INFO)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        module = importlib.import_module(f"scaler.commands.{name.replace('-', '_')}")
        command_parser = module.add_parser(sub)
        command_parser.set_defaults(_run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `scaler` console script; returns the exit code."""
    import logging

    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=args.log_level, stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return int(args._run(args))
    except ScalerError as e:
        print(f"scaler {args.command}: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
