"""Fixtures: ISVCs added to the shared synthetic fleet for one test, removed afterwards."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from scaler.devtools import Fleet
from scaler.keys import IsvcKey

AddIsvc = Callable[..., IsvcKey]


@pytest.fixture
def add_isvc(fleet: Fleet) -> Iterator[AddIsvc]:
    """add_isvc(namespace, name, **IsvcDrive fields) on the shared fleet; removed at teardown."""
    added: list[IsvcKey] = []

    def add(namespace: str, name: str, **drive: Any) -> IsvcKey:
        key = fleet.add(namespace, name, **drive)
        added.append(key)
        return key

    yield add
    for key in added:
        fleet.remove(key)
