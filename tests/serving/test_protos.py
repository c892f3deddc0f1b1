"""The committed stubs are exactly what scripts/gen_protos.py makes from protos/, and the
proto is wire-identical to KEDA's external-scaler protocol."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from scaler._proto import externalscaler_pb2 as pb

ROOT = Path(__file__).resolve().parents[2]


def _generator():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("gen_protos", ROOT / "scripts" / "gen_protos.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["gen_protos"] = module
    spec.loader.exec_module(module)
    return module


def test_committed_stubs_match_regenerated(tmp_path: Path) -> None:
    written = _generator().generate(tmp_path / "_proto")
    committed = ROOT / "scaler" / "_proto"
    assert sorted(p.name for p in written) == sorted(
        p.name for p in committed.iterdir() if p.is_file())
    for path in written:
        assert path.read_bytes() == (committed / path.name).read_bytes(), (
            f"scaler/_proto/{path.name} is stale: run `make protos`")


# (message, field, number, type) as in kedacore/keda pkg/scalers/externalscaler/externalscaler.proto
KEDA_FIELDS = [
    ("ScaledObjectRef", "name", 1, "string"),
    ("ScaledObjectRef", "namespace", 2, "string"),
    ("ScaledObjectRef", "scalerMetadata", 3, "message"),
    ("IsActiveResponse", "result", 1, "bool"),
    ("GetMetricSpecResponse", "metricSpecs", 1, "message"),
    ("MetricSpec", "metricName", 1, "string"),
    ("MetricSpec", "targetSize", 2, "int64"),
    ("MetricSpec", "targetSizeFloat", 3, "double"),
    ("GetMetricsRequest", "scaledObjectRef", 1, "message"),
    ("GetMetricsRequest", "metricName", 2, "string"),
    ("GetMetricsResponse", "metricValues", 1, "message"),
    ("MetricValue", "metricName", 1, "string"),
    ("MetricValue", "metricValue", 2, "int64"),
    ("MetricValue", "metricValueFloat", 3, "double"),
]
_TYPE_NAMES = {9: "string", 8: "bool", 3: "int64", 1: "double", 11: "message"}


@pytest.mark.parametrize(("message", "field", "number", "type_name"), KEDA_FIELDS,
                         ids=[f"{m}.{f}" for m, f, _, _ in KEDA_FIELDS])
def test_fields_match_keda(message: str, field: str, number: int, type_name: str) -> None:
    descriptor = pb.DESCRIPTOR.message_types_by_name[message].fields_by_name[field]
    assert descriptor.number == number
    assert _TYPE_NAMES[descriptor.type] == type_name


def test_service_and_rpcs_match_keda() -> None:
    assert pb.DESCRIPTOR.package == "externalscaler"
    service = pb.DESCRIPTOR.services_by_name["ExternalScaler"]
    rpcs = {m.name: (m.input_type.name, m.output_type.name, m.server_streaming)
            for m in service.methods}
    assert rpcs == {
        "IsActive": ("ScaledObjectRef", "IsActiveResponse", False),
        "StreamIsActive": ("ScaledObjectRef", "IsActiveResponse", True),
        "GetMetricSpec": ("ScaledObjectRef", "GetMetricSpecResponse", False),
        "GetMetrics": ("GetMetricsRequest", "GetMetricsResponse", False),
        "StreamMetricSpec": ("ScaledObjectRef", "GetMetricSpecResponse", True),
    }
    assert sorted(pb.DESCRIPTOR.message_types_by_name) == sorted(
        {m for m, *_ in KEDA_FIELDS})
