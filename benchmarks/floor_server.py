"""The floor: an ExternalScaler that answers constants, on grpc.aio + uvloop like `scaler serve`.

benchmarks/load.py runs the same KEDA-like load against it and against the real scaler, so the
report shows what Python gRPC itself costs on this machine next to what the scaler adds.

    .venv/bin/python benchmarks/floor_server.py --port 50051   # until SIGTERM
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
import uvloop

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scaler._proto import externalscaler_pb2 as pb
from scaler._proto import externalscaler_pb2_grpc as pb_grpc

ACTIVE = pb.IsActiveResponse(result=True)
SPEC = pb.GetMetricSpecResponse(metricSpecs=[
    pb.MetricSpec(metricName="desired-replicas", targetSize=1, targetSizeFloat=1.0)])


class ConstantScaler(pb_grpc.ExternalScalerServicer):
    """Every RPC answers a constant; streams send once and hold."""

    async def IsActive(self, request: Any, context: Any) -> pb.IsActiveResponse:
        return ACTIVE

    async def GetMetricSpec(self, request: Any, context: Any) -> pb.GetMetricSpecResponse:
        return SPEC

    async def GetMetrics(self, request: Any, context: Any) -> pb.GetMetricsResponse:
        return pb.GetMetricsResponse(metricValues=[pb.MetricValue(
            metricName=request.metricName, metricValue=1, metricValueFloat=1.0)])

    async def StreamIsActive(self, request: Any, context: Any) -> AsyncIterator[Any]:
        yield ACTIVE
        await asyncio.Event().wait()


async def serve(port: int) -> None:
    server = grpc.aio.server(maximum_concurrent_rpcs=20_000)
    pb_grpc.add_ExternalScalerServicer_to_server(ConstantScaler(), server)
    server.add_insecure_port(f"127.0.0.1:{port}")
    await server.start()
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    print("serving", flush=True)
    await stop.wait()
    await server.stop(1)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(serve(parser.parse_args().port))
