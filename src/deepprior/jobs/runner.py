"""Run a :class:`~deepprior.jobs.job.Job`: fit its tiles (one after another, side by side on worker threads, or
elsewhere through ``map_tiles``), blend them, and build the one :class:`~deepprior.jobs.result.Restoration`
every run returns.

A whole-image run is a run of one tile. With one worker the tiles are fitted in the calling thread, so Ctrl-C
interrupts the step at once; with several, each fit runs on its share of the CPU threads, and Ctrl-C (or
``cancel``) ends the running fits at their next logged step and skips the rest, which keep the corrupted input.
:func:`restore` is the one-call shortcut, :func:`~deepprior.jobs.planning.plan` then :func:`run`.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any, Callable, Iterable, Iterator

import numpy as np
import torch

from ..fitting import Callback, Problem, StepRecord, fit
from ..imaging.io import from_tensor, to_tensor
from ..imaging.masks import holdout_mask
from ..nets import build_net, make_input
from .checkpoints import CheckpointStore
from .job import Job
from .outcome import Snapshots, TileOutcome
from .planning import plan
from .result import Restoration, restoration
from .stitch import Stitcher
from .tiles import Tile


def _tagged(callbacks: Iterable[Callback], n: int, key: str = "tile") -> list[Callback]:
    """The caller's callbacks, seeing the tile's index (or ``key``'s: the fit's, of ``uncertainty=K`` fits) in
    each row."""
    def tag(cb: Callback) -> Callback:
        return lambda rec: cb(dataclasses.replace(rec, row={key: n, **rec.row}))
    return [tag(cb) for cb in callbacks]


def fit_tile(job: Job, tile: Tile, callbacks: Iterable[Callback], cancel: threading.Event, start: float,
             snapshots: Snapshots | None = None, checkpoints: CheckpointStore | None = None) -> TileOutcome:
    """Fit one tile of ``job`` (its box of the observation, mask, guide and ground truth); with
    ``checkpoints``, from its last checkpoint if it has one, saving new ones as it goes."""
    began = time.perf_counter() - start
    obs_box, out_box = tile.observed(), tile.result(job.factor)
    inputs, dev = job.inputs, job.device
    mask = None if inputs.mask is None else inputs.mask[obs_box]
    y_np = inputs.observation[obs_box]
    h, w, c = y_np.shape
    operator = job.make_operator(mask)
    out_h, out_w = operator.out_size(h, w)
    # Two generators with the seed: the weights draw from one on the CPU, input and perturbations from one on
    # the device, so a seeded run does not depend on what else the process has drawn.
    gen_cpu = torch.Generator().manual_seed(job.seed)
    gen_dev = torch.Generator(device=dev).manual_seed(job.seed)
    model = build_net("skip", job.net, c, generator=gen_cpu).to(dev)
    if job.net.input == "image":
        z = to_tensor(inputs.guide[obs_box], device=dev)
    else:
        z = make_input(job.net, out_h, out_w, generator=gen_dev, device=dev)
    held = None
    if job.fit.holdout > 0:  # in the observation's pixels: the known ones of a mask, else any
        held_np = holdout_mask(np.ones((h, w), bool) if mask is None else mask, job.fit.holdout, seed=job.seed)
        held = torch.from_numpy(held_np.astype(np.float32))[None, None].to(dev) if held_np.any() else None
    calibration = None
    if job.calibration is not None and job.calibration[obs_box].any():
        calibration = torch.from_numpy(job.calibration[obs_box].astype(np.float32))[None, None].to(dev)
    gt = None if inputs.ground_truth is None else to_tensor(inputs.ground_truth[out_box], device=dev)
    problem = Problem(to_tensor(y_np, device=dev), operator.to(dev), gt, held, keep_measured=job.fit.keep_measured,
                      calibration=calibration)
    cfg = dataclasses.replace(job.fit, noise_sigma=tile.noise_sigma)
    saving = {} if checkpoints is None else {"checkpoint": checkpoints.saver(tile.index),
                                             "resume": checkpoints.state(tile.index)}
    result = fit(problem, model, z, cfg, generator=gen_dev, cancel=cancel,
                 callbacks=_tagged(callbacks, tile.index) + ([snapshots] if snapshots else []), **saving)
    own = {k: from_tensor(result.image(k)) for k in ("output", "ema", "best")}
    images = {k: from_tensor(problem.present(result.image(k))) for k in own} if problem.keeps_measured else own
    if result.spread is not None:
        spread = result.spread
        if problem.keeps_measured:  # measured pixels handed back as measured are known exactly: no spread there
            own["spread"] = from_tensor(spread)
            spread = spread * (1 - problem.operator.known.to(spread))
        images["spread"] = from_tensor(spread)
    stop_row = next((r for r in result.history if r["iteration"] >= (result.stop_iteration or result.iterations)),
                    None)
    facts = {"tile": tile.index, "y": out_box[0].start, "x": out_box[1].start, "height": out_h, "width": out_w,
             "iterations": result.iterations, "seconds": round(result.seconds, 3), "started": round(began, 3),
             "stopped_by": result.stopped_by, "stop_rule": result.stop_rule or None,
             "stop_iteration": result.stop_iteration or None,
             "stop_seconds": round(stop_row["seconds"], 3) if stop_row else round(result.seconds, 3),
             "best_iteration": result.best_iteration, "backtracks": len(result.events),
             "noise_sigma": tile.noise_sigma, "holdout_pixels": 0 if held is None else int(held.sum()),
             "precision": result.precision, "cuda_graph": result.cuda_graph,
             "cuda_graph_error": result.cuda_graph_error or None}
    history = [{"tile": tile.index, **row} for row in result.history]
    outcome = TileOutcome(tile, images, own if problem.keeps_measured else None, history, facts, snapshots)
    if checkpoints is not None and result.stopped_by != "interrupted":
        checkpoints.finish(outcome)
    return outcome


#: Fits a job's tiles somewhere else (a cluster's workers): yields each (tile, outcome) as it finishes, in any
#: order. The fits there run without this process's callbacks; closing the iterator must cancel the rest.
TileMap = Callable[[Job, tuple[Tile, ...]], Iterator[tuple[Tile, TileOutcome]]]


def run(job: Job, *, callbacks: Iterable[Callback] = (), cancel: threading.Event | None = None,
        on_tile: Callable[[TileOutcome], None] | None = None, map_tiles: TileMap | None = None,
        checkpoints: CheckpointStore | None = None) -> Restoration:
    """Execute ``job``: fit its tiles, blend them and score the result.

    ``callbacks`` get every logged step of every fit (:class:`~deepprior.fitting.StepRecord`, its row tagged
    with a ``tile`` index; from worker threads when tiles run side by side); a True return stops that fit.
    Setting ``cancel`` ends the run at the fits' next logged steps, as Ctrl-C does, keeping what was done.
    ``on_tile`` gets each tile's :class:`TileOutcome` as it finishes, in the calling thread. ``map_tiles``
    fits the tiles elsewhere (``deepprior denoise --engine ray``): the callbacks then see no steps.
    ``checkpoints`` saves each fit's state as it goes and resumes from what an earlier, killed run saved there.
    """
    cancel = cancel if cancel is not None else threading.Event()
    start = time.perf_counter()
    if job.fit.uncertainty <= 1:
        stitcher = _fit_tiles(job, callbacks, cancel, on_tile, map_tiles, checkpoints, start)
        return restoration(job, stitcher, interrupted=cancel.is_set(), seconds=time.perf_counter() - start)
    return _run_fits(job, callbacks, cancel, on_tile, map_tiles, checkpoints, start)


def _run_fits(job: Job, callbacks: Iterable[Callback], cancel: threading.Event,
              on_tile: Callable[[TileOutcome], None] | None, map_tiles: "TileMap | None",
              checkpoints: CheckpointStore | None, start: float) -> Restoration:
    """``uncertainty=K``: the job fitted K times with seeds seed, seed + 1, ...; the whole fits averaged."""
    members: list[Stitcher] = []
    for k in range(job.fit.uncertainty):
        if k and cancel.is_set():
            break
        member = job if k == 0 else dataclasses.replace(job, seed=(job.seed + k) % 2**64)
        tagged = _tagged(callbacks, k, key="fit")
        store = None if checkpoints is None else checkpoints.member(k)
        try:
            members.append(_fit_tiles(member, tagged, cancel, on_tile, map_tiles, store, start))
        except KeyboardInterrupt:
            if not members:
                raise
            cancel.set()  # this fit had no step yet: the earlier ones stand
    steps = [sum(o.facts["iterations"] for o in s.outcomes) for s in members]
    # Fits cut short keep the input in their skipped tiles: only whole fits join the mean.
    whole = [s for s in members if not s.skipped and all(o.facts["stopped_by"] != "interrupted" for o in s.outcomes)]
    used = whole if len(whole) >= 2 else members[:1]
    history = [{"fit": k, **row} for k, s in enumerate(members) if s in used for o in s.outcomes for row in o.history]
    r = restoration(job, used[0], interrupted=cancel.is_set(), seconds=time.perf_counter() - start,
                    images=ensemble(job, [s.images() for s in used]) if len(used) > 1 else None,
                    fits=len(used), history=history)
    r.metrics["iterations"] = sum(n for s, n in zip(members, steps) if s in used)
    r.metrics["fits"] = [{"seed": (job.seed + k) % 2**64, "iterations": n, "averaged": s in used}
                         for k, (s, n) in enumerate(zip(members, steps))]
    return r


def ensemble(job: Job, images: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """The mean of several fits' images; the spread is the mean of theirs plus the variance between their
    returned images (the law of total variance), for the returned and the network's own images alike.
    ``between`` is the plain variance between the returned images, for the combined denoising's map."""
    out = {k: np.mean([im[k] for im in images], axis=0) for k in images[0]}
    for own in ("", "own_") if job.keeps_measured else ("",):
        returned = np.stack([im[own + job.fit.result] for im in images])
        out[own + "spread"] = out[own + "spread"] + returned.var(axis=0, ddof=1)
    out["between"] = np.stack([im[job.fit.result] for im in images]).var(axis=0)
    return out


def _fit_tiles(job: Job, callbacks: Iterable[Callback], cancel: threading.Event,
               on_tile: Callable[[TileOutcome], None] | None, map_tiles: "TileMap | None",
               checkpoints: CheckpointStore | None, start: float) -> Stitcher:
    """Fit every tile of ``job`` (one fit of the image) and blend them as they finish."""
    stitcher = Stitcher(job)
    tiles = job.tiling.tiles
    shared = Snapshots.budget() if job.inputs.ground_truth is not None and len(tiles) > 1 else None
    snaps = {t.index: Snapshots(start, shared) for t in tiles} if shared is not None else {}

    def one(tile: Tile) -> TileOutcome | None:
        """A tile's fit; None (skipped, it keeps the input) once the run was cancelled."""
        if cancel.is_set():
            return None
        finished = None if checkpoints is None else checkpoints.done(tile.index)
        if finished is not None:
            return finished  # an earlier run fitted it
        return fit_tile(job, tile, list(callbacks), cancel, start, snaps.get(tile.index), checkpoints)

    def done(outcome: TileOutcome | None, tile: Tile) -> None:
        if outcome is not None and on_tile is not None:
            on_tile(outcome)  # before blending, which drops the tile's images to save memory
        stitcher.add(tile, outcome)

    if map_tiles is not None:
        _elsewhere(job, tiles, map_tiles, done, cancel)
    elif job.tiling.workers == 1:
        _in_order(tiles, one, done, cancel)
    else:
        _side_by_side(tiles, job.tiling.workers, one, done, cancel)
    if not stitcher.outcomes:
        raise KeyboardInterrupt  # interrupted before any fit had a step to show
    return stitcher


def _in_order(tiles: tuple[Tile, ...], one: Callable[[Tile], TileOutcome | None],
              done: Callable[[TileOutcome | None, Tile], None], cancel: threading.Event) -> None:
    """Fit the tiles one after another in this thread; after an interruption the rest are skipped."""
    for tile in tiles:
        try:
            outcome = one(tile)
        except KeyboardInterrupt:  # before the fit's first step: nothing of this tile to keep
            outcome = None
            cancel.set()
        if outcome is not None and outcome.facts["stopped_by"] == "interrupted":
            cancel.set()  # Ctrl-C in this thread ended the fit: the rest are skipped
        done(outcome, tile)


class _InTileOrder:
    """Hands finished tiles on in tile order, so the blend does not depend on which finished first; only those
    finished out of order wait in memory."""

    def __init__(self, tiles: tuple[Tile, ...], done: Callable[[TileOutcome | None, Tile], None]) -> None:
        self.finished: dict[int, TileOutcome | None] = {}
        self.order, self.done = iter(tiles), done
        self.next = next(self.order, None)

    def flush(self, last: bool = False) -> None:
        """Hand on every tile that is next in order; with ``last``, the rest too (None: not fitted)."""
        while self.next is not None and (last or self.next.index in self.finished):
            self.done(self.finished.pop(self.next.index, None), self.next)
            self.next = next(self.order, None)


def _elsewhere(job: Job, tiles: tuple[Tile, ...], map_tiles: TileMap,
               done: Callable[[TileOutcome | None, Tile], None], cancel: threading.Event) -> None:
    """Fit the tiles with ``map_tiles`` and blend them as they return; Ctrl-C keeps those already back."""
    order = _InTileOrder(tiles, done)
    results = map_tiles(job, tiles)
    try:
        for tile, outcome in results:
            order.finished[tile.index] = outcome
            order.flush()
            if cancel.is_set():
                break
    except KeyboardInterrupt:
        cancel.set()
    finally:
        close = getattr(results, "close", None)
        if close is not None:
            close()  # cancels what is still running there
    order.flush(last=True)


def _side_by_side(tiles: tuple[Tile, ...], workers: int, one: Callable[[Tile], TileOutcome | None],
                  done: Callable[[TileOutcome | None, Tile], None], cancel: threading.Event) -> None:
    """Fit ``workers`` tiles at once, each on its share of the threads, and hand them on in tile order."""
    order = _InTileOrder(tiles, done)
    finished, flush = order.finished, order.flush

    threads = torch.get_num_threads()
    torch.set_num_threads(max(1, threads // workers))  # process-wide, so restored afterwards
    try:
        with ThreadPoolExecutor(workers, thread_name_prefix="deepprior-tile") as pool:
            futures: dict[Future, int] = {pool.submit(one, t): t.index for t in tiles}
            pending = set(futures)
            try:
                while pending:
                    # A timeout keeps the main thread responsive to Ctrl-C while the workers fit.
                    ready, pending = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
                    for fut in ready:
                        finished[futures[fut]] = fut.result()
                    flush()
            except BaseException as exc:
                cancel.set()  # the running fits stop at their next logged step; those not started are skipped
                for fut in pending:
                    fut.cancel()
                if not isinstance(exc, KeyboardInterrupt):
                    raise
                for fut in pending:
                    if not fut.cancelled():
                        finished[futures[fut]] = fut.result()
    finally:
        torch.set_num_threads(threads)
    flush(last=True)


def restore(image: np.ndarray, task: str = "denoise", *, callbacks: Iterable[Callback] = (),
            cancel: threading.Event | None = None, **settings: Any) -> Restoration:
    """Restore one image: ``run(plan(image, task, **settings), callbacks=callbacks, cancel=cancel)``.

    ``settings`` are :func:`~deepprior.jobs.planning.plan`'s arguments (mask, scale, guide, ground_truth, preset,
    seed, device, tile, overlap, workers, net, fit, check_memory) and any config field.
    """
    return run(plan(image, task, **settings), callbacks=callbacks, cancel=cancel)


__all__ = ["run", "restore", "fit_tile", "TileOutcome", "StepRecord"]
