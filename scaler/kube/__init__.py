"""Kubernetes-native operation (DESIGN §8): InferenceService annotations as policy overrides,
replica counts from the predictor Deployments, policy.yaml from a ConfigMap, and ScaledObjects
provisioned for annotated ISVCs by the replica holding a Lease.

`annotations`, `manifest`, `plan`, `overlay`, `objects` and `timing` are pure; `reflector`
(list-then-watch), `cluster`, `leader`, `provision` and `integration` are the shell around
them.
"""

from scaler.kube.annotations import AnnotationError, Overrides, parse_annotations
from scaler.kube.cluster import DEFAULT_SCALER_ADDRESS, KubeOptions, parse_config_map
from scaler.kube.integration import Kubernetes
from scaler.kube.leader import LeaseTiming
from scaler.kube.manifest import build_scaledobject
from scaler.kube.timing import WatchTiming

__all__ = [
    "DEFAULT_SCALER_ADDRESS", "AnnotationError", "KubeOptions", "Kubernetes", "LeaseTiming",
    "Overrides", "WatchTiming", "build_scaledobject", "parse_annotations", "parse_config_map",
]
