"""`scaler record` (placeholder until implemented)."""

from __future__ import annotations

import argparse
from typing import Any


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """Register the sub-command."""
    return sub.add_parser("record", help="(not implemented yet)")


def run(args: argparse.Namespace) -> int:
    """Run the sub-command."""
    raise SystemExit("scaler record: not implemented yet")
