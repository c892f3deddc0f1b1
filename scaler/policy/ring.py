"""Recommendation history: a persistent ring of uint8/uint16 rows, and its window reductions.

`Ring` is a persistent (immutable-looking) (W, n) array in which a step replaces one row
without copying the other W − 1 (Baker's trick): the newest version owns the buffer, every
older version keeps only the row it lacks and a link to its successor. Reading an older
version first "reroots" it (swaps the saved rows back along the chain), so any version can
still be stepped or read, just more slowly. A lock per lineage serialises these swaps.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import numpy as np

from scaler.policy.params import WindowGroups


class Ring:
    """One version of a persistent (W, n) unsigned-integer array."""

    __slots__ = ("_buf", "_lock", "_next", "_row", "_slot", "dtype", "shape")

    def __init__(self, buf: np.ndarray, lock: threading.Lock | None = None) -> None:
        self.shape: tuple[int, int] = (int(buf.shape[0]), int(buf.shape[1]))
        self.dtype: np.dtype = buf.dtype
        self._buf: np.ndarray | None = buf
        self._lock = lock or threading.Lock()
        self._slot = 0
        self._row: np.ndarray | None = None
        self._next: Ring | None = None

    def __reduce__(self) -> tuple[type[Ring], tuple[np.ndarray]]:
        """Pickle / deepcopy as a fresh lineage holding this version's contents."""
        return (Ring, (self.array(),))

    def array(self) -> np.ndarray:
        """A copy of this version's contents."""
        with self._lock:
            return self._reroot().copy()

    def rows(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """array()[rows][:, cols] without copying the whole array first."""
        with self._lock:
            return self._reroot()[rows][:, cols]

    def update(self, slot: int, mutate: Callable[[np.ndarray], None], *, whole: bool) -> Ring:
        """New version: this one after `mutate(buffer)`, which may change only row `slot`
        unless `whole` (then the buffer is copied first)."""
        with self._lock:
            buf = self._reroot()
            if whole:
                fresh = buf.copy()
                mutate(fresh)
                return Ring(fresh)
            new = Ring(buf, self._lock)
            self._buf, self._slot, self._row, self._next = None, slot, buf[slot].copy(), new
            mutate(buf)
            return new

    def _reroot(self) -> np.ndarray:
        """Make this version own the buffer (lock held); returns the buffer."""
        path: list[Ring] = []
        node = self
        while node._buf is None:
            path.append(node)
            assert node._next is not None
            node = node._next
        for older in reversed(path):
            root = older._next
            assert root is not None and root._buf is not None and older._row is not None
            buf, slot = root._buf, older._slot
            saved = buf[slot].copy()
            buf[slot] = older._row
            root._buf, root._slot, root._row, root._next = None, slot, saved, older
            older._buf, older._row, older._next = buf, None, None
        assert self._buf is not None
        return self._buf


def window(
    ring: np.ndarray, head: int, groups: WindowGroups, reduce: np.ufunc,
    out: tuple[np.ndarray, np.ndarray, np.ndarray], sl: slice,
) -> np.ndarray:
    """Reduce (np.maximum or np.minimum) each ISVC's last `ticks` rows of `ring`, row `head`
    being the current tick; `ring` holds the columns `sl` of the ISVCs `groups` describes.
    `out`: three scratch buffers of the chunk's length and the ring's dtype; returns one.

    Ages are folded in group by group: with windows {2, 20} the rows of ages 0–1 give the
    2-tick ISVCs' result, then ages 2–19 are folded in for the 20-tick ones. Each group's
    result is blended in through its mask (see WindowGroups), not a masked copy.
    """
    acc, result, tmp = out
    blend = np.bitwise_and if reduce is np.maximum else np.bitwise_or
    size = ring.shape[0]
    done = 0
    for j, (ticks, mask) in enumerate(zip(groups.ticks, groups.masks, strict=True)):
        _fold(ring, head, done, ticks, size, reduce, acc, tmp)
        done = ticks
        if mask is None:
            return acc
        if j == 0:
            blend(acc, mask[sl], out=result)
        else:
            blend(acc, mask[sl], out=tmp)
            reduce(result, tmp, out=result)
    return result


def _fold(
    ring: np.ndarray, head: int, age0: int, age1: int, size: int, reduce: np.ufunc,
    acc: np.ndarray, tmp: np.ndarray,
) -> None:
    """acc ⊕= reduce of the rows of ages [age0, age1); acc = that reduce when age0 = 0.

    Age a lives in row (head − a) mod size, so an age range is one or two row slices.
    """
    start, stop = head - age1 + 1, head - age0 + 1
    pieces = [(start, stop)] if start >= 0 else [(start + size, size), (0, stop)]
    first = age0 == 0
    for a, b in pieces:
        if b <= a:
            continue
        if first:
            reduce.reduce(ring[a:b], axis=0, out=acc)
            first = False
        else:
            reduce.reduce(ring[a:b], axis=0, out=tmp)
            reduce(acc, tmp, out=acc)
