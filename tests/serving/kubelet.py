"""A ConfigMap volume as the kubelet's AtomicWriter builds and updates it (test helper).

Layout: DIR/..2026_11_23_19_30_00.000000001/policy.yaml, DIR/..data -> that directory,
DIR/policy.yaml -> ..data/policy.yaml. An update writes a new timestamped directory, points
DIR/..data_tmp at it, renames ..data_tmp over ..data (atomic) and removes the old directory.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path


class ConfigMapVolume:
    """Writes `files` into `root` exactly like the kubelet's AtomicWriter."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._count = 0
        self._current: str | None = None

    def update(self, files: dict[str, str]) -> Path:
        """Publish a new payload atomically; returns the new timestamped directory."""
        self._count += 1
        name = f"..2026_11_23_19_30_00.{self._count:09d}"
        new_dir = self.root / name
        new_dir.mkdir(parents=True)
        for file_name, text in files.items():
            (new_dir / file_name).write_text(text)
        tmp = self.root / "..data_tmp"
        os.symlink(name, tmp)
        os.replace(tmp, self.root / "..data")
        for file_name in files:
            link = self.root / file_name
            if not link.is_symlink():
                os.symlink(f"..data/{file_name}", link)
        if self._current is not None:
            shutil.rmtree(self.root / self._current)
        self._current = name
        return new_dir
