"""Restore images too large for memory in overlapping tiles, each fitted on its own, blended back together.

Memory of a fit grows with the pixel count (about 9 KB per pixel for the paper's network in bfloat16), so a
12-megapixel photo needs far more than a 24 GiB machine has. Tiles of ``tile`` px (in the result's
coordinates) with ``overlap`` px shared between neighbours are restored one after another and blended with
linear ramps across the overlaps, which hides the seams. Each tile is an independent call of
:func:`deepprior.restore`, so a batch engine could also map them in parallel.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from . import metrics
from .api import Restoration, restore
from .baselines import bicubic_upsample
from .errors import InputError


def tile_starts(length: int, tile: int, overlap: int) -> list[int]:
    """Start offsets covering ``length`` with tiles of ``tile`` px that overlap by at least ``overlap``."""
    if length <= tile:
        return [0]
    step = tile - overlap
    n = int(np.ceil((length - tile) / step)) + 1
    return [round(i * (length - tile) / (n - 1)) for i in range(n)]


def default_overlap(tile: int, scale: int = 1) -> int:
    """The overlap the CLI uses: an eighth of the tile, a multiple of the scale (at least one scale step)."""
    return max(scale, tile // 8 // scale * scale)


def _ramp(length: int, overlap: int, first: bool, last: bool) -> np.ndarray:
    """1 inside, rising linearly over ``overlap`` px at each edge shared with a neighbour."""
    w = np.ones(length, np.float32)
    ramp = (np.arange(overlap, dtype=np.float32) + 0.5) / overlap
    if not first:
        w[:overlap] = ramp
    if not last:
        w[-overlap:] = ramp[::-1]
    return w


def restore_tiled(image: np.ndarray, task: str = "denoise", *, tile: int = 512, overlap: int = 32,
                  mask: np.ndarray | None = None, scale: int | None = None, guide: np.ndarray | None = None,
                  ground_truth: np.ndarray | None = None, **kwargs: Any) -> Restoration:
    """:func:`deepprior.restore` in tiles; same arguments plus ``tile`` and ``overlap`` (result pixels).

    Returns a :class:`Restoration` whose ``history`` rows carry a ``tile`` index, whose ``fit`` is None and
    whose ``metrics`` hold the scores of the stitched images and a per-tile list of step counts and stops.
    """
    f = scale or 1
    if tile % f or overlap % f or overlap * 2 >= tile:
        raise InputError(f"tile ({tile}) and overlap ({overlap}) must be multiples of the scale {f}, with "
                         f"overlap below half the tile")
    img = np.asarray(image, np.float32)
    img = img[..., None] if img.ndim == 2 else img
    h, w, c = img.shape
    lt, lo = tile // f, overlap // f  # in observation pixels
    out_h, out_w = h * f, w * f
    sums = {k: np.zeros((out_h, out_w, c), np.float32) for k in ("image", "output", "ema", "best")}
    weight = np.zeros((out_h, out_w, 1), np.float32)
    history: list[dict[str, Any]] = []
    tiles: list[dict[str, Any]] = []
    start = time.perf_counter()
    ys, xs = tile_starts(h, lt, lo), tile_starts(w, lt, lo)
    for iy, y0 in enumerate(ys):
        for ix, x0 in enumerate(xs):
            sl = (slice(y0, y0 + lt), slice(x0, x0 + lt))
            osl = (slice(y0 * f, (y0 + lt) * f), slice(x0 * f, (x0 + lt) * f))
            r = restore(img[sl], task, mask=None if mask is None else mask[sl], scale=scale,
                        guide=None if guide is None else np.asarray(guide)[sl],
                        ground_truth=None if ground_truth is None else ground_truth[osl], **kwargs)
            th, tw = r.image.shape[:2]
            wy = _ramp(th, overlap, iy == 0, iy == len(ys) - 1)
            wx = _ramp(tw, overlap, ix == 0, ix == len(xs) - 1)
            wt = (wy[:, None] * wx[None, :])[..., None]
            for k in sums:
                sums[k][osl] += wt * getattr(r, k)
            weight[osl] += wt
            n = len(tiles)
            history += [{"tile": n, **row} for row in r.history]
            tiles.append({"tile": n, "y": y0 * f, "x": x0 * f, "iterations": r.metrics["iterations"],
                          "stopped_by": r.metrics["stopped_by"], "seconds": r.metrics["seconds"]})
            config = r.config
            chosen = r.result
    images = {k: v / weight for k, v in sums.items()}
    baseline = bicubic_upsample(img, f) if task == "superres" else img
    m: dict[str, Any] = {"task": task, "tiles": tiles, "tile": tile, "overlap": overlap,
                         "iterations": sum(t["iterations"] for t in tiles),
                         "seconds": round(time.perf_counter() - start, 3), "result": chosen,
                         "stopped_by": "tiles", "backtracks": 0, "device": config["device"], "seed": config["seed"]}
    if ground_truth is not None:
        for k in ("output", "ema", "best"):
            m[k] = {"gt": metrics.scores(metrics.quantize(images[k]), ground_truth)}
        m["input"] = {"gt": metrics.scores(metrics.quantize(baseline), ground_truth)}
    config = {**config, "tile": tile, "overlap": overlap, "image_size": [w, h, c]}
    return Restoration(image=images["image"], output=images["output"], ema=images["ema"], best=images["best"],
                       result=chosen, history=history, metrics=m, config=config, fit=None, baseline=baseline,
                       ground_truth=ground_truth)
