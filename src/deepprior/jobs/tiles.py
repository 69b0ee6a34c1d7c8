"""Which fits a run makes: the whole image as one tile, or overlapping tiles fitted on their own and blended.

Two reasons to tile. The memory of a fit grows with the pixel count (about 8 KB per pixel for the paper's network
in bfloat16), so a 12-megapixel photo needs far more than a 24 GiB machine has. And small fits are cheap to run
side by side on a CPU: the fast denoising network at 128 px is bound by per-operation overheads, so two fits on
one thread each run about 1.8x the work of one fit on two (docs/benchmarks.md). Each tile is an independent fit
with the run's seed, so the result does not depend on which worker fitted which tile (only on the threads per
fit, as any floating-point reduction does).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ..config import NetConfig
from ..errors import InputError
from .costs import estimate_memory

#: Overlap of automatic tiles (result pixels): what the tile measurements used.
AUTO_OVERLAP = 16
#: Share of the free memory an automatic plan may use: the estimate errs high (by 10-60 % where measured), but
#: other programs and the allocator's fragmentation need room too.
MEMORY_SHARE = 0.8


@dataclass(frozen=True)
class Tile:
    """One fit of a run: a box of the observation, in observation pixels, and its noise level.

    ``noise_sigma`` is what the fit's discrepancy stop uses: the run's setting, or the tile's own estimate.
    """

    index: int
    top: int
    left: int
    height: int
    width: int
    noise_sigma: float | None = None

    def observed(self) -> tuple[slice, slice]:
        """The tile's place in the observation."""
        return slice(self.top, self.top + self.height), slice(self.left, self.left + self.width)

    def result(self, scale: int) -> tuple[slice, slice]:
        """The tile's place in the result (``scale`` times its place in the observation)."""
        return (slice(self.top * scale, (self.top + self.height) * scale),
                slice(self.left * scale, (self.left + self.width) * scale))


@dataclass(frozen=True)
class TilePlan:
    """The fits of a run: ``tiles`` of ``tile`` (height, width) result px sharing ``overlap`` px with their
    neighbours, ``workers`` of them fitted at once. A whole-image run is a plan of one tile (``tile`` None)."""

    tile: tuple[int, int] | None
    overlap: int
    workers: int
    tiles: tuple[Tile, ...]

    def to_config(self) -> dict[str, Any]:
        return {"tile": None if self.tile is None else list(self.tile), "overlap": self.overlap,
                "workers": self.workers,
                "tiles": [{"top": t.top, "left": t.left, "height": t.height, "width": t.width,
                           "noise_sigma": t.noise_sigma} for t in self.tiles]}

    @classmethod
    def from_config(cls, data: dict[str, Any]) -> "TilePlan":
        tiles = tuple(Tile(i, **t) for i, t in enumerate(data["tiles"]))
        return cls(None if data["tile"] is None else tuple(data["tile"]), data["overlap"], data["workers"], tiles)


def tile_starts(length: int, tile: int, overlap: int) -> list[int]:
    """Start offsets covering ``length`` with tiles of ``tile`` px that overlap by at least ``overlap``."""
    if length <= tile:
        return [0]
    step = tile - overlap
    n = int(np.ceil((length - tile) / step)) + 1
    return [round(i * (length - tile) / (n - 1)) for i in range(n)]


def default_overlap(tile: int, scale: int = 1) -> int:
    """The overlap of a tile size the caller chose: an eighth of the tile, a multiple of the scale."""
    return max(scale, tile // 8 // scale * scale)


def split_length(length: int, parts: int, overlap: int, scale: int = 1) -> int:
    """Tile size (a multiple of ``scale``) that covers ``length`` in ``parts`` tiles overlapping by ``overlap``."""
    if parts <= 1:
        return length
    return math.ceil((length + (parts - 1) * overlap) / parts / scale) * scale


def plan_tiles(h: int, w: int, max_side: int, overlap: int, min_tiles: int = 1, min_side: int = 64,
               scale: int = 1) -> tuple[int, int]:
    """Tile height and width for an automatic plan: sides of at most ``max_side``, as even as the image allows.

    When that gives fewer than ``min_tiles`` tiles (one per worker), the longer tile side is split further while
    the tiles stay at least ``min_side`` px: a 128 px image becomes two 72 x 128 tiles for two workers.
    """
    parts = [max(1, math.ceil((n - overlap) / (max_side - overlap))) for n in (h, w)]
    sizes = [split_length(n, p, overlap, scale) for n, p in zip((h, w), parts)]
    while parts[0] * parts[1] < min_tiles:
        axis = 0 if sizes[0] >= sizes[1] else 1
        size = split_length((h, w)[axis], parts[axis] + 1, overlap, scale)
        if size < min_side:
            break
        parts[axis] += 1
        sizes[axis] = size
    return sizes[0], sizes[1]


def worker_slots(device: torch.device) -> int:
    """How many fits to run at once: one per CPU thread (each on one thread); one at a time on a GPU."""
    return max(1, torch.get_num_threads()) if device.type == "cpu" else 1


def memory_side(net: NetConfig, h: int, w: int, precision: str, free: float, workers: int = 1) -> int | None:
    """None when one h x w fit fits in ``free`` bytes; else the largest square tile side (a multiple of 32, at
    least 64) of which ``workers`` fits at once do, or None when even that does not (the memory check then
    refuses the image)."""
    free = MEMORY_SHARE * free
    if estimate_memory(net, h, w, precision) <= free:
        return None
    budget = free / max(1, workers)
    side = (min(max(h, w), 8192) // 32) * 32
    while side > 64 and estimate_memory(net, side, side, precision) > budget:
        side -= 32
    return side if side >= 64 and estimate_memory(net, side, side, precision) <= budget else None


def choose_tiles(h: int, w: int, *, scale: int, tile: Any, overlap: int | None, workers: int | None,
                 device: torch.device, max_side: int | None, net: NetConfig | None, precision: str,
                 free: float) -> tuple[tuple[int, int] | None, int]:
    """The tile size ((height, width) in result px, None = the whole image) and overlap for an ``h`` x ``w``
    observation, from the caller's ``tile`` ("auto", a side, (height, width) or None).

    "auto": on a CPU, tiles of at most the preset's ``max_side``, one per worker; elsewhere (and for presets
    without tiles) the whole image, unless it does not fit in ``free`` memory (``net`` None: not checked), then
    the largest tiles that do. On a GPU steps are launch-bound (the fast net: 2.7 ms at 256 px, 5.1 ms at 512 on
    an H200), so small tiles, fitted one after another, would not pay.
    """
    f, big_h, big_w = scale, h * scale, w * scale
    if tile is None:
        return None, 0
    if tile == "auto":
        need = workers or worker_slots(device)
        if max_side is not None and device.type == "cpu":
            lap = AUTO_OVERLAP if overlap is None else overlap
            sides = plan_tiles(big_h, big_w, max_side, lap, min_tiles=need, scale=f)
            if sides == (big_h, big_w):
                return None, 0
            if overlap is None:  # a thin strip of an image: the overlap must fit within its short side
                lap = min(lap, (min(sides) - 1) // 2 // f * f)
            return sides, lap
        side = None if net is None else memory_side(net, big_h, big_w, precision, free, need)
        if side is None:
            return None, 0
        lap = min(AUTO_OVERLAP if overlap is None else overlap, side // 4)
        return plan_tiles(big_h, big_w, side, lap, scale=f), lap
    if isinstance(tile, (list, tuple)) and len(tile) == 2:
        sides = (int(tile[0]), int(tile[1]))
    elif isinstance(tile, int) and not isinstance(tile, bool):
        sides = (tile, tile)
    else:
        raise InputError(f"tile must be 'auto', a size in pixels, (height, width) or None; got {tile!r}",
                         setting="tile")
    return sides, default_overlap(min(sides), f) if overlap is None else overlap


def lay_out(h: int, w: int, sides: tuple[int, int] | None, overlap: int, scale: int,
            workers: int | None, device: torch.device) -> TilePlan:
    """The tiles of an ``h`` x ``w`` observation for tiles of ``sides`` result px (None: one tile)."""
    if sides is None:
        return TilePlan(None, 0, 1, (Tile(0, 0, 0, h, w),))
    th, tw = sides
    if th % scale or tw % scale or overlap % scale or overlap * 2 >= min(th, tw) or min(th, tw) < 1:
        raise InputError(f"tile ({th}x{tw}) and overlap ({overlap}) must be multiples of the scale {scale}, with "
                         f"overlap below half the tile", setting="tile")
    lh, lw, lo = th // scale, tw // scale, overlap // scale  # in observation pixels
    boxes = [(y0, x0) for y0 in tile_starts(h, lh, lo) for x0 in tile_starts(w, lw, lo)]
    tiles = tuple(Tile(n, y0, x0, min(lh, h - y0), min(lw, w - x0)) for n, (y0, x0) in enumerate(boxes))
    # No more workers than tiles: idle workers would only take threads from the ones that fit.
    slots = min(workers, len(tiles)) if workers else max(1, min(len(tiles), worker_slots(device)))
    return TilePlan((th, tw), overlap, slots, tiles)
