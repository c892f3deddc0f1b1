"""Replica counts from the Kubernetes API laid over a tick's SignalFrame; pure.

`replicas` (ready) and `spec_replicas` (requested) of every ISVC whose predictor Deployment
the cache knows replace the Prometheus values; other rows keep theirs (Prometheus is the
fallback). A frame without a `spec_replicas` column gets one (NaN where unknown).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import replace

import numpy as np

from scaler.keys import IsvcKey
from scaler.kube.objects import DeploymentInfo, ObjectKey
from scaler.signals.frames import SignalFrame

READY, SPEC = "replicas", "spec_replicas"


def replica_counts(deployments: Mapping[ObjectKey, DeploymentInfo],
                   ) -> dict[IsvcKey, tuple[float, float]]:
    """Per ISVC (ready, requested) summed over its predictor Deployments (several only while
    Knative revisions overlap); requested NaN when a Deployment leaves it unset."""
    out: dict[IsvcKey, tuple[float, float]] = {}
    for (ns, _), d in deployments.items():
        key = (ns, d.isvc)
        ready, spec = out.get(key, (0.0, 0.0))
        requested = math.nan if d.spec_replicas is None else float(d.spec_replicas)
        out[key] = (ready + d.ready_replicas, spec + requested)
    return out


def overlay_replicas(frame: SignalFrame,
                     counts: Mapping[IsvcKey, tuple[float, float]]) -> SignalFrame:
    """`frame` with `replicas` / `spec_replicas` replaced where `counts` knows the ISVC."""
    signals = frame.signals if SPEC in frame.signals else (*frame.signals, SPEC)
    values = frame.values
    if len(signals) != len(frame.signals):
        values = np.hstack([values, np.full((len(frame.keys), 1), np.nan)])
    rows = [(i, counts[k]) for i, k in enumerate(frame.keys) if k in counts]
    if not rows and signals is frame.signals:
        return frame
    values = values.copy() if values is frame.values else values
    if rows:
        index = np.array([i for i, _ in rows], dtype=np.int64)
        got = np.array([c for _, c in rows], dtype=np.float64)
        if READY in signals:
            values[index, signals.index(READY)] = got[:, 0]
        values[index, signals.index(SPEC)] = got[:, 1]
    return replace(frame, signals=signals, values=values)
