"""Drive benchmarks/kedaload — a KEDA-like client fleet on grpc-go, KEDA's own gRPC library.

A Python client costs ~200–270 µs of CPU per RPC here (grpc.aio or sync), more than the server it
measures, on the same two cores; kedaload costs what KEDA costs. It is built from Debian's
packages (golang-go, golang-google-grpc-dev) in GOPATH mode: no network, no generated stubs
(requests travel pre-serialised through a pass-through codec).
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import grpc
import numpy as np

from scaler._proto import externalscaler_pb2 as pb

KEDALOAD = Path(__file__).resolve().parent / "kedaload"
GOPATH = Path("/usr/share/gocode")
RECORD = np.dtype([("method", "u1"), ("code", "u1"), ("pad", "V6"), ("sent", "<f8"),
                   ("recv", "<f8"), ("latency", "<f8")])
"""One RPC as kedaload writes it (little-endian, 32 bytes); times in Unix seconds."""
METHODS = ("GetMetricSpec", "GetMetrics", "IsActive")
CODE_NAMES = {code.value[0]: code.name for code in grpc.StatusCode}


def build(work: Path) -> Path:
    """Compile kedaload into `work`; SystemExit naming the packages if Go or grpc-go is missing."""
    go = shutil.which("go")
    if go is None or not (GOPATH / "src/google.golang.org/grpc").is_dir():
        raise SystemExit("the load benchmark drives KEDA's gRPC library (grpc-go): apt-get "
                         "install golang-go golang-google-grpc-dev  (`make bench-deps`)")
    out = work / "kedaload"
    subprocess.run([go, "build", "-o", str(out), "main.go"], cwd=KEDALOAD, check=True,
                   env={**os.environ, "GO111MODULE": "off", "GOPATH": str(GOPATH)})
    return out


def plan(target: str, keys: list[tuple[str, str]], *, scaled_objects: int, streams: int,
         period_s: float, start_s: float, end_s: float) -> dict[str, Any]:
    """kedaload's JSON plan: ScaledObjects for the first `scaled_objects` keys (pre-serialised
    requests), streams for the first `streams`; poll = HPA sync = period_s."""
    def ref(ns: str, name: str) -> Any:
        return pb.ScaledObjectRef(name=f"{name}-predictor", namespace=ns, scalerMetadata={
            "scalerAddress": "isvc-scaler.keda:6000", "isvc": name, "policy": "default"})

    def b64(message: Any) -> str:
        return base64.b64encode(message.SerializeToString()).decode()

    return {
        "target": target, "poll_s": period_s, "hpa_s": period_s, "start_s": start_s,
        "end_s": end_s, "seed": 1, "spec_workers": 20,
        "scaled_objects": [
            {"ref": b64(ref(*k)), "metrics": b64(pb.GetMetricsRequest(
                scaledObjectRef=ref(*k), metricName="desired-replicas"))}
            for k in keys[:scaled_objects]],
        "streams": [b64(ref(*k)) for k in keys[:streams]],
    }


def start(binary: Path, the_plan: dict[str, Any], records: Path) -> subprocess.Popen[str]:
    """Start kedaload on `the_plan`; it writes per-RPC records to `records`."""
    proc = subprocess.Popen([str(binary), "-records", str(records)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdin is not None
    proc.stdin.write(json.dumps(the_plan))
    proc.stdin.close()
    return proc


def finish(proc: subprocess.Popen[str], records: Path) -> dict[str, Any]:
    """Wait for kedaload; its results as arrays: OK latencies and send times per method (s),
    errors as (sent, received, method, code, details), stream counts, CPU seconds under load."""
    assert proc.stdout is not None
    out = proc.stdout.read()
    if proc.wait(timeout=60) != 0:
        raise SystemExit(f"kedaload failed (exit {proc.returncode})")
    summary = json.loads(out)
    rec = np.fromfile(records, dtype=RECORD)
    ok = rec["code"] == 0
    lat = {m: rec["latency"][ok & (rec["method"] == i)] for i, m in enumerate(METHODS)}
    sent = {m: rec["sent"][ok & (rec["method"] == i)] for i, m in enumerate(METHODS)}
    # unary errors from the records (complete); messages from the summary where kept
    details = {(e["method"], e["sent_s"]): e["details"] for e in summary["errors"]}
    bad = ~ok
    errors = [(sent, recv, METHODS[m], CODE_NAMES.get(c, str(c)),
               details.get((METHODS[m], sent), ""))
              for sent, recv, m, c in zip(rec["sent"][bad].tolist(), rec["recv"][bad].tolist(),
                                          rec["method"][bad].tolist(), rec["code"][bad].tolist(),
                                          strict=True)]
    errors += [(e["sent_s"], e["recv_s"], e["method"], CODE_NAMES.get(e["code_num"], e["code"]),
                e["details"]) for e in summary["errors"] if e["method"] == "StreamIsActive"]
    return {"lat": lat, "sent": sent, "errors": errors, "streams": summary["streams"],
            "cpu_s": summary["cpu_s"]}
