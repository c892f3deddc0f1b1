"""grpc.health.v1 and server reflection on the same server."""

from __future__ import annotations

from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from scaler.serving.external_scaler import SERVICE_NAME
from tests.serving.conftest import Harness


async def test_health_overall_serving_and_service_follows_readiness(harness: Harness) -> None:
    stub = health_pb2_grpc.HealthStub(harness.channel)
    serving = health_pb2.HealthCheckResponse.SERVING
    overall = await stub.Check(health_pb2.HealthCheckRequest(service=""))
    assert overall.status == serving
    before = await stub.Check(health_pb2.HealthCheckRequest(service=SERVICE_NAME))
    assert before.status == health_pb2.HealthCheckResponse.NOT_SERVING
    await harness.server.set_serving(True)
    after = await stub.Check(health_pb2.HealthCheckRequest(service=SERVICE_NAME))
    assert after.status == serving


async def test_reflection_lists_external_scaler(harness: Harness) -> None:
    stub = reflection_pb2_grpc.ServerReflectionStub(harness.channel)

    async def requests():  # type: ignore[no-untyped-def]
        yield reflection_pb2.ServerReflectionRequest(list_services="")

    names: list[str] = []
    async for reply in stub.ServerReflectionInfo(requests()):
        names.extend(s.name for s in reply.list_services_response.service)
    assert SERVICE_NAME == "externalscaler.ExternalScaler"
    assert {SERVICE_NAME, "grpc.health.v1.Health"} <= set(names)
