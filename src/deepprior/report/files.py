"""The report's data files: metrics.json and config.json (JSON without NaN), history.csv."""

from __future__ import annotations

import csv
import io as _io
import json
import math
import pathlib
from typing import Any

from ..imaging.io import atomic_write_text

REPORT_FILES = ("metrics.json", "history.csv", "config.json", "curves.png", "comparison.png")
#: Added with an uncertainty map (and reliability.png when the run had a ground truth).
UNCERTAINTY_FILES = ("uncertainty.npy", "uncertainty.png")


def _clean(value: Any) -> Any:
    """JSON has no inf / NaN: write them as null (a perfect match has infinite PSNR)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


def write_json(path: pathlib.Path, data: dict[str, Any]) -> None:
    """Write ``data`` as indented JSON, atomically."""
    atomic_write_text(path, json.dumps(_clean(data), indent=2) + "\n")


def write_history(path: pathlib.Path, history: list[dict[str, Any]]) -> None:
    """One CSV row per logged iteration; columns are the union of all rows' keys, in first-seen order."""
    columns: list[str] = []
    for row in history:
        columns += [k for k in row if k not in columns]
    buf = _io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, restval="")
    writer.writeheader()
    for row in history:
        writer.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items()})
    atomic_write_text(path, buf.getvalue())
