"""A burst of concurrent calls, as when KEDA's operator restarts and every ScaledObject checks
IsActive at once, is answered, not shed: gRPC core cancels calls waiting to be matched beyond
`grpc.server.max_pending_requests` (default 1,000, rising to all at the 3,000 hard limit) with
CANCELLED, far below the server's own limit of MAX_CONCURRENT_RPCS."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

import grpc

from scaler._proto import externalscaler_pb2_grpc as pb_grpc
from scaler.devtools import PrometheusProcess
from scaler.serving.external_scaler import MAX_CONCURRENT_RPCS
from tests.e2e.conftest import AddIsvc
from tests.e2e.harness import (
    ServeProcess,
    policy_yaml,
    scaled_ref,
    wait_scraped,
    wait_until,
    write_policy,
)

NS = "rel-burst"
BURST = 3000


async def test_burst_of_concurrent_calls_is_answered(
    prometheus_ready: PrometheusProcess, add_isvc: AddIsvc, tmp_path: Path
) -> None:
    assert BURST < MAX_CONCURRENT_RPCS
    key = add_isvc(NS, "x", kv_cache=0.95, pods=2)
    await asyncio.to_thread(wait_scraped, prometheus_ready, key)
    config = write_policy(tmp_path, policy_yaml(prometheus_ready.url, interval="2s",
                                                stale_after="30s"))
    with ServeProcess(config, log_path=tmp_path / "serve.log") as serve:
        await asyncio.to_thread(serve.wait_ready)
        await asyncio.to_thread(wait_until, lambda: serve.active(NS, "x").value is True,
                                timeout_s=10, what="x active")
        async with grpc.aio.insecure_channel(serve.grpc_target) as channel:
            stub = pb_grpc.ExternalScalerStub(channel)
            ref = scaled_ref(NS, "x")

            async def is_active() -> str:
                try:
                    reply = await stub.IsActive(ref, timeout=30)
                except grpc.aio.AioRpcError as e:
                    return f"{e.code().name}: {e.details()}"
                return "OK" if reply.result else "inactive"

            codes = Counter(await asyncio.gather(*(is_active() for _ in range(BURST))))
    assert codes == {"OK": BURST}
