"""Where ../shared (DESIGN, traces, fixtures, schemas) is: beside the repository, as in CI."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
TRACES = SHARED / "traces"
FIXTURES = SHARED / "fixtures"
SCHEMAS = SHARED / "schemas"
