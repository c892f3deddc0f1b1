"""Helpers for the replay tests: write hand-made signals files and configs."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

BASE_CONFIG = """\
prometheus: {url: "http://127.0.0.1:9"}
interval: 15s
"""


def config_text(policies: str, extra: str = "") -> str:
    """A policy.yaml with the given `policies:` body (indented YAML) and extra top-level YAML."""
    body = textwrap.indent(textwrap.dedent(policies).strip("\n"), "  ")
    return BASE_CONFIG + "policies:\n" + body + "\n" + textwrap.dedent(extra)


@pytest.fixture
def write(tmp_path: Path) -> Callable[[str, str], Path]:
    """write(name, text) → path of a file under tmp_path holding the dedented text."""

    def _write(name: str, text: str) -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        return path

    return _write
