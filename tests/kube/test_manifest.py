"""The provisioned ScaledObject: KEDA's CRD schema, the deploy example's behaviour and
fallback, ownership, and the merge patch that corrects drift (pure)."""

from __future__ import annotations

import copy

import jsonschema
import pytest

from scaler.kube.manifest import build_scaledobject, drift, owner_uid
from scaler.kube.timing import Backoff
from tests.deploy.manifests import one, render, scaledobject_schema, unknown_fields

from .apiserver import merge_patch


def manifest(**kwargs: int) -> dict:
    args = {"min_replicas": 1, "max_replicas": 8, **kwargs}
    return build_scaledobject(namespace="llm", isvc="llama-3-8b", uid="u-1",
                              scaler_address="isvc-scaler.isvc-scaler.svc:6000", **args)


@pytest.mark.parametrize(("low", "high"), [(0, 1), (1, 8), (3, 64), (0, 65534)])
def test_validates_against_keda_crd_schema(low: int, high: int) -> None:
    so = manifest(min_replicas=low, max_replicas=high)
    jsonschema.validate(so, scaledobject_schema())
    assert list(unknown_fields(so, scaledobject_schema())) == []
    assert low <= so["spec"]["fallback"]["replicas"] <= high


def test_matches_the_deploy_example() -> None:
    example = one(render("examples/llama"), "ScaledObject")["spec"]
    spec = manifest()["spec"]
    for key in ("scaleTargetRef", "pollingInterval", "cooldownPeriod", "fallback"):
        assert spec[key] == example[key], key
    assert (spec["advanced"]["horizontalPodAutoscalerConfig"]["behavior"]
            == example["advanced"]["horizontalPodAutoscalerConfig"]["behavior"])
    (trigger,) = spec["triggers"]
    assert trigger["type"] == "external"
    assert trigger["metadata"] == {"scalerAddress": "isvc-scaler.isvc-scaler.svc:6000",
                                   "isvc": "llama-3-8b", "namespace": "llm"}


def test_owned_means_label_and_controlling_owner_reference() -> None:
    so = manifest()
    assert so["metadata"]["name"] == "llama-3-8b-predictor"
    assert owner_uid(so) == "u-1"
    no_label = copy.deepcopy(so)
    del no_label["metadata"]["labels"]
    assert owner_uid(no_label) is None
    not_controller = copy.deepcopy(so)
    not_controller["metadata"]["ownerReferences"][0]["controller"] = False
    assert owner_uid(not_controller) is None
    hand_made = {"metadata": {"name": "llama-3-8b-predictor", "namespace": "llm"}, "spec": {}}
    assert owner_uid(hand_made) is None


def test_drift_patch_restores_what_the_scaler_manages() -> None:
    desired = manifest(max_replicas=4)
    assert drift(desired, desired) is None
    edited = copy.deepcopy(manifest(max_replicas=8))
    edited["spec"]["idleReplicaCount"] = 0            # a hand edit the scaler does not make
    edited["metadata"]["labels"]["team"] = "a"        # foreign labels are kept
    patch = drift(edited, desired)
    assert patch is not None
    fixed = merge_patch(edited, patch)
    assert fixed["spec"] == desired["spec"]
    assert fixed["metadata"]["labels"] == {"app.kubernetes.io/managed-by": "isvc-scaler",
                                           "team": "a"}


def test_backoff_is_bounded_and_jittered() -> None:
    import random

    b = Backoff(base_s=0.5, cap_s=30.0, rng=random.Random(1))
    delays = [b.next_s() for _ in range(20)]
    assert all(0.25 <= d <= 30.0 for d in delays)
    assert max(delays[-5:]) <= 30.0 and min(delays[-5:]) >= 15.0
    assert len({round(d, 6) for d in delays}) == len(delays)
    b.reset()
    assert b.next_s() <= 0.5
