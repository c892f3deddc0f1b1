"""`scaler record`: every signal for every ISVC over a time range, from Prometheus (DESIGN §6).

    scaler record --config policy.yaml --start -24h --end now -o signals.csv
    scaler record --config policy.yaml --start 2024-05-01T00:00:00Z --end 1714608000 \\
        --step 15s -o signals.parquet
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import re
import sys
import time
from datetime import UTC, datetime
from typing import Any, TextIO

from scaler.errors import ConfigError

log = logging.getLogger(__name__)


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """Register the sub-command."""
    p = sub.add_parser(
        "record", help="record signal history from Prometheus (CSV or Parquet)",
        description="Record every signal for every ISVC from Prometheus range queries, on the "
        "tick grid (multiples of --step since the epoch), as the input of `scaler replay`.")
    # let relative times such as `--start -24h` through as values (argparse would otherwise
    # take them for options; it only does this for plain negative numbers)
    p._negative_number_matcher = re.compile(r"^-\d[\w.]*$")
    p.add_argument("--config", required=True, help="policy.yaml (Prometheus, queries, labels)")
    p.add_argument("--start", required=True,
                   help="RFC 3339, Unix seconds, 'now' or relative such as -24h")
    p.add_argument("--end", default="now", help="same forms as --start (default now)")
    p.add_argument("--step", default=None,
                   help="tick spacing, e.g. 15s (default: the config's interval)")
    p.add_argument("-o", "--output", required=True,
                   help="output file; Parquet if it ends in .parquet, else CSV")
    p.add_argument("--chunk-ticks", type=int, default=1000,
                   help="ticks per range query (≤ 11000; default 1000)")
    return p


class ProgressBar:
    """A one-line progress bar redrawn in place on a terminal stream."""

    def __init__(self, stream: TextIO, *, width: int = 30) -> None:
        self.stream = stream
        self.width = width

    def __call__(self, done: int, total: int) -> None:
        filled = self.width * done // max(total, 1)
        bar = "#" * filled + "-" * (self.width - filled)
        end = "\n" if done >= total else ""
        self.stream.write(f"\rrecord [{bar}] {done}/{total} chunks{end}")
        self.stream.flush()


def run(args: argparse.Namespace) -> int:
    """Run the sub-command."""
    from scaler.config import load_config
    from scaler.replay.output import staged_writer
    from scaler.replay.record import record, record_schema
    from scaler.replay.times import parse_duration_s, parse_time_s
    from scaler.signals.source import PromSignalSource
    from scaler.ticks import default_eval_delay_s, grid_range_s

    config = load_config(args.config)
    now_s = time.time()
    start_s = parse_time_s(args.start, now_s=now_s, name="--start")
    end_s = parse_time_s(args.end, now_s=now_s, name="--end")
    step_s = (parse_duration_s(args.step, name="--step") if args.step
              else float(config.interval_s))
    if not 1 <= args.chunk_ticks <= 11_000:
        raise ConfigError(f"--chunk-ticks = {args.chunk_ticks}, must be in [1, 11000]")
    # like the live engine, leave ticks whose samples may not have landed yet
    end_s = min(end_s, now_s - default_eval_delay_s(step_s))
    if end_s < start_s:
        raise ConfigError(f"--end ({end_s:g}) is before --start ({start_s:g})")
    if step_s != config.interval_s:
        log.warning("--step %gs differs from the config's interval %gs: replaying this file "
                    "will not reproduce the live decisions", step_s, config.interval_s)
    first_s, last_s = grid_range_s(start_s, end_s, step_s=step_s)
    progress = ProgressBar(sys.stderr) if sys.stderr.isatty() else None
    source = PromSignalSource.from_config(config)
    schema = record_schema(integral_times=step_s.is_integer(), signals=config.signal_names)
    try:
        with staged_writer(args.output, schema) as sink:
            stats = asyncio.run(record(source, sink, first_s=first_s, last_s=last_s,
                                       step_s=step_s, chunk_ticks=args.chunk_ticks,
                                       progress=progress, signals=config.signal_names))
    finally:
        source.close()
    for (signal, cause), count in sorted(stats.issues.items()):
        log.warning("signal %s: %d × %s while recording", signal, count, cause)
    if not stats.rows:
        log.warning("no series found for any signal between %s and %s", _utc(first_s),
                    _utc(last_s))
    print(f"recorded {stats.rows} rows, {len(stats.isvcs)} ISVCs, ticks {_utc(first_s)} .. "
          f"{_utc(last_s)} every {step_s:g}s → {args.output}", file=sys.stderr)
    return 0


def _utc(time_s: float) -> str:
    """RFC 3339 UTC, e.g. 2024-05-01T00:00:00Z."""
    return datetime.fromtimestamp(time_s, tz=UTC).isoformat().replace("+00:00", "Z")
