"""Benchmark `scaler replay`: 1,000 ISVCs × 24 h at 15 s (5.76 M rows) by default.

Generates a signals CSV (diurnal load per ISVC with random phase and scale, bursts, noise, 1 %
empty cells, replicas following load with a lag), then times load, replay, write and the whole
`replay_to_dir` separately. Target: end to end ≤ 30 s on a 2-core machine.

    .venv/bin/python benchmarks/replay.py [--isvcs 1000] [--hours 24] [--step 15]
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa

from scaler.replay.io import load_signals
from scaler.replay.loop import replay
from scaler.replay.output import decisions_table, write_csv
from scaler.replay.record import record_schema
from scaler.replay.shell import replay_to_dir
from scaler.replay.summary import summarize

CONFIG = """\
prometheus: {url: "http://127.0.0.1:9090"}
interval: 15s
policies:
  default:
    targets: {latency_p99: 0.5, kv_cache: 0.8, cpu: 0.7}
  batch:
    targets: {kv_cache: 0.9}
    scale_down_window: 600s
isvcs:
  team-3/model-0003: {policy: batch}
  team-7/model-0007: {policy: batch, max_replicas: 16}
"""


def _tick_block(rng: np.random.Generator, t: np.ndarray, spec: dict[str, np.ndarray]
                ) -> dict[str, np.ndarray]:
    """Signals (ticks × ISVCs) for the tick times `t`, open loop (recorded, not reacting)."""
    day = 2 * np.pi * t[:, None] / 86400.0
    load = spec["base"] * (1.0 + 0.7 * np.sin(day + spec["phase"]))
    burst = rng.random(load.shape) < 0.002
    load = load * np.where(burst, 3.0, 1.0) * rng.lognormal(0.0, 0.1, load.shape)
    replicas = np.exp2(np.ceil(np.log2(np.maximum(spec["base"] * 1.2 / spec["capacity"], 1))))
    replicas = np.broadcast_to(replicas, load.shape)
    util = load / (replicas * spec["capacity"])
    return {
        "latency_p99": 0.15 + 0.6 * util**3 + rng.normal(0, 0.01, load.shape).clip(0),
        "kv_cache": np.clip(0.85 * util, 0, 1),
        "cpu": 0.9 * util,
        "replicas": replicas.astype(np.float64),
        "requests": load,
    }


def generate(path: Path, *, isvcs: int, hours: float, step_s: float, seed: int = 7) -> int:
    """Write the benchmark CSV to `path`; returns the number of rows."""
    import pyarrow.csv as pacsv

    from scaler.replay.output import CSV_OPTIONS

    rng = np.random.default_rng(seed)
    spec = {"base": rng.lognormal(2.0, 1.0, isvcs), "phase": rng.uniform(0, 2 * np.pi, isvcs),
            "capacity": rng.uniform(5, 20, isvcs)}
    names = [(f"team-{i % 10}", f"model-{i:04d}") for i in range(isvcs)]
    order = sorted(range(isvcs), key=names.__getitem__)
    spec = {k: v[order] for k, v in spec.items()}
    names = [names[i] for i in order]
    ns = pa.array([n[0] for n in names]).dictionary_encode()
    isvc = pa.array([n[1] for n in names]).dictionary_encode()
    start = 1_714_521_600.0
    ticks = start + step_s * np.arange(int(hours * 3600 / step_s))
    schema = record_schema(integral_times=True)
    rows = 0
    with pacsv.CSVWriter(path, schema, write_options=CSV_OPTIONS) as writer:
        for lo in range(0, len(ticks), 240):
            t = ticks[lo:lo + 240]
            block = _tick_block(rng, t, spec)
            n = len(t) * isvcs
            columns = {"time_s": pa.array(np.repeat(t, isvcs).astype(np.int64)),
                       "namespace": ns.take(pa.array(np.tile(np.arange(isvcs), len(t)))),
                       "isvc": isvc.take(pa.array(np.tile(np.arange(isvcs), len(t))))}
            for name, values in block.items():
                flat = values.reshape(-1)
                columns[name] = pa.array(flat, mask=rng.random(n) < 0.01)
            table = pa.table(columns).cast(schema)
            writer.write_table(table)
            rows += n
    return rows


@contextlib.contextmanager
def timed(label: str, figures: dict[str, float]) -> Iterator[None]:
    """Time the block into figures[label] and print it."""
    t0 = time.perf_counter()
    yield
    figures[label] = time.perf_counter() - t0
    print(f"  {label:<22} {figures[label]:7.2f} s", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--isvcs", type=int, default=1000)
    parser.add_argument("--hours", type=float, default=24.0)
    parser.add_argument("--step", type=float, default=15.0)
    parser.add_argument("--target-s", type=float, default=30.0)
    args = parser.parse_args()
    from scaler.config import parse_config

    work = Path(tempfile.mkdtemp(prefix="replay-bench-"))
    try:
        signals, config_path = work / "signals.csv", work / "policy.yaml"
        config_path.write_text(CONFIG)
        config = parse_config(CONFIG, source=str(config_path))
        figures: dict[str, float] = {}
        with timed("generate (not counted)", figures):
            rows = generate(signals, isvcs=args.isvcs, hours=args.hours, step_s=args.step)
        size_mb = signals.stat().st_size / 1e6
        print(f"{rows:,} rows ({args.isvcs} ISVCs × {rows // args.isvcs} ticks), "
              f"{size_mb:.0f} MB CSV", flush=True)
        with timed("load + validate", figures):
            table = load_signals(signals)
        with timed("replay (policy loop)", figures):
            result = replay(table, config)
        with timed("decisions table", figures):
            decisions = decisions_table(result)
        with timed("write decisions.csv", figures):
            write_csv(decisions, work / "d.csv")
        with timed("summary", figures):
            summarize(result)
        del table, result, decisions
        with timed("end to end", figures):
            replay_to_dir(signals, [config_path], work / "out")
        parts = sum(v for k, v in figures.items() if k not in ("generate (not counted)",
                                                                "end to end"))
        total = figures["end to end"]
        print(f"sum of parts {parts:.2f} s; end to end {total:.2f} s = "
              f"{total / args.target_s:.2f} × target {args.target_s:g} s; "
              f"{rows / total / 1e6:.2f} M rows/s; replay loop "
              f"{figures['replay (policy loop)'] / (rows // args.isvcs) * 1e3:.3f} ms/tick; "
              f"{args.hours * 3600 / total:,.0f}× faster than real time")
        return 0 if total <= args.target_s else 1
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
