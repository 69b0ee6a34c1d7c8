"""What one tile's fit leaves for the run: its images, history and facts, and (for a tiled run's stitched
curve) its 8-bit snapshots."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..imaging.io import from_tensor
from .tiles import Tile

#: Memory a tiled run with a ground truth may spend on per-step 8-bit snapshots for its stitched curve; a run that
#: would need more keeps no curve.
CURVE_BUDGET_BYTES = 512 * 2**20


class Snapshots:
    """A callback that keeps one tile's 8-bit output and EMA at each logged step, with the wall time since the
    run began. All tiles share one byte budget; once it is spent every tile stops recording."""

    def __init__(self, start: float, shared: dict[str, Any]) -> None:
        self.start, self.shared = start, shared
        self.rows: list[tuple[int, float, np.ndarray, np.ndarray]] = []

    @staticmethod
    def budget() -> dict[str, Any]:
        return {"bytes": 0, "over": False, "lock": threading.Lock()}

    def __call__(self, rec: Any) -> None:
        if self.shared["over"]:
            return
        q = [np.round(np.clip(from_tensor(t), 0, 1) * 255).astype(np.uint8) for t in (rec.output, rec.ema)]
        with self.shared["lock"]:
            self.shared["bytes"] += q[0].nbytes * 2
            self.shared["over"] = self.shared["bytes"] > CURVE_BUDGET_BYTES
        self.rows.append((int(rec.row["iteration"]), time.perf_counter() - self.start, q[0], q[1]))



@dataclass
class TileOutcome:
    """One tile's fit: its images (output, ema, best) as returned and, where the measured pixels were kept,
    the network's own; its history rows (tagged with the tile index) and the facts metrics.json lists."""

    tile: Tile
    images: dict[str, np.ndarray]
    own: dict[str, np.ndarray] | None
    history: list[dict[str, Any]]
    facts: dict[str, Any]
    snapshots: Snapshots | None = None
