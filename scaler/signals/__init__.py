"""Signals from Prometheus (DESIGN §2): one batched query per signal for every ISVC → a matrix.

`frames` is the pure half (query results → SignalFrame / SignalHistory, NaN = missing);
`client` (HTTP, auth, TLS) and `source` (the batched, threaded queries) do the I/O. Pure
callers import `scaler.signals.frames` directly so they do not pull the HTTP stack in.
"""

from scaler.signals.client import PromClient
from scaler.signals.frames import SignalFrame, SignalHistory, SignalSource
from scaler.signals.source import PromSignalSource

__all__ = ["PromClient", "PromSignalSource", "SignalFrame", "SignalHistory", "SignalSource"]
