"""The evaluation engine: the one stateful loop (tick → query → policy step → snapshot).

`evaluation` (the pure per-tick evaluation) and `snapshot` (the immutable result) hold no I/O;
`loop`, `warmstart`, `store` and `telemetry` are the imperative shell around them.
"""

from scaler.engine.evaluation import Evaluation, evaluate
from scaler.engine.loop import Engine
from scaler.engine.snapshot import IsvcStatus, Snapshot
from scaler.engine.store import SnapshotStore

__all__ = ["Engine", "Evaluation", "IsvcStatus", "Snapshot", "SnapshotStore", "evaluate"]
