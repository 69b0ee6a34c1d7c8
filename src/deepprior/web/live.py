"""A restoration running in a worker thread, watched by the page: the latest images, the curves, the rate.

The page's handler is a generator; it starts a :class:`LiveRun`, then asks it for a :class:`View` every
fraction of a second and yields one to the browser whenever a new preview is there. The fit's callback only
copies the latest EMA image out every ``every`` steps, so watching costs the fit little. ``cancel()`` sets the
run's cancel event: the fit stops at its next logged step and the run returns its best result so far.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..fitting import StepRecord
from ..imaging.io import from_tensor, to_uint8
from ..jobs import Job, Restoration, run
from ..jobs.outcome import TileOutcome


@dataclass
class View:
    """What the page shows at one moment of a run."""

    preview: np.ndarray | None
    rows: list[dict[str, Any]]
    iteration: int
    bound: int
    tiles_done: int
    tiles: int
    rate: float
    seconds_left: float | None
    done: bool
    version: int = 0
    error: str = ""
    result: Restoration | None = field(default=None, repr=False)

    def status(self) -> str:
        """One line: steps, rate, time left, tiles."""
        if self.error:
            return f"failed: {self.error}"
        tiles = f", tiles {self.tiles_done}/{self.tiles} done" if self.tiles > 1 else ""
        if self.done:
            m = self.result.metrics if self.result is not None else {}
            how = "cancelled: kept the best result so far" if m.get("stopped_by") == "interrupted" else "finished"
            return f"{how}: {m.get('iterations', self.iteration)} steps in {m.get('seconds', 0):.1f} s{tiles}"
        if self.iteration == 0:
            return "starting (building the network)"
        left = "" if self.seconds_left is None else f", at most {self.seconds_left:.0f} s left"
        return f"step {self.iteration} of at most {self.bound}, {self.rate:.1f} steps/s{left}{tiles}"


class LiveRun:
    """Runs ``job`` in a daemon thread; :meth:`view` reads its progress from any thread."""

    def __init__(self, job: Job, every: int = 25) -> None:
        self.job, self.every = job, max(1, every)
        self.cancel_event = threading.Event()
        self.lock = threading.Lock()
        self.rows: list[dict[str, Any]] = []
        self.canvas = to_uint8(_upscaled(job))  # the input at the result's size; tiles land on it
        self.preview: np.ndarray | None = None
        self.version = 0
        self.tiles_done = 0
        self.started = time.perf_counter()
        self.result: Restoration | None = None
        self.error = ""
        self.thread = threading.Thread(target=self._work, name="deepprior-web-run", daemon=True)

    def start(self) -> "LiveRun":
        self.thread.start()
        return self

    def cancel(self) -> None:
        """Stop at the next logged step, keeping the best result so far."""
        self.cancel_event.set()

    def _work(self) -> None:
        try:
            self.result = run(self.job, callbacks=[self._step], cancel=self.cancel_event, on_tile=self._tile)
        except Exception as e:  # shown on the page; the server goes on
            self.error = f"{type(e).__name__}: {e}"
        with self.lock:
            self.version += 1

    def _step(self, record: StepRecord) -> None:
        row = {k: v for k, v in record.row.items() if isinstance(v, (int, float))}
        it = int(row["iteration"])
        image = to_uint8(from_tensor(record.ema)) if it == 1 or it % self.every == 0 else None
        with self.lock:
            self.rows.append(row)
            if image is not None:
                tile = self.job.tiling.tiles[int(row.get("tile", 0))]
                self.preview = self.canvas.copy()
                self.preview[tile.result(self.job.factor)] = image
                self.version += 1

    def _tile(self, outcome: TileOutcome) -> None:
        with self.lock:
            self.canvas[outcome.tile.result(self.job.factor)] = to_uint8(outcome.images[self.job.fit.result])
            self.tiles_done += 1

    def view(self) -> View:
        with self.lock:
            rows = list(self.rows)
            done = not self.thread.is_alive() and (self.result is not None or bool(self.error))
            preview = self.preview
            version, tiles_done = self.version, self.tiles_done
        tiles = len(self.job.tiling.tiles)
        bound = self.job.fit.iterations * tiles
        it = sum(_last_per_tile(rows).values())
        elapsed = time.perf_counter() - self.started
        rate = it / elapsed if it and elapsed > 0 else 0.0
        left = (bound - it) / rate if rate > 0 else None
        return View(preview, rows, it, bound, tiles_done, tiles, rate, left, done, version, self.error,
                    self.result)

    def wait(self, timeout: float | None = None) -> View:
        self.thread.join(timeout)
        return self.view()


def _last_per_tile(rows: list[dict[str, Any]]) -> dict[int, int]:
    last: dict[int, int] = {}
    for r in rows:
        last[int(r.get("tile", 0))] = int(r["iteration"])
    return last


def _upscaled(job: Job) -> np.ndarray:
    """The observation at the result's size (nearest neighbour for super-resolution), as a preview's canvas."""
    obs = np.asarray(job.inputs.observation, dtype=np.float32)
    f = job.factor
    return obs if f == 1 else np.repeat(np.repeat(obs, f, axis=0), f, axis=1)
