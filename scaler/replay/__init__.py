"""Offline replay: record signal history from Prometheus, replay any policy over it (DESIGN §6).

`io` loads and validates a signals file, `run` replays the live `scaler.policy.step` over it,
`summary` / `output` / `plot` report, `record` fetches history, `pipeline` is `scaler replay`.
"""
