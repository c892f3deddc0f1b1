"""The emulated Kubernetes API server of the tests (scaler.devtools.kubeapi: what it emulates
and what it does not)."""

from scaler.devtools.kubeapi import ApiServer, Request, merge_patch

__all__ = ["ApiServer", "Request", "merge_patch"]
