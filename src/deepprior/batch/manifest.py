"""The batch's manifest: ``OUT_DIR/manifest.jsonl``, a line per image per run, appended and synced as each
image ends, so a batch killed at any moment leaves every finished image on record. The last line of an image is
its state; a rerun skips an image whose output exists and whose last ``ok`` line has the same settings hash; the
manifest names images by their path relative to the input folder, so the batch may be rerun from anywhere."""

from __future__ import annotations

import pathlib
import threading
from typing import Any

from ..imaging.io import append_json_line, read_json_lines

NAME = "manifest.jsonl"


class Manifest:
    """Appends records to the manifest (thread-safe) and reads what earlier runs recorded."""

    def __init__(self, out_dir: pathlib.Path) -> None:
        self.path = out_dir / NAME
        self.lock = threading.Lock()

    def done(self) -> dict[str, dict[str, Any]]:
        """Input name (relative to the input folder) -> its last ``ok`` record, from earlier runs (a line a
        kill cut short is ignored)."""
        return {rec["input"]: rec for rec in read_json_lines(self.path)
                if rec.get("status") == "ok" and rec.get("input")}

    def write(self, record: dict[str, Any]) -> None:
        with self.lock:
            append_json_line(self.path, record)
