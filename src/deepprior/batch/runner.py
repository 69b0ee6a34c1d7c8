"""A batch: its images found, each restored by an engine, each record appended to the manifest as it comes,
a summary at the end."""

from __future__ import annotations

import pathlib
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from .items import Item
from .manifest import Manifest


@dataclass
class Summary:
    """How a batch went: counts by status, its time, the failures' messages."""

    ok: int = 0
    failed: int = 0
    skipped: int = 0
    seconds: float = 0.0
    errors: list[tuple[str, str]] = field(default_factory=list)

    def line(self) -> str:
        return (f"{self.ok} restored, {self.failed} failed, {self.skipped} skipped in {self.seconds:.1f} s")


def run_batch(items: list[Item], out_dir: pathlib.Path, spec: dict[str, Any], *, engine: str = "local",
              workers: int = 1, address: str | None = None, gpus: int | None = None, retries: int = 3,
              timeout: float | None = None, on_record: Callable[[dict[str, Any]], None] | None = None,
              step: Callable | None = None) -> Summary:
    """Restore ``items`` with ``spec`` (task, preset, seed, device, settings, ...); the records go to
    ``OUT_DIR/manifest.jsonl`` and to ``on_record``."""
    start = time.perf_counter()
    manifest = Manifest(out_dir)
    done = manifest.done()
    tasks = [(item.to_dict(), spec, done.get(item.name)) for item in items]
    if engine == "ray":
        from .ray_engine import run_ray
        records = run_ray(tasks, workers if workers > 1 else None, address=address, gpus=gpus, retries=retries,
                          timeout=timeout)
    else:
        from .local import run_local
        records = run_local(tasks, workers, step=step)
    summary = Summary()
    for record in records:
        manifest.write(record)
        status = record["status"]
        setattr(summary, status, getattr(summary, status) + 1)
        if status == "failed":
            summary.errors.append((record["input"], record["error"]))
        if on_record is not None:
            on_record(record)
    summary.seconds = time.perf_counter() - start
    return summary
