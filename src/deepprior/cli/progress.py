"""Callbacks of the command line: a progress bar over the steps of every tile, and the ``--save-every`` images."""

from __future__ import annotations

import pathlib
import threading

from tqdm import tqdm

from ..fitting import StepRecord
from ..imaging.io import from_tensor, save_image


class Progress:
    """A tqdm bar fed by the fits' callbacks: steps, loss and, with a ground truth, PSNR.

    Rows carry a tile index and, when tiles are fitted side by side, come from several worker threads; the bar
    counts the steps of all tiles (``total`` is their bound) and closes at the count reached, since tiles may
    stop early.
    """

    def __init__(self, total: int | None, enabled: bool, tiles: int = 1, position: int = 0,
                 leave: bool = True) -> None:
        self.total, self.enabled, self.tiles = total, enabled, tiles
        self.position, self.leave = position, leave  # a bar beneath another (batch: the image's steps)
        self.bar: tqdm | None = None  # opened at the first step, so a refused run shows no empty bar
        self.done: dict[int, int] = {}
        self.lock = threading.Lock()

    def __call__(self, record: StepRecord) -> None:
        row = record.row
        with self.lock:
            self._open()
            tile = int(row.get("tile", 0))
            self.bar.update(int(row["iteration"]) - self.done.get(tile, 0))
            self.done[tile] = int(row["iteration"])
            post = {"loss": f"{row['loss']:.2e}"}
            if self.tiles > 1:
                post = {"tile": str(tile), **post}
            if "psnr_output" in row:
                post["psnr"] = f"{row['psnr_output']:.2f}"
                post["ema"] = f"{row['psnr_ema']:.2f}"
            self.bar.set_postfix(post, refresh=False)

    def _open(self) -> None:
        if self.bar is None:
            self.bar = tqdm(total=self.total, unit="it", disable=not self.enabled, dynamic_ncols=True,
                            leave=self.leave, position=self.position)

    def tile_done(self, outcome) -> None:
        """A tile finished: its steps counted, also when its fit ran elsewhere and no step was seen here."""
        with self.lock:
            self._open()
            tile, steps = outcome.tile.index, int(outcome.facts["iterations"])
            self.bar.update(steps - self.done.get(tile, 0))
            self.done[tile] = steps

    def close(self) -> None:
        if self.bar is not None:
            if self.tiles > 1:  # tiles that stopped early leave the bound unreached; end the bar where it is
                self.bar.total = self.bar.n
            self.bar.close()


class StepSaver:
    """Writes the output and EMA every ``save_every`` steps (``--save-every``), per tile in a tiled run."""

    def __init__(self, folder: pathlib.Path, tiles: int = 1) -> None:
        self.folder, self.tiles = folder, tiles

    def __call__(self, record: StepRecord) -> None:
        if record.save:
            it = int(record.row["iteration"])
            tile = f"tile{int(record.row['tile']):03d}_" if self.tiles > 1 else ""
            save_image(from_tensor(record.output), self.folder / f"{tile}output_{it:06d}.png")
            save_image(from_tensor(record.ema), self.folder / f"{tile}ema_{it:06d}.png")
