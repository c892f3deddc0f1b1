"""Serving `scaler serve`: KEDA's ExternalScaler over grpc.aio, HTTP endpoints, TLS, reload.

Kept light on purpose: import the submodule you need (`scaler.serving.wiring` builds the
whole process), so `scaler --help` and the other commands do not load grpc.
"""
