"""Offline replay: record signal history from Prometheus, replay any policy over it (DESIGN §6).

`loop` replays the live `scaler.policy.step` over a loaded signals table; `shell` is the
imperative shell of `scaler replay` (load, replay each config, write, publish).
"""
