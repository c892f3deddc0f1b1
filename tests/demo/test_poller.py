"""The demo poller's HPA arithmetic and table rendering."""

from __future__ import annotations

import pytest

from scaler.demo.poller import Row, ScaledObject, hpa_replicas, render_table

SO = ScaledObject(name="llama-predictor", namespace="prod", metadata={"isvc": "llama"})


@pytest.mark.parametrize(
    ("value", "current", "expected"),
    [(8.0, 4, 8), (4.0, 4, 4), (17.0, 16, 16), (1.0, 8, 1), (100.0, 4, 64), (0.0, 4, 1)],
    ids=["double", "steady", "inside-tolerance", "scale-down", "clamp-max", "clamp-min"],
)
def test_hpa_average_value_arithmetic(value: float, current: int, expected: int) -> None:
    assert hpa_replicas(metric_value=value, target_average=1.0, current=current,
                        min_replicas=1, max_replicas=64) == expected


def test_table_shows_signals_reason_and_fallback() -> None:
    status = {"signals": {"latency_p99": 0.25, "kv_cache": 0.93, "cpu": 0.4, "requests": 12.0},
              "pressure": 1.16, "reason": "scale-up"}
    text = render_table([Row(SO, 8, True, 8, "", status),
                         Row(SO, None, None, 4, "UNAVAILABLE: stale (KEDA fallback)", None)],
                        elapsed_s=30)
    lines = text.splitlines()
    assert "pressure" in lines[1] and "reason" in lines[1]
    assert lines[3].split() == ["prod/llama", "0.250s", "0.93", "0.40", "12.0", "1.16", "8",
                                "8", "yes", "scale-up"]
    assert lines[4].endswith("UNAVAILABLE: stale (KEDA fallback)")


def test_missing_values_keep_columns_aligned() -> None:
    text = render_table([Row(SO, 2, False, 2, "", {"signals": {}, "reason": "no-data"})],
                        elapsed_s=0)
    header, row = text.splitlines()[1], text.splitlines()[3]
    assert row.index("no-data") == header.index("reason")
    assert "-s" not in row
