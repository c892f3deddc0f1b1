"""Every ExternalScaler RPC through a real stub against a real grpc.aio server on loopback."""

from __future__ import annotations

import asyncio

import grpc
import pytest

from scaler._proto import externalscaler_pb2 as pb
from tests.fakes import T0, snapshot, status
from tests.serving.conftest import Harness


def ref(name: str = "llama-predictor", namespace: str = "prod", **metadata: str
        ) -> pb.ScaledObjectRef:
    return pb.ScaledObjectRef(name=name, namespace=namespace, scalerMetadata=metadata)


async def test_get_metric_spec_answers_from_metadata_alone(harness: Harness) -> None:
    assert harness.store.snapshot is None
    reply = await harness.stub.GetMetricSpec(ref())
    assert len(reply.metricSpecs) == 1
    spec = reply.metricSpecs[0]
    assert (spec.metricName, spec.targetSize, spec.targetSizeFloat) == ("desired-replicas", 1, 1.0)


async def test_get_metrics_fills_both_fields_with_desired(harness: Harness) -> None:
    harness.store.publish(snapshot(T0, status("prod", "llama", desired=8)))
    req = pb.GetMetricsRequest(scaledObjectRef=ref(), metricName="desired-replicas")
    reply = await harness.stub.GetMetrics(req)
    [value] = reply.metricValues
    assert (value.metricName, value.metricValue, value.metricValueFloat) == (
        "desired-replicas", 8, 8.0)
    assert harness.counter("isvc_scaler_grpc_requests_total",
                           method="GetMetrics", code="OK") == 1


@pytest.mark.parametrize(
    ("name", "metadata", "expected_key", "expected_policy"),
    [
        ("llama-predictor", {}, ("prod", "llama"), "default"),
        ("llama", {}, ("prod", "llama"), "default"),
        ("so-name", {"isvc": "mistral", "namespace": "team-a"}, ("team-a", "mistral"), "default"),
        ("llama-predictor", {"policy": "batch", "scalerAddress": "x:6000"},
         ("prod", "llama"), "batch"),
    ],
    ids=["strip-predictor", "plain-name", "explicit-isvc-namespace", "policy-and-unknown-key"],
)
async def test_metadata_defaults(harness: Harness, name: str, metadata: dict[str, str],
                                 expected_key: tuple[str, str], expected_policy: str) -> None:
    harness.store.publish(snapshot(T0))
    await harness.stub.GetMetrics(pb.GetMetricsRequest(scaledObjectRef=ref(name, **metadata)))
    assert harness.seen_metadata[-1] == (expected_key, expected_policy)


async def test_unseen_isvc_gets_min_replicas_of_its_policy(harness: Harness) -> None:
    harness.store.publish(snapshot(T0, status("prod", "other", desired=4)))
    for policy, expected in (("default", 1), ("batch", 2)):
        req = pb.GetMetricsRequest(scaledObjectRef=ref("new-model", policy=policy))
        [value] = (await harness.stub.GetMetrics(req)).metricValues
        assert (value.metricValue, value.metricValueFloat) == (expected, float(expected))
    assert (await harness.stub.IsActive(ref("new-model"))).result is False


@pytest.mark.parametrize("active", [True, False], ids=["active", "inactive"])
async def test_is_active_reflects_snapshot(harness: Harness, active: bool) -> None:
    harness.store.publish(snapshot(T0, status("prod", "llama", desired=2, active=active)))
    assert (await harness.stub.IsActive(ref())).result is active


HOSTILE = [
    ({"isvc": 'x"}) or vector(1) #'}, "metadata.isvc"),
    ({"isvc": "Llama"}, "metadata.isvc"),
    ({"isvc": "a" * 64}, "metadata.isvc"),
    ({"isvc": "x" * 60_000}, "metadata.isvc"),
    ({"isvc": "lläma"}, "metadata.isvc"),
    ({"isvc": "-llama"}, "metadata.isvc"),
    ({"namespace": "prod|.*"}, "metadata.namespace"),
    ({"namespace": "prod\n"}, "metadata.namespace"),
    ({"policy": "nope"}, "metadata.policy"),
    ({"policy": "default} or {"}, "metadata.policy"),
]


@pytest.mark.parametrize(("metadata", "key"), HOSTILE,
                         ids=["promql", "uppercase", "64-chars", "huge", "unicode", "leading-dash",
                              "regex-namespace", "newline", "undefined-policy", "policy-injection"])
@pytest.mark.parametrize("method", ["GetMetrics", "IsActive", "GetMetricSpec"])
async def test_bad_metadata_is_invalid_argument_naming_the_key(
        harness: Harness, metadata: dict[str, str], key: str, method: str) -> None:
    harness.store.publish(snapshot(T0, status("prod", "llama", desired=2)))
    request = ref(**metadata)
    call = {
        "GetMetrics": lambda: harness.stub.GetMetrics(
            pb.GetMetricsRequest(scaledObjectRef=request)),
        "IsActive": lambda: harness.stub.IsActive(request),
        "GetMetricSpec": lambda: harness.stub.GetMetricSpec(request),
    }[method]
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await call()
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert (err.value.details() or "").startswith(key + ":")
    assert len(err.value.details() or "") < 400
    assert harness.seen_metadata == []
    assert harness.counter("isvc_scaler_grpc_requests_total",
                           method=method, code="INVALID_ARGUMENT") == 1


async def test_empty_name_without_isvc_key_is_rejected(harness: Harness) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await harness.stub.GetMetricSpec(pb.ScaledObjectRef(name="", namespace="prod"))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "metadata.name" in (err.value.details() or "")


async def test_no_snapshot_yet_is_unavailable(harness: Harness) -> None:
    for call in (harness.stub.IsActive(ref()),
                 harness.stub.GetMetrics(pb.GetMetricsRequest(scaledObjectRef=ref()))):
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await call
        assert err.value.code() == grpc.StatusCode.UNAVAILABLE
        assert "no evaluation" in (err.value.details() or "")


async def test_last_good_served_until_stale_after_then_unavailable(harness: Harness) -> None:
    harness.store.publish(snapshot(T0, status("prod", "llama", desired=4)))
    req = pb.GetMetricsRequest(scaledObjectRef=ref())
    harness.clock.now_s = T0 + 45.0
    assert (await harness.stub.GetMetrics(req)).metricValues[0].metricValue == 4
    harness.clock.now_s = T0 + 45.5
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await harness.stub.GetMetrics(req)
    assert err.value.code() == grpc.StatusCode.UNAVAILABLE
    assert "latest evaluation is 45.5s old (past stale_after)" in (err.value.details() or "")
    assert (await harness.stub.GetMetricSpec(ref())).metricSpecs[0].targetSize == 1
    harness.store.publish(snapshot(T0 + 45, status("prod", "llama", desired=2)))
    assert (await harness.stub.GetMetrics(req)).metricValues[0].metricValue == 2


async def next_message(call: grpc.aio.UnaryStreamCall, timeout_s: float = 3.0) -> object:
    return await asyncio.wait_for(call.read(), timeout_s)


async def test_stream_is_active_pushes_now_and_on_change_only(harness: Harness) -> None:
    harness.store.publish(snapshot(T0, status("prod", "llama", desired=1, active=False)))
    call = harness.stub.StreamIsActive(ref())
    assert (await next_message(call)).result is False  # type: ignore[attr-defined]
    harness.store.publish(snapshot(T0 + 15, status("prod", "llama", desired=1, active=False)))
    harness.store.publish(snapshot(T0 + 30, status("prod", "llama", desired=2, active=True)))
    assert (await next_message(call)).result is True  # type: ignore[attr-defined]
    harness.store.publish(snapshot(T0 + 45, status("prod", "llama", desired=1, active=False)))
    assert (await next_message(call)).result is False  # type: ignore[attr-defined]
    assert harness.counter("isvc_scaler_grpc_open_streams") == 1
    call.cancel()
    for _ in range(100):
        if harness.counter("isvc_scaler_grpc_open_streams") == 0:
            break
        await asyncio.sleep(0.02)
    assert harness.counter("isvc_scaler_grpc_open_streams") == 0


async def test_stream_is_active_ends_unavailable_when_stale(harness: Harness) -> None:
    harness.store.publish(snapshot(T0, status("prod", "llama", desired=1, active=True)))
    call = harness.stub.StreamIsActive(ref())
    assert (await next_message(call)).result is True  # type: ignore[attr-defined]
    harness.clock.now_s = T0 + 100
    harness.store.touch()
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await next_message(call)
    assert err.value.code() == grpc.StatusCode.UNAVAILABLE


async def test_stream_metric_spec_sends_spec_on_open(harness: Harness) -> None:
    call = harness.stub.StreamMetricSpec(ref())
    reply = await next_message(call)
    assert reply.metricSpecs[0].metricName == "desired-replicas"  # type: ignore[attr-defined]
    call.cancel()


async def test_bad_metadata_on_stream_is_invalid_argument(harness: Harness) -> None:
    call = harness.stub.StreamIsActive(ref(isvc="BAD"))
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await next_message(call)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert (err.value.details() or "").startswith("metadata.isvc:")


async def test_graceful_stop_closes_streams_and_finishes(harness: Harness) -> None:
    harness.store.publish(snapshot(T0, status("prod", "llama", desired=1, active=True)))
    streams = [harness.stub.StreamIsActive(ref()) for _ in range(5)]
    for call in streams:
        await next_message(call)
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    await harness.server.stop(5.0)
    for call in streams:
        assert await asyncio.wait_for(call.code(), 3.0) in (
            grpc.StatusCode.OK, grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED)
    assert loop.time() - t0 < 3.0
    assert harness.counter("isvc_scaler_grpc_open_streams") == 0


async def test_deadline_exceeded_is_honoured(harness: Harness) -> None:
    harness.store.publish(snapshot(T0, status("prod", "llama", desired=1, active=True)))
    reply = await harness.stub.IsActive(ref(), timeout=1.0)
    assert reply.result is True


async def test_stream_is_active_hears_only_its_own_isvc(harness: Harness) -> None:
    names = [f"m{i}" for i in range(50)]
    harness.store.publish(snapshot(T0, *(status("prod", n, desired=1, active=False)
                                         for n in names)))
    calls = {n: harness.stub.StreamIsActive(ref(isvc=n)) for n in names}
    for call in calls.values():
        assert (await next_message(call)).result is False  # type: ignore[attr-defined]
    flipped = {"m7", "m31"}
    harness.store.publish(snapshot(T0 + 15, *(status("prod", n, desired=1, active=n in flipped)
                                              for n in names)))
    for n in sorted(flipped):
        assert (await next_message(calls[n])).result is True  # type: ignore[attr-defined]
    quiet = [asyncio.ensure_future(calls[n].read()) for n in names if n not in flipped]
    done, _ = await asyncio.wait(quiet, timeout=0.3)
    assert not done, "a stream whose ISVC did not change was sent a message"
    for call in calls.values():
        call.cancel()
