"""Blend the tiles of a run into one image (linear ramps across the overlaps hide the seams), and the stitched
image's PSNR curve when there is a ground truth. One tile blends to itself, exactly."""

from __future__ import annotations

import numpy as np

from ..classical.methods import bicubic_upsample
from ..imaging import metrics
from .job import Job
from .outcome import TileOutcome
from .tiles import Tile

_KINDS = ("output", "ema", "best")


def ramp(length: int, overlap: int, first: bool, last: bool) -> np.ndarray:
    """1 inside, rising linearly over ``overlap`` px at each edge shared with a neighbour."""
    w = np.ones(length, np.float32)
    if overlap:
        up = (np.arange(overlap, dtype=np.float32) + 0.5) / overlap
        if not first:
            w[:overlap] = up
        if not last:
            w[-overlap:] = up[::-1]
    return w


class Stitcher:
    """Adds tiles, in tile order, into weighted sums; a skipped tile (None) adds the corrupted input (at the
    result's size). The images are ``sums / weights``."""

    def __init__(self, job: Job) -> None:
        self.job = job
        h, w, c = job.out_shape
        obs = job.inputs.observation
        self.baseline = bicubic_upsample(obs, job.scale) if job.scale else obs
        kinds = _KINDS + (("spread",) if job.fit.uncertainty else ())
        kinds += tuple(f"own_{k}" for k in kinds) if job.keeps_measured else ()
        self.sums = {k: np.zeros((h, w, c), np.float32) for k in kinds}
        self.weight = np.zeros((h, w, 1), np.float32)
        self.outcomes: list[TileOutcome] = []  # fitted tiles, their images dropped once blended
        self.skipped: list[Tile] = []
        self.placed: list[tuple[Tile, np.ndarray, TileOutcome | None]] = []  # for the curve

    def _weights(self, tile: Tile) -> np.ndarray:
        h, w = self.job.inputs.observation.shape[:2]
        f, lap = self.job.factor, self.job.tiling.overlap
        wy = ramp(tile.height * f, lap, tile.top == 0, tile.top + tile.height == h)
        wx = ramp(tile.width * f, lap, tile.left == 0, tile.left + tile.width == w)
        return (wy[:, None] * wx[None, :])[..., None]

    def add(self, tile: Tile, outcome: TileOutcome | None) -> None:
        box = tile.result(self.job.factor)
        wt = self._weights(tile)
        for k in self.sums:
            if outcome is None:  # a skipped tile keeps the input, and nothing is known of its error
                part = np.float32(np.nan) if k.endswith("spread") else self.baseline[box]
            elif k.startswith("own_"):
                part = outcome.own[k[4:]]
            else:
                part = outcome.images[k]
            self.sums[k][box] += wt * part
        self.weight[box] += wt
        if outcome is None:
            self.skipped.append(tile)
        else:
            outcome.images, outcome.own = {}, None
            self.outcomes.append(outcome)
        if self.job.inputs.ground_truth is not None and len(self.job.tiling.tiles) > 1:
            self.placed.append((tile, wt, outcome))

    def images(self) -> dict[str, np.ndarray]:
        """output, ema, best as returned (and spread, the fits' per-value variance, with
        ``FitConfig.uncertainty``), and own_* the network's own where the measured pixels were kept."""
        return {k: v / self.weight for k, v in self.sums.items()}

    def curve(self) -> list[dict[str, float]] | None:
        """PSNR of the stitched output and EMA against the ground truth at each logged step (None without a
        ground truth, or when the tiles' snapshots outgrew their budget)."""
        gt = self.job.inputs.ground_truth
        if gt is None:
            return None
        if len(self.job.tiling.tiles) == 1:  # one tile is its own blend: its history has the curve
            rows = self.outcomes[0].history if self.outcomes else []
            return [{"iteration": r["iteration"], "seconds": round(r["seconds"], 3), "psnr_output": r["psnr_output"],
                     "psnr_ema": r["psnr_ema"]} for r in rows if "psnr_output" in r]
        if any(o.snapshots is not None and o.snapshots.shared["over"] for o in self.outcomes):
            return None
        return self._blended_curve(gt)

    def _blended_curve(self, gt: np.ndarray) -> list[dict[str, float]]:
        """The blend at each logged step, as if every tile had reached it: a tile that stopped earlier adds its
        last snapshot; ``seconds`` is when the slowest tile logged the step, so the curve says when the stitched
        image first reached a quality. Skipped tiles and tiles without snapshots add the input."""
        base = np.zeros(self.sums["output"].shape, np.float32)
        for tile, wt, outcome in self.placed:
            if outcome is None or outcome.snapshots is None or not outcome.snapshots.rows:
                base[tile.result(self.job.factor)] += wt * self.baseline[tile.result(self.job.factor)]
        shots = [(tile, wt, o.snapshots.rows) for tile, wt, o in self.placed
                 if o is not None and o.snapshots is not None and o.snapshots.rows]
        steps = sorted({row[0] for _, _, rows in shots for row in rows})
        curve = []
        for it in steps:
            acc = {"output": base.copy(), "ema": base.copy()}
            seconds = 0.0
            for tile, wt, rows in shots:
                row = next((r for r in reversed(rows) if r[0] <= it), rows[0])
                seconds = max(seconds, row[1])
                box = tile.result(self.job.factor)
                for k, img in (("output", row[2]), ("ema", row[3])):
                    acc[k][box] += wt * (img / np.float32(255))
            curve.append({"iteration": it, "seconds": round(seconds, 3),
                          **{f"psnr_{k}": metrics.psnr(v / self.weight, gt) for k, v in acc.items()}})
        return curve
