"""`make demo` smoke test: the whole loop (fleet, Prometheus, `scaler serve`, KEDA-like poller)
runs for 20 s, exits 0 and prints the live table with numeric decisions."""

from __future__ import annotations

import re
import subprocess
import sys

from tests.e2e.harness import REPO

HEADER = re.compile(r"^ISVC\s+p99 TTFT\s+KV\s+CPU\s+req/s\s+pressure\s+pods\s+desired\s+active",
                    re.M)
ROW = re.compile(r"^(team-[ab]/[a-z0-9-]+)\s.*\s(\d+)\s+(\d+)\s+(yes|no)\s", re.M)


def test_demo_runs_and_prints_decisions() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "scaler.demo", "--duration", "20", "--poll", "2"],
        cwd=REPO, capture_output=True, text=True, timeout=90, check=False)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    assert HEADER.search(proc.stdout), proc.stdout[-2000:]
    rows = ROW.findall(proc.stdout)
    assert rows, proc.stdout[-2000:]
    isvcs = {isvc for isvc, _, _, _ in rows}
    assert len(isvcs) >= 1
    assert all(1 <= int(desired) <= 32 for _, _, desired, _ in rows)
