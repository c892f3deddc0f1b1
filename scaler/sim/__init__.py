"""Closed-loop simulation: real request traces → vLLM replica model → policy → KEDA + HPA."""
