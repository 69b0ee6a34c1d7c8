"""The paper's tables, reproduced: named protocols run on a folder of images (``deepprior bench``).

Each image is corrupted with a fixed seed, restored once with the paper's settings for the paper's iteration
count while the automatic stopping rule runs alongside (``stop="none"``: the rule's pick and step are recorded
where it fires, the run goes on), so one run gives the fixed-iteration result, the auto-stopped result and the
oracle peak. Classical methods run on the same input. ``quick`` uses centre crops and fewer images so a
protocol finishes on 2 CPU cores in minutes; the full form is meant for a GPU.
"""

from __future__ import annotations

import pathlib
import statistics
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from .api import restore
from .degrade import add_noise, centre_crop_multiple, downscale_image
from .compare import run_classical
from .errors import InputError
from .io import load_image
from .masks import load_mask

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


PROTOCOLS = {p.name: p for p in [
    Protocol("denoise9-25", "denoise", "benchmarks/denoise9", "*_GT.png", "noise:25", 31.29, _DENOISE9),
    Protocol("denoise9-50", "denoise", "benchmarks/denoise9", "*_GT.png", "noise:50", 27.69,
             settings={"reg_noise_std": 1 / 20}),
    Protocol("inpaint11", "reconstruct", "benchmarks/inpaint11", "*_GT.png", "mask:_masked", 33.44, _INPAINT11),
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
    known = load_mask(mask_path) if kind == "mask-file" else np.asarray(load_image(mask_path))[..., 0] > 0
    gt, known = _crop(gt, crop), _crop(known[..., None], crop)[..., 0]
    return gt * known[..., None], {"mask": known}, gt, None


def run_protocol(name: str, data: pathlib.Path, *, quick: bool, seeds: int = 1, images: int | None = None,
                 device: str = "cpu", iterations: int | None = None, preset: str = "paper",
                 progress: Callable[[str], None] = print) -> dict[str, Any]:
    """Run one protocol; returns ``{"protocol", "quick", "rows", "summary"}`` (rows: one per image and seed)."""
    if name not in PROTOCOLS:
        raise InputError(f"unknown protocol {name!r}; choose one of {', '.join(PROTOCOLS)}")
    p = PROTOCOLS[name]
    folder = data / p.folder
    paths = sorted(folder.glob(p.pattern))
    if not paths:
        raise InputError(f"no images matching {p.pattern} in {folder}; pass --data pointing at shared/data")
    count = images or (p.quick_images if quick else len(paths))
    crop = p.quick_crop if quick else None
    rows = []
    for path in paths[:count]:
        for seed in range(seeds):
            gt = load_image(path)
            obs, extra, gt, sigma = _corrupt(p, path, gt, crop, seed)
            settings = {**p.settings, "stop": "none", "log_every": 25}
            if iterations:
                settings["iterations"] = iterations
            start = time.perf_counter()
            # One fit of the whole image, as in the paper (its stop is what the "auto" column reads).
            r = restore(obs, p.task, ground_truth=gt, seed=seed, device=device, preset=preset, tile=None, **extra,
                        **settings)
            seconds = time.perf_counter() - start
            m = r.metrics
            stop_it = m["stop_iteration"] or m["iterations"]
            auto_seconds = next((row["seconds"] for row in r.history if row["iteration"] >= stop_it), seconds)
            key = "psnr_y" if p.task == "superres" else "psnr"
            classical = run_classical(p.task, obs, mask=extra.get("mask"), scale=extra.get("scale"), sigma=sigma,
                                      ground_truth=gt)
            row = {
                "image": _stem(path), "seed": seed, "size": f"{gt.shape[1]}x{gt.shape[0]}",
                "input": m["input"]["gt"][key], "fixed": m["ema"]["gt"][key], "fixed_iterations": m["iterations"],
                "fixed_seconds": round(seconds, 1), "auto": m["best"]["gt"][key], "auto_iteration": stop_it,
                "auto_rule": m["stop_rule"] or "cap", "auto_seconds": round(auto_seconds, 1),
                "oracle": m["oracle_psnr"] if key == "psnr" else _oracle_y(r), "oracle_iteration":
                m["oracle_iteration"], "paper": p.paper.get(_stem(path)), "backtracks": m["backtracks"],
                **{name: e["gt"][key] for name, e in classical.items()},
                **{f"{name}_seconds": e["seconds"] for name, e in classical.items()},
            }
            rows.append(row)
            progress(f"{name} {row['image']} seed {seed}: input {row['input']:.2f}, fixed {row['fixed']:.2f}, "
                     f"auto {row['auto']:.2f} (step {stop_it}), oracle {row['oracle']:.2f}")
    return {"protocol": name, "task": p.task, "preset": preset, "quick": quick, "crop": crop,
            "paper_mean": p.paper_mean,
            "rows": rows, "summary": summarize(rows)}


def _oracle_y(r: Any) -> float:
    """For super-resolution the history holds RGB PSNR; report the Y-PSNR of the best of the kept images."""
    return max(r.metrics[k]["gt"]["psnr_y"] for k in ("output", "ema", "best"))


def summarize(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Means over all rows; per-image spread over seeds (max - min of the auto-stopped PSNR)."""
    numeric = [k for k, v in rows[0].items() if isinstance(v, (int, float)) and k != "seed" and v is not None]
    out = {k: statistics.fmean(r[k] for r in rows if r.get(k) is not None) for k in numeric}
    by_image: dict[str, list[float]] = {}
    for r in rows:
        by_image.setdefault(r["image"], []).append(r["auto"])
    out["seed_spread"] = {k: max(v) - min(v) for k, v in by_image.items() if len(v) > 1}
    by_seed: dict[int, list[dict[str, Any]]] = {}
    for r in rows:
        by_seed.setdefault(int(r["seed"]), []).append(r)
    out["per_seed_mean"] = {seed: {k: statistics.fmean(r[k] for r in rs) for k in ("fixed", "auto", "oracle")}
                            for seed, rs in by_seed.items()}
    out["auto_within_0.5dB_of_oracle"] = all(r["oracle"] - r["auto"] <= 0.5 for r in rows)
    out["backtracks"] = sum(r["backtracks"] for r in rows)
    return out


def markdown(result: dict[str, Any]) -> str:
    """The table: per image and seed, then the mean, with the paper's number beside."""
    rows = result["rows"]
    classical = [k for k in rows[0] if k not in _FIXED_KEYS and not k.endswith("_seconds")]
    head = ["image", "seed", "size", "input", "DIP fixed (steps)", "DIP auto (step, rule)", "oracle (step)",
            *classical, "paper DIP", "s auto / fixed"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]

    def fmt(r: dict[str, Any], mean: bool = False) -> str:
        paper = r.get("paper")
        cells = [r["image"], str(r.get("seed", "")), r.get("size", ""), f"{r['input']:.2f}",
                 f"{r['fixed']:.2f}" + ("" if mean else f" ({r['fixed_iterations']})"),
                 f"{r['auto']:.2f}" + ("" if mean else f" ({r['auto_iteration']}, {r['auto_rule']})"),
                 f"{r['oracle']:.2f}" + ("" if mean else f" ({r['oracle_iteration']:.0f})"),
                 *[f"{r[k]:.2f}" for k in classical],
                 "" if paper is None else f"{paper:.2f}", f"{r['auto_seconds']:.0f} / {r['fixed_seconds']:.0f}"]
        return "| " + " | ".join(cells) + " |"

    lines += [fmt(r) for r in rows]
    paper_mean = result["paper_mean"] if not result["quick"] else None
    mean = {**result["summary"], "image": "**mean**", "paper": paper_mean}
    lines.append(fmt(mean, mean=True))
    per_seed = result["summary"].get("per_seed_mean", {})
    if len(per_seed) > 1:
        spread = result["summary"]["seed_spread"]
        stats = {k: [m[k] for m in per_seed.values()] for k in ("fixed", "auto", "oracle")}
        lines.append("")
        lines.append(f"Over {len(per_seed)} seeds (noise, weights and input all change with the seed), mean of the "
                     "per-seed means ± their standard deviation: " + ", ".join(
                         f"{k} {statistics.fmean(v):.2f} ± {statistics.stdev(v):.2f}" for k, v in stats.items())
                     + f"; largest spread of one image's auto result (max - min): {max(spread.values()):.2f} dB.")
    form = f"quick (centre {result['crop']} px crops)" if result["quick"] and result["crop"] else (
        "quick" if result["quick"] else "full")
    return f"**{result['protocol']}** ({result['task']}, {form}; PSNR in dB" + (
        ", Y channel" if result["task"] == "superres" else "") + ")\n\n" + "\n".join(lines) + "\n"


_FIXED_KEYS = {"image", "seed", "size", "input", "fixed", "fixed_iterations", "fixed_seconds", "auto",
               "auto_iteration", "auto_rule", "auto_seconds", "oracle", "oracle_iteration", "paper", "backtracks"}
