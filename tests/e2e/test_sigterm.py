"""SIGTERM to `scaler serve` under load (open StreamIsActive streams, unary calls in flight):
exits 0 within the shutdown grace, streams end cleanly with OK, unary callers see only the
documented shutdown codes."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from pathlib import Path

import grpc

from scaler._proto import externalscaler_pb2 as pb
from scaler._proto import externalscaler_pb2_grpc as pb_grpc
from scaler.devtools import PrometheusProcess
from tests.e2e.conftest import AddIsvc
from tests.e2e.harness import (
    ServeProcess,
    policy_yaml,
    scaled_ref,
    wait_scraped,
    wait_until,
    write_policy,
)

NS = "rel-sigterm"
STREAMS = 60
CALLERS = 8
GRACE_S = 2.0


async def _stream(stub: pb_grpc.ExternalScalerStub, ref: pb.ScaledObjectRef
                  ) -> tuple[str, list[bool]]:
    got: list[bool] = []
    try:
        async for message in stub.StreamIsActive(ref):
            got.append(message.result)
    except grpc.aio.AioRpcError as e:
        return e.code().name, got
    return "OK", got


async def _caller(stub: pb_grpc.ExternalScalerStub, stop: asyncio.Event,
                  log: list[tuple[float, str, int | None]]) -> None:
    req = pb.GetMetricsRequest(scaledObjectRef=scaled_ref(NS, "x"), metricName="desired-replicas")
    while not stop.is_set():
        sent = time.time()
        try:
            reply = await stub.GetMetrics(req, timeout=5)
            log.append((sent, "OK", reply.metricValues[0].metricValue))
        except grpc.aio.AioRpcError as e:
            log.append((sent, e.code().name, None))
            await asyncio.sleep(0.05)


async def test_sigterm_under_load_exits_cleanly(
    prometheus_ready: PrometheusProcess, add_isvc: AddIsvc, tmp_path: Path
) -> None:
    key = add_isvc(NS, "x", kv_cache=0.95, pods=2)   # desired 4, active
    await asyncio.to_thread(wait_scraped, prometheus_ready, key)
    config = write_policy(tmp_path, policy_yaml(prometheus_ready.url))
    serve = ServeProcess(config, log_path=tmp_path / "serve.log", shutdown_grace_s=GRACE_S)
    serve.start()
    try:
        await asyncio.to_thread(serve.wait_ready)
        await asyncio.to_thread(wait_until, lambda: serve.desired(NS, "x").value == 4,
                                timeout_s=10, what="desired 4")
        async with grpc.aio.insecure_channel(serve.grpc_target) as channel:
            stub = pb_grpc.ExternalScalerStub(channel)
            streams = [asyncio.create_task(_stream(stub, scaled_ref(NS, "x")))
                       for _ in range(STREAMS)]
            stop, sigterm_s = asyncio.Event(), [float("inf")]
            log: list[tuple[float, str, int | None]] = []
            callers = [asyncio.create_task(_caller(stub, stop, log))
                       for _ in range(CALLERS)]
            await asyncio.to_thread(
                wait_until, lambda: serve.metric("isvc_scaler_grpc_open_streams") == STREAMS,
                timeout_s=10, what="every stream open")
            await asyncio.sleep(0.5)
            sigterm_s[0] = time.time()
            serve.terminate()
            code = await asyncio.to_thread(serve.wait_exit, GRACE_S + 3)
            exit_s = time.time() - sigterm_s[0]
            ended = await asyncio.wait_for(asyncio.gather(*streams), 5)
            await asyncio.sleep(0.3)
            stop.set()
            await asyncio.wait_for(asyncio.gather(*callers), 10)
    finally:
        serve.stop()

    assert code == 0, serve.log_text()[-2000:]
    assert exit_s < GRACE_S + 1
    assert [status for status, _ in ended] == ["OK"] * STREAMS
    assert all(messages == [True] for _, messages in ended)
    before = [(status, value) for sent, status, value in log if sent < sigterm_s[0]]
    after = Counter(status for sent, status, _ in log if sent >= sigterm_s[0])
    answered = [value for status, value in before if status == "OK"]
    assert len(answered) >= 100 and set(answered) == {4}
    lost = Counter(status for status, _ in before if status != "OK")
    # calls queued in gRPC core when the server stops are CANCELLED (grpc/grpc#41785), and a
    # call sent just before the signal may reach a server already draining (UNAVAILABLE):
    # at most the one call each caller had in flight
    assert set(lost) <= {"CANCELLED", "UNAVAILABLE"} and sum(lost.values()) <= CALLERS, lost
    assert set(after) <= {"UNAVAILABLE", "CANCELLED"} and after["UNAVAILABLE"] >= 1, after
    assert "stopped" in serve.log_text()
