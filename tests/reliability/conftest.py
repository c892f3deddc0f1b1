"""Fixtures shared with tests/integration (the real-process harness lives there)."""

from __future__ import annotations

from tests.integration.conftest import add_isvc

__all__ = ["add_isvc"]
