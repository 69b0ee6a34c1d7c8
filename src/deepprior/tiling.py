"""Restore an image in overlapping tiles, each fitted on its own (several at once), blended back together.

Two reasons to tile. Memory of a fit grows with the pixel count (about 9 KB per pixel for the paper's network
in bfloat16), so a 12-megapixel photo needs far more than a 24 GiB machine has. And small fits are cheap to run
side by side: the fast denoising network at 128 px is bound by per-operation overheads, so a second CPU thread
speeds one fit up by only about 1.1x, while two fits on one thread each run about 1.8x the work of one
(2-core CPU; README, *Speed*). Tiles of ``tile`` px (in the result's coordinates) with ``overlap`` px shared
between neighbours are fitted by ``workers`` threads and blended with linear ramps across the overlaps, which
hides the seams. Each tile is an independent restore with the same seed, so the result does not depend on
which worker ran which tile (only on the number of threads per fit, as any floating-point reduction does).
"""

from __future__ import annotations

import dataclasses
import math
import threading
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any, Iterable

import numpy as np
import torch

from . import metrics
from .baselines import bicubic_upsample
from .errors import InputError
from .io import from_tensor
from .fit import Callback

#: Memory a tiled run with a ground truth may spend on per-step 8-bit snapshots for its stitched curve; a run that
#: would need more keeps no curve.
CURVE_BUDGET_BYTES = 512 * 2**20


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


#: Overlap of automatic tiles (result pixels): what the tile measurements used (README, *Speed*).
AUTO_OVERLAP = 16


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
        n = (h, w)[axis]
        size = split_length(n, parts[axis] + 1, overlap, scale)
        if size < min_side:
            break
        parts[axis] += 1
        sizes[axis] = size
    return sizes[0], sizes[1]


def worker_slots(device: torch.device) -> int:
    """How many fits to run at once: one per CPU thread (each on one thread); one at a time on a GPU."""
    return max(1, torch.get_num_threads()) if device.type == "cpu" else 1


def default_workers(tiles: int, device: torch.device) -> int:
    """Workers for ``tiles`` tiles: :func:`worker_slots`, but no more than there are tiles."""
    return max(1, min(tiles, worker_slots(device)))


def _ramp(length: int, overlap: int, first: bool, last: bool) -> np.ndarray:
    """1 inside, rising linearly over ``overlap`` px at each edge shared with a neighbour."""
    w = np.ones(length, np.float32)
    ramp = (np.arange(overlap, dtype=np.float32) + 0.5) / overlap
    if not first:
        w[:overlap] = ramp
    if not last:
        w[-overlap:] = ramp[::-1]
    return w


def _tagged(callbacks: Iterable[Callback], n: int, stop: threading.Event) -> list[Callback]:
    """The user's callbacks, seeing the tile index in each row, plus one that stops the fit on ``stop``."""
    def tag(cb: Callback) -> Callback:
        return lambda rec: cb(dataclasses.replace(rec, row={"tile": n, **rec.row}))
    return [tag(cb) for cb in callbacks] + [lambda rec: stop.is_set()]


class _Snapshots:
    """8-bit output and EMA of one tile at each logged step, with the wall time since the tiled run began.

    All tiles share one byte budget (``spent``); once it is exceeded every tile stops recording.
    """

    def __init__(self, start: float, spent: dict[str, Any]) -> None:
        self.start, self.spent = start, spent
        self.rows: list[tuple[int, float, np.ndarray, np.ndarray]] = []

    def __call__(self, rec: Any) -> None:
        if self.spent["over"]:
            return
        q = [np.round(np.clip(from_tensor(t), 0, 1) * 255).astype(np.uint8) for t in (rec.output, rec.ema)]
        with self.spent["lock"]:
            self.spent["bytes"] += q[0].nbytes * 2
            self.spent["over"] = self.spent["bytes"] > CURVE_BUDGET_BYTES
        self.rows.append((int(rec.row["iteration"]), time.perf_counter() - self.start, q[0], q[1]))


def _blended_curve(snaps: list[_Snapshots | None], weights: list[np.ndarray], slices: list[tuple[slice, slice]],
                   base: np.ndarray, total: np.ndarray, gt: np.ndarray) -> list[dict[str, float]]:
    """PSNR of the blended output and EMA at each logged step, as if every tile had reached that step.

    A tile that stopped earlier contributes its last snapshot; ``seconds`` is when the slowest tile logged the
    step, so the curve says when the stitched image first reached a quality.
    """
    steps = sorted({row[0] for s in snaps if s is not None for row in s.rows})
    curve = []
    for it in steps:
        acc = {"output": base.copy(), "ema": base.copy()}
        seconds = 0.0
        for s, wt, osl in zip(snaps, weights, slices):
            if s is None or not s.rows:
                continue
            row = next((r for r in reversed(s.rows) if r[0] <= it), s.rows[0])
            seconds = max(seconds, row[1])
            for k, img in (("output", row[2]), ("ema", row[3])):
                acc[k][osl] += wt * (img / np.float32(255))
        curve.append({"iteration": it, "seconds": round(seconds, 3),
                      **{f"psnr_{k}": metrics.psnr(v / total, gt) for k, v in acc.items()}})
    return curve


def restore_tiled(image: np.ndarray, task: str = "denoise", *, tile: int | tuple[int, int] = 512,
                  overlap: int = 32, workers: int | None = None, mask: np.ndarray | None = None,
                  scale: int | None = None, guide: np.ndarray | None = None,
                  ground_truth: np.ndarray | None = None, callbacks: Iterable[Callback] = (),
                  device: str | torch.device = "cpu", **kwargs: Any) -> Any:
    """:func:`deepprior.restore` in tiles; same arguments plus ``tile``, ``overlap`` (result pixels), ``workers``.

    ``tile`` is a side or a (height, width). ``workers`` tiles are fitted at once, each on its share of the
    CPU threads (default: one tile per thread on a CPU, one at a time on a GPU). Callbacks run in the worker
    threads and see a ``tile`` index in each row. Ctrl-C stops the running tiles at their next logged step and
    skips the rest (they keep the corrupted input); the result says ``stopped_by = "interrupted"``.

    Returns a :class:`Restoration` whose ``history`` rows carry a ``tile`` index, whose ``fit`` is None and
    whose ``metrics`` hold the scores of the stitched images and a per-tile list of step counts and stops.
    """
    from .api import Restoration, resolve_device, restore_whole

    f = scale or 1
    th, tw = (tile, tile) if isinstance(tile, int) else tile
    if th % f or tw % f or overlap % f or overlap * 2 >= min(th, tw):
        raise InputError(f"tile ({th}x{tw}) and overlap ({overlap}) must be multiples of the scale {f}, with "
                         f"overlap below half the tile")
    img = np.asarray(image, np.float32)
    img = img[..., None] if img.ndim == 2 else img
    h, w, c = img.shape
    lh, lw, lo = th // f, tw // f, overlap // f  # in observation pixels
    out_h, out_w = h * f, w * f
    ys, xs = tile_starts(h, lh, lo), tile_starts(w, lw, lo)
    boxes = [(iy, ix, y0, x0) for iy, y0 in enumerate(ys) for ix, x0 in enumerate(xs)]
    dev = resolve_device(device)
    workers = min(workers, len(boxes)) if workers else default_workers(len(boxes), dev)  # no idle workers
    baseline = bicubic_upsample(img, f) if task == "superres" else img
    stop = threading.Event()
    start = time.perf_counter()
    spent = {"bytes": 0, "over": False, "lock": threading.Lock()}
    snaps = [_Snapshots(start, spent) if ground_truth is not None else None for _ in boxes]

    def result_slice(n: int) -> tuple[slice, slice]:
        """Where tile ``n`` lies in the result (``scale`` times its place in the observation)."""
        _, _, y0, x0 = boxes[n]
        return slice(y0 * f, (y0 + lh) * f), slice(x0 * f, (x0 + lw) * f)

    def run(n: int) -> Any:
        _, _, y0, x0 = boxes[n]
        sl = (slice(y0, y0 + lh), slice(x0, x0 + lw))
        osl = result_slice(n)
        return restore_whole(img[sl], task, mask=None if mask is None else mask[sl], scale=scale,
                             guide=None if guide is None else np.asarray(guide)[sl], device=dev,
                             ground_truth=None if ground_truth is None else ground_truth[osl],
                             callbacks=_tagged(callbacks, n, stop) + ([snaps[n]] if snaps[n] else []), **kwargs)

    sums = {k: np.zeros((out_h, out_w, c), np.float32) for k in ("image", "output", "ema", "best")}
    weight = np.zeros((out_h, out_w, 1), np.float32)
    history: list[dict[str, Any]] = []
    tiles: list[dict[str, Any]] = []
    done: dict[int, Any] = {}  # finished, not yet blended
    slices: list[tuple[slice, slice]] = []
    weights: list[np.ndarray] = []
    # The input's share of the stitched curve (tiles without snapshots); only kept with a ground truth.
    skipped = np.zeros((out_h, out_w, c) if ground_truth is not None else (0, 0, c), np.float32)
    state: dict[str, Any] = {"next": 0, "fitted": 0, "backtracks": 0, "held": 0, "config": {}, "chosen": "ema",
                             "graphed": [], "graph_error": None, "kept": False}

    def blend(n: int, r: Any) -> None:
        """Add tile ``n`` (None: skipped, it keeps the corrupted input) to the sums."""
        iy, ix, y0, x0 = boxes[n]
        osl = result_slice(n)
        tile_h, tile_w = (r.image.shape[:2] if r is not None else
                          (min(lh, h - y0) * f, min(lw, w - x0) * f))
        wy = _ramp(tile_h, overlap, iy == 0, iy == len(ys) - 1)
        wx = _ramp(tile_w, overlap, ix == 0, ix == len(xs) - 1)
        wt = (wy[:, None] * wx[None, :])[..., None]
        for k in sums:
            sums[k][osl] += wt * (getattr(r, k) if r is not None else baseline[osl])
        weight[osl] += wt
        if ground_truth is not None:
            slices.append(osl)
            weights.append(wt)
            if r is None or not (snaps[n] and snaps[n].rows):
                skipped[osl] += wt * baseline[osl]
        if r is None:
            tiles.append({"tile": n, "y": y0 * f, "x": x0 * f, "iterations": 0, "stopped_by": "skipped",
                          "seconds": 0.0})
            return
        history.extend({"tile": n, **row} for row in r.history)
        state["fitted"] += 1
        state["backtracks"] += r.metrics["backtracks"]
        state["held"] += r.metrics["holdout_pixels"]
        state["graphed"].append(r.metrics["cuda_graph"])
        state["graph_error"] = state["graph_error"] or r.metrics["cuda_graph_error"]
        tiles.append({"tile": n, "y": y0 * f, "x": x0 * f, "iterations": r.metrics["iterations"],
                      "stopped_by": ("interrupted" if stop.is_set() and r.metrics["stopped_by"] == "callback"
                                     else r.metrics["stopped_by"]),
                      "seconds": r.metrics["seconds"]})
        state["config"], state["chosen"] = r.config, r.result
        state["kept"] = state["kept"] or r.metrics["kept_measured"]

    def flush(last: bool = False) -> None:
        """Blend finished tiles in tile order, so the sums (and the result) do not depend on which tile finished
        first, and only the few finished out of order wait in memory; ``last``: all the rest, skipped or not."""
        while state["next"] < len(boxes) and (last or state["next"] in done):
            blend(state["next"], done.pop(state["next"], None))
            state["next"] += 1

    threads = torch.get_num_threads()
    # Each fit runs on its share of the threads (the setting is process-wide, so it is restored afterwards).
    torch.set_num_threads(max(1, threads // workers))
    try:
        with ThreadPoolExecutor(workers, thread_name_prefix="deepprior-tile") as pool:
            futures: dict[Future, int] = {pool.submit(run, n): n for n in range(len(boxes))}
            pending = set(futures)
            try:
                while pending:
                    # A timeout keeps the main thread responsive to Ctrl-C while the workers fit.
                    finished, pending = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
                    for fut in finished:
                        done[futures[fut]] = fut.result()
                    flush()
            except BaseException as exc:
                # Stop the running fits at their next logged step and skip the tiles not started.
                stop.set()
                for fut in pending:
                    fut.cancel()
                if not isinstance(exc, KeyboardInterrupt):
                    raise
                for fut in pending:
                    if not fut.cancelled():
                        done[futures[fut]] = fut.result()
    finally:
        torch.set_num_threads(threads)
    flush(last=True)
    config, chosen, backtracks = state["config"], state["chosen"], state["backtracks"]
    if not state["fitted"]:
        raise KeyboardInterrupt
    images = {k: v / weight for k, v in sums.items()}
    m: dict[str, Any] = {"task": task, "tiles": tiles, "tile": [th, tw], "overlap": overlap, "workers": workers,
                         "iterations": sum(t["iterations"] for t in tiles),
                         "seconds": round(time.perf_counter() - start, 3), "result": chosen,
                         "stopped_by": "interrupted" if stop.is_set() else "tiles", "backtracks": backtracks,
                         "device": config["device"], "seed": config["seed"],
                         "cuda_graph": bool(state["graphed"]) and all(state["graphed"]),
                         "cuda_graph_error": state["graph_error"], "kept_measured": state["kept"],
                         "holdout_pixels": state["held"]}
    if ground_truth is not None:
        for k in ("output", "ema", "best"):
            m[k] = {"gt": metrics.scores(metrics.quantize(images[k]), ground_truth)}
        m["input"] = {"gt": metrics.scores(metrics.quantize(baseline), ground_truth)}
    if ground_truth is not None and not spent["over"]:
        m["curve"] = _blended_curve(snaps, weights, slices, skipped, weight, ground_truth)
        if m["curve"]:
            peak = max(m["curve"], key=lambda r: max(r["psnr_output"], r["psnr_ema"]))
            m["oracle_psnr"] = max(peak["psnr_output"], peak["psnr_ema"])
            m["oracle_iteration"] = peak["iteration"]
    config = {**config, "tile": [th, tw], "overlap": overlap, "workers": workers, "image_size": [w, h, c]}
    return Restoration(image=images["image"], output=images["output"], ema=images["ema"], best=images["best"],
                       result=chosen, history=history, metrics=m, config=config, fit=None, baseline=baseline,
                       ground_truth=ground_truth)
