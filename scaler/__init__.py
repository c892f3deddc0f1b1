"""isvc-scaler: KEDA external scaler for KServe InferenceServices."""
__version__ = "0.1.0"
