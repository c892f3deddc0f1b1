"""`make demo`: local Prometheus + synthetic vLLM fleet + `scaler serve` + a KEDA-like poller."""
