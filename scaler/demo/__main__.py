"""`python -m scaler.demo`: the whole loop on one machine, loopback only.

Starts a synthetic vLLM fleet (prometheus_client-style exporters, load varying over time),
a real Prometheus scraping it every second, `scaler serve` as its own process, and a
KEDA-like poller that asks the scaler over gRPC, applies the HPA arithmetic, feeds the new
replica counts back into the fleet (closed loop) and prints a live table. Ctrl-C (or
--duration) stops everything it started.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from importlib import resources
from pathlib import Path

from scaler.demo.poller import Poller, ScaledObject, render_table
from scaler.devtools.fleet import Fleet, FleetServer
from scaler.devtools.load import LoadPattern
from scaler.devtools.prometheus import PrometheusProcess, free_port

DEMO_ISVCS = [
    # namespace, isvc, policy, base req/s, amplitude, period s, burst every s, TTFT floor s
    ("team-a", "llama-3-8b", "default", 14.0, 0.6, 240.0, 0.0, 0.0),
    ("team-a", "mistral-7b", "default", 6.0, 0.3, 300.0, 150.0, 0.0),
    # long prompts: TTFT ≥ 0.9 s whatever the replicas, above the 0.5 s target. The latency
    # guard asks one step, sees it did not help and settles (reason latency-floor).
    ("team-a", "qwen-coder", "default", 30.0, 0.7, 180.0, 0.0, 0.9),
    ("team-b", "llama-70b", "default", 20.0, 0.5, 360.0, 200.0, 0.0),
    ("team-b", "embedder", "batch", 10.0, 0.2, 600.0, 0.0, 0.0),
    ("team-b", "nightly-batch", "batch", 3.0, 0.9, 200.0, 0.0, 0.0),
]


def build_fleet() -> tuple[Fleet, list[ScaledObject]]:
    """The demo ISVCs, one pod each to start, and their ScaledObjects."""
    fleet = Fleet()
    objects = []
    for ns, name, policy, base, amp, period, burst, floor in DEMO_ISVCS:
        pattern = LoadPattern(base_rate=base, amplitude=amp, period_s=period,
                              burst_every_s=burst, burst_s=40.0, capacity_per_pod=8.0,
                              ttft_floor_s=floor)
        fleet.add(ns, name, pattern=pattern, pods=1)
        objects.append(ScaledObject(name=f"{name}-predictor", namespace=ns,
                                    metadata={"isvc": name, "policy": policy}))
    return fleet, objects


def write_config(directory: Path, prometheus_url: str) -> Path:
    """The demo policy.yaml, pointed at the local Prometheus."""
    text = resources.files("scaler.demo").joinpath("policy.yaml").read_text()
    path = directory / "policy.yaml"
    path.write_text(text.replace("PROMETHEUS_URL", prometheus_url))
    return path


def start_scaler(
    config: Path, *, grpc_port: int, http_port: int, log: Path
) -> subprocess.Popen[bytes]:
    """`scaler serve` as a separate process, as it runs in a cluster."""
    cmd = [sys.executable, "-m", "scaler", "serve", "--config", str(config), "--host", "127.0.0.1",
           "--grpc-port", str(grpc_port), "--http-port", str(http_port),
           "--warm-start-timeout", "10"]
    return subprocess.Popen(cmd, stdout=log.open("wb"), stderr=subprocess.STDOUT)


async def poll_loop(poller: Poller, *, period_s: float, duration_s: float, tty: bool) -> None:
    """Poll every `period_s` and print the table until `duration_s` (0 = until Ctrl-C)."""
    t0 = time.monotonic()
    while duration_s <= 0 or time.monotonic() - t0 < duration_s:
        rows = await poller.poll()
        table = render_table(rows, elapsed_s=time.monotonic() - t0)
        print(("\033[2J\033[H" if tty else "\n") + table, flush=True)
        await asyncio.sleep(period_s)


def main(argv: list[str] | None = None) -> int:
    """Run the demo; returns the exit code."""
    parser = argparse.ArgumentParser(prog="python -m scaler.demo", description=__doc__)
    parser.add_argument("--duration", type=float, default=0.0,
                        help="stop after this many seconds (0 = until Ctrl-C)")
    parser.add_argument("--poll", type=float, default=5.0, help="poller period (s)")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    workdir = Path(tempfile.mkdtemp(prefix="scaler-demo-"))
    fleet, objects = build_fleet()
    with contextlib.ExitStack() as stack:
        server = stack.enter_context(FleetServer(fleet))
        prom = stack.enter_context(PrometheusProcess(server.targets(), scrape_interval_s=1.0))
        prom.start()
        config = write_config(workdir, prom.url)
        grpc_port, http_port = free_port(), free_port()
        scaler = start_scaler(config, grpc_port=grpc_port, http_port=http_port,
                              log=workdir / "scaler.log")
        stack.callback(_terminate, scaler)
        print(f"Prometheus {prom.url}  scaler gRPC 127.0.0.1:{grpc_port}  "
              f"HTTP http://127.0.0.1:{http_port}/status  logs {workdir}", flush=True)

        def make_poller() -> Poller:
            return Poller(grpc_target=f"127.0.0.1:{grpc_port}",
                          status_url=f"http://127.0.0.1:{http_port}/status",
                          scaled_objects=objects,
                          apply=lambda so, n: fleet.set((so.namespace, so.metadata["isvc"]),
                                                        pods=n))
        try:
            asyncio.run(_run(make_poller, args, tty=sys.stdout.isatty()))
        except KeyboardInterrupt:
            print("\nstopping: scaler, Prometheus, fleet", flush=True)
        if scaler.poll() is not None and scaler.returncode != 0:
            print((workdir / "scaler.log").read_text()[-3000:], file=sys.stderr)
            return 1
    return 0


async def _run(make_poller: Callable[[], Poller], args: argparse.Namespace, *,
               tty: bool) -> None:
    poller = make_poller()
    try:
        await poll_loop(poller, period_s=args.poll, duration_s=args.duration, tty=tty)
    finally:
        await poller.close()


def _terminate(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
