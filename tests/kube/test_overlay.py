"""Replica counts from the Deployments cache laid over a SignalFrame (pure)."""

from __future__ import annotations

import math

import numpy as np

from scaler.kube.objects import DeploymentInfo, reduce_deployment
from scaler.kube.overlay import overlay_replicas, replica_counts
from tests.engine.fakes import frame

from .conftest import deployment


def test_overlay_replaces_known_rows_and_adds_spec_replicas() -> None:
    f = frame(15.0, {("a", "m"): {"kv_cache": 0.5, "replicas": 1.0},
                     ("a", "n"): {"kv_cache": 0.5, "replicas": 3.0}})
    out = overlay_replicas(f, {("a", "m"): (2.0, 4.0), ("b", "absent"): (9.0, 9.0)})
    assert "spec_replicas" in out.signals and set(f.signals) <= set(out.signals)
    assert out.column("replicas").tolist() == [2.0, 3.0]
    spec = out.column("spec_replicas").tolist()
    assert spec[0] == 4.0 and math.isnan(spec[1])
    assert np.array_equal(f.column("replicas"), [1.0, 3.0])   # the input is not mutated
    assert out.column("kv_cache").tolist() == [0.5, 0.5]


def test_replica_counts_from_predictor_deployments_only() -> None:
    deployments = {
        ("a", "m-predictor"): reduce_deployment(deployment("a", "m", spec=4, ready=2)),
        ("a", "m-transformer"): reduce_deployment(deployment(
            "a", "m", spec=9, ready=9, name="m-transformer", component="transformer")),
        ("a", "n-predictor"): reduce_deployment(deployment("a", "n", spec=None, ready=None)),
    }
    assert deployments[("a", "m-transformer")] is None
    counts = replica_counts({k: v for k, v in deployments.items() if v is not None})
    assert counts[("a", "m")] == (2.0, 4.0)
    ready, spec = counts[("a", "n")]
    assert ready == 0.0 and math.isnan(spec)
    revisions = {("a", "r1"): DeploymentInfo("m", 2, 2), ("a", "r2"): DeploymentInfo("m", 1, 0)}
    assert replica_counts(revisions)[("a", "m")] == (2.0, 3.0)
