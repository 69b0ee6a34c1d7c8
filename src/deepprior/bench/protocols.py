"""The paper's tables, reproduced: named protocols run on a folder of images (``deepprior bench``).

Each image is corrupted with a fixed seed and restored once for the preset's step count while the automatic
stopping rule runs alongside (``stop="none"``: the rule's pick and step are recorded where it fires, the run
goes on), so one run gives the fixed-iteration result, the auto-stopped result and the oracle peak. The preset
runs as it is, tiles included. Classical methods run on the same input. ``quick`` uses centre crops and fewer
images so a protocol finishes on 2 CPU cores in minutes. ``past_stop`` ends each fit a little after its rule
fired instead of at the step count, which makes whole images affordable on a CPU: the auto-stopped result and
the peak around it are still measured, the fixed-iteration column is then left empty.
"""

from __future__ import annotations

import math
import pathlib
import statistics
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from ..classical.compare import run_classical
from ..errors import InputError
from ..imaging.degrade import add_noise, centre_crop_multiple, downscale_image
from ..imaging.io import append_json_line, atomic_path, load_image, read_json_lines
from ..imaging.masks import load_mask
from ..jobs import STOP_EVENT, get_preset, get_task, plan, run
from ..jobs.combine import DIP_WEIGHT, LEVEL_ESTIMATE
from .tables import summarize

_DENOISE9 = {"F16": 33.69, "baboon": 24.51, "hill": 32.09, "kodim01": 28.44, "kodim02": 32.71, "kodim03": 33.79,
             "kodim12": 32.68, "lena": 32.56, "peppers": 31.15}
_INPAINT11 = {"barbara": 32.18, "boat": 33.04, "house": 39.00, "Lena512": 36.08, "peppers256": 33.06,
              "Cameraman256": 29.80, "couple": 32.48, "fingerprint": 32.81, "hill": 32.73, "man": 32.17,
              "montage": 34.49}


@dataclass(frozen=True)
class Protocol:
    """One table of the paper: where its images are, how they are corrupted, and the published numbers."""

    name: str
    task: str
    folder: str  # below the data root
    pattern: str
    corruption: str  # "noise:25", "mask:_masked", "downscale:4", "mask-file:kate_mask.png"
    paper_mean: float | None
    paper: dict[str, float] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    quick_crop: int | None = 96
    quick_images: int = 3
    #: Raised when the protocol's inputs change, so that rows made from the old ones are fitted again.
    revision: int = 1


PROTOCOLS = {p.name: p for p in [
    Protocol("denoise9-25", "denoise", "benchmarks/denoise9", "*_GT.png", "noise:25", 31.29, _DENOISE9),
    Protocol("denoise9-50", "denoise", "benchmarks/denoise9", "*_GT.png", "noise:50", 27.69,
             settings={"reg_noise_std": 1 / 20}),
    # Revision 2: a pixel black in the clean image counts as known (see _corrupt).
    Protocol("inpaint11", "reconstruct", "benchmarks/inpaint11", "*_GT.png", "mask:_masked", 33.44, _INPAINT11,
             revision=2),
    Protocol("set14-x4", "superres", "benchmarks/set14/x4", "*.png", "downscale:4", 27.01, quick_crop=128),
    Protocol("set14-x8", "superres", "benchmarks/set14/x8", "*.png", "downscale:8", 24.15, quick_crop=128),
    Protocol("zebra-x4", "superres", "dip/sr", "zebra_crop.png", "downscale:4", None, quick_crop=None,
             quick_images=1),
    Protocol("kate", "inpaint", "dip/inpainting", "kate.png", "mask-file:kate_mask.png", 39.0, {"kate": 39.0},
             quick_crop=128, quick_images=1),
]}


def _stem(path: pathlib.Path) -> str:
    return path.stem.removesuffix("_GT")


def _crop(img: np.ndarray, size: int | None) -> np.ndarray:
    if size is None:
        return img
    h, w = img.shape[:2]
    top, left = max(0, (h - size) // 2), max(0, (w - size) // 2)
    return img[top:top + size, left:left + size]


def _corrupt(p: Protocol, path: pathlib.Path, gt: np.ndarray, crop: int | None,
             seed: int) -> tuple[np.ndarray, dict[str, Any], np.ndarray, float | None]:
    """Observation, extra restore arguments, the ground truth it is scored against, the noise sigma."""
    kind, _, arg = p.corruption.partition(":")
    if kind == "noise":
        gt = _crop(gt, crop)
        return add_noise(gt, float(arg), seed), {}, gt, float(arg) / 255
    if kind == "downscale":
        f = int(arg)
        gt = centre_crop_multiple(_crop(gt, crop), f)
        return downscale_image(gt, f), {"scale": f}, gt, None
    mask_path = path.with_name(arg) if kind == "mask-file" else path.with_name(_stem(path) + arg + ".png")
    if kind == "mask-file":
        known = load_mask(mask_path)
    else:
        # A masked file marks a dropped pixel 0, so it cannot tell a kept black pixel from a dropped one. Such
        # pixels count as known: peppers256's first row and column are black, and scored as missing (the net
        # filled them grey) they cost it 8.7 dB of the whole image's PSNR. About half of them were dropped, but
        # a fit given half of a black line returns it black.
        known = (np.asarray(load_image(mask_path))[..., 0] > 0) | (gt.max(axis=2) == 0)
    gt, known = _crop(gt, crop), _crop(known[..., None], crop)[..., 0]
    return gt * known[..., None], {"mask": known}, gt, None


def run_protocol(name: str, data: pathlib.Path, *, quick: bool, seeds: int = 1, images: int | None = None,
                 device: str = "cpu", iterations: int | None = None, preset: str = "paper",
                 progress: Callable[[str], None] = print, rows_file: pathlib.Path | None = None,
                 past_stop: float | None = None, images_dir: pathlib.Path | None = None,
                 only: tuple[str, ...] = ()) -> dict[str, Any]:
    """Run one protocol; returns ``{"protocol", "quick", "rows", "summary"}`` (rows: one per image and seed).

    With ``rows_file`` every finished row is appended to it (a JSON line, flushed to disk) and rows already
    there from a run of the same settings are taken as done: a killed run goes on with the images it had left.
    An interrupted fit (Ctrl-C, SIGTERM) raises KeyboardInterrupt without a row for its image.
    With ``past_stop`` each fit ends at that many times the step where its rule fired (and at least the rule's
    patience after it), or at the step count if the rule never fires.
    With ``images_dir`` each finished image's arrays are kept there (:func:`keep_images`), so a new way of
    combining or scoring the results can be measured on them without fitting again.
    ``only`` names the images to run (their file names without ``_GT.png``), in the protocol's order; ``images``
    then counts among those.
    """
    if name not in PROTOCOLS:
        raise InputError(f"unknown protocol {name!r}; choose one of {', '.join(PROTOCOLS)}")
    p = PROTOCOLS[name]
    folder = data / p.folder
    paths = sorted(folder.glob(p.pattern))
    if not paths:
        raise InputError(f"no images matching {p.pattern} in {folder}; point the data folder at shared/data",
                         setting="data")
    if only:
        unknown = sorted(set(only) - {_stem(path) for path in paths})
        if unknown:
            raise InputError(f"{name} has no image {', '.join(unknown)}; its images: "
                             f"{', '.join(_stem(path) for path in paths)}", setting="only")
        paths = [path for path in paths if _stem(path) in only]
    count = images or (p.quick_images if quick and not only else len(paths))
    crop = p.quick_crop if quick else None
    method = p.settings.get("method", get_preset(p.task, None, preset).fit.method if p.task == "denoise" else "dip")
    # Rows of runs before the combined method (or of DIP alone), or of other weights or CBM3D levels, are not
    # this run's.
    combined = {} if method == "dip" else {"method": method, "dip_weight": DIP_WEIGHT, "cbm3d_level": LEVEL_ESTIMATE}
    # The first revision is left out of the key, so rows written before revisions existed still match it.
    key = {"protocol": name, **({} if p.revision == 1 else {"revision": p.revision}), "quick": quick,
           "preset": preset, "iterations": iterations, "crop": crop,
           **({} if past_stop is None else {"past_stop": past_stop}), **combined}
    done = _done_rows(rows_file, key)
    todo = [(path, seed) for path in paths[:count] for seed in range(seeds)]
    rows, spent = [], []
    for n, (path, seed) in enumerate(todo, 1):
        if (_stem(path), seed) in done:
            rows.append(done[_stem(path), seed])
            progress(f"{name} [{n}/{len(todo)}] {_stem(path)} seed {seed}: done in an earlier run")
            continue
        obs, extra, gt, sigma = _corrupt(p, path, load_image(path), crop, seed)
        settings = {**p.settings, "stop": "none", "log_every": 25}
        if iterations:
            settings["iterations"] = iterations
        start = time.perf_counter()
        job = plan(obs, p.task, ground_truth=gt, seed=seed, device=device, preset=preset, **extra, **settings)
        r = run(job, callbacks=[] if past_stop is None else [_ends_past_stop(past_stop, job.fit.stop_patience)])
        if r.metrics["stopped_by"] == "interrupted":
            raise KeyboardInterrupt  # a cut-short image is no row: the rows file keeps the finished ones
        rows.append(_row(p, path, seed, r, time.perf_counter() - start, obs, extra, sigma, fixed=past_stop is None))
        spent.append(time.perf_counter() - start)
        row = rows[-1]
        if images_dir is not None:
            keep_images(images_dir / f"{row['image']}-seed{seed}.npz", r, obs)
        if rows_file is not None:
            append_json_line(rows_file, {**key, "row": row})
        left = sum(1 for path_, seed_ in todo[n:] if (_stem(path_), seed_) not in done)
        eta = f", about {statistics.fmean(spent) * left / 60:.0f} min left" if left else ""
        fixed = "" if row["fixed"] is None else f"fixed {row['fixed']:.2f}, "
        progress(f"{name} [{n}/{len(todo)}] {row['image']} seed {seed}: input {row['input']:.2f}, {fixed}"
                 f"auto {row['auto']:.2f} (step {row['auto_iteration']}), "
                 + ("" if "dip+cbm3d" not in row else f"dip+cbm3d {row['dip+cbm3d']:.2f}, ") + "oracle "
                 f"{row['oracle']:.2f}, {spent[-1]:.0f} s{eta}")
    return {"protocol": name, "task": p.task, "preset": preset, "quick": quick, "crop": crop,
            "paper_mean": p.paper_mean, "past_stop": past_stop, "rows": rows, "summary": summarize(rows)}


def keep_images(path: pathlib.Path, r: Any, obs: np.ndarray) -> None:
    """Write one run's images to ``path`` (float32 .npz, written whole or not at all): ``observation``,
    ``ground_truth``, ``output``, ``ema``, ``best`` and ``image`` (the one returned: the combined image where
    the method mixes DIP's result with CBM3D's)."""
    arrays = {"observation": obs, "ground_truth": r.ground_truth, "output": r.output, "ema": r.ema,
              "best": r.best, "image": r.image}
    with atomic_path(path) as tmp:  # named .npz like ``path``, so numpy adds no suffix of its own
        np.savez(tmp, **{k: np.asarray(v, np.float32) for k, v in arrays.items()})


def _ends_past_stop(factor: float, patience: int) -> Callable[[Any], bool]:
    """A callback that ends each fit (each tile apart) at ``factor`` times the step where its rule fired, and
    at least ``patience`` steps after it: the peak past the stop is still seen, the long overfit is not run."""
    fired: dict[int, int] = {}

    def callback(record: Any) -> bool:  # a fitting.StepRecord
        row = record.row
        tile = row.get("tile", 0)
        if tile not in fired and row["event"].startswith(STOP_EVENT):
            fired[tile] = row["iteration"]
        at = fired.get(tile)
        return at is not None and row["iteration"] >= max(factor * at, at + patience)
    return callback


def _done_rows(path: pathlib.Path | None, key: dict[str, Any]) -> dict[tuple[str, int], dict[str, Any]]:
    """The rows an earlier run of the same settings left in ``path`` (a line cut short by a kill is skipped)."""
    if path is None:
        return {}
    return {(e["row"]["image"], int(e["row"]["seed"])): e["row"] for e in read_json_lines(path)
            if "row" in e and all(e.get(k) == v for k, v in key.items())}


def _row(p: Protocol, path: pathlib.Path, seed: int, r: Any, seconds: float, obs: np.ndarray,
         extra: dict[str, Any], sigma: float | None, fixed: bool = True) -> dict[str, Any]:
    """One table row: the fixed-iteration EMA (None unless the fits ran their step count, ``fixed``), the
    auto-stopped pick (with its step, rule and time), the oracle and the classical methods, scored by the
    protocol's measure."""
    m = r.metrics
    key = "psnr_y" if p.task == "superres" else "psnr"
    classical = run_classical(get_task(p.task).classical, obs, mask=extra.get("mask"), scale=extra.get("scale"),
                              sigma=sigma, ground_truth=r.ground_truth, psnr_y=p.task == "superres")
    rules = Counter(t["stop_rule"] or "cap" for t in m["per_tile"])
    return {
        "image": _stem(path), "seed": seed, "size": f"{r.ground_truth.shape[1]}x{r.ground_truth.shape[0]}",
        "tiles": m["tiles"], "input": m["input"]["gt"][key], "fixed": m["ema"]["gt"][key] if fixed else None,
        "fixed_iterations": m["iterations"], "fixed_seconds": round(seconds, 1), "auto": m["best"]["gt"][key],
        "auto_iteration": m["stop_iteration"] or m["iterations"],
        "auto_rule": ", ".join(k if n == 1 and len(rules) == 1 else f"{k} x{n}" for k, n in rules.items()),
        # a run that stops: its fits to their stops, and CBM3D after them where the method combines the two
        "auto_seconds": round(auto_seconds(m) + m.get("method", {}).get("seconds", 0.0), 1),
        "oracle": m.get("oracle_psnr", float("nan")) if key == "psnr" else _oracle_y(r),
        "oracle_iteration": m.get("oracle_iteration"), "paper": p.paper.get(_stem(path)),
        "backtracks": m["backtracks"],
        **({"dip+cbm3d": m["combined"]["gt"][key]} if "combined" in m else {}),
        **(tile_peaks(r) if m["tiles"] > 1 and key == "psnr" else {}),
        **{name: e["gt"][key] for name, e in classical.items()},
        **{f"{name}_seconds": e["seconds"] for name, e in classical.items()},
    }


def auto_seconds(metrics: dict[str, Any]) -> float:
    """How long the run would have taken had it stopped where its rule fired: each tile's own time to its stop,
    the tiles laid on the run's workers in the order they started (as the run lays them), after the time the
    first one waited to start. One tile: its stop's time exactly."""
    tiles = sorted((t for t in metrics["per_tile"] if "started" in t), key=lambda t: t["started"])
    slots = [tiles[0]["started"]] * max(1, min(metrics["workers"], len(tiles)))
    for t in tiles:
        slots[slots.index(min(slots))] += t["stop_seconds"]
    return max(slots)


def tile_peaks(r: Any) -> dict[str, float]:
    """A tiled run's stop against its own peak, tile by tile: each tile stops at its own step, so the whole
    image's best snapshot at a common step (the oracle) can be worse than what the tiles returned. Here each
    tile's error at the step it returned (``tile_auto``) and at its own best logged step (``tile_oracle``), as
    PSNR of their area-weighted mean squared errors. Over whole tiles, the edges the blend fades out included,
    both are under the blended image's score (0.9 dB on two 72 px tiles): compare them with each other."""
    picked = peak = area = 0.0
    for t in r.metrics["per_tile"]:
        rows = [h for h in r.history if h.get("tile") == t["tile"] and "mse_ema" in h]
        if not rows:
            continue
        at = max((h for h in rows if h["iteration"] <= t["best_iteration"]), key=lambda h: h["iteration"],
                 default=rows[0])
        a = t["height"] * t["width"]
        picked += a * at["mse_ema"]
        peak += a * min(min(h["mse_ema"], h["mse_output"]) for h in rows)
        area += a
    if not area:
        return {}
    return {"tile_auto": -10 * math.log10(picked / area), "tile_oracle": -10 * math.log10(peak / area)}


def _oracle_y(r: Any) -> float:
    """For super-resolution the history holds RGB PSNR; report the Y-PSNR of the best of the kept images."""
    return max(r.metrics[k]["gt"]["psnr_y"] for k in ("output", "ema", "best"))


