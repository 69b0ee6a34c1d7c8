"""Time to quality: wall time until a run first reaches the paper preset's oracle peak minus 0.3 dB.

For each image of the task, the paper preset runs first for a fixed step count and sets the target (its best
logged PSNR of output or EMA, minus 0.3 dB); each candidate setting then runs on the same input and its history
says when (steps, seconds) it first reached the target. Runs are sequential in one process on the same machine,
so the ratios are what to read; steps to target do not depend on machine load. JSON out, with the geometric mean
speed-up of each candidate over the images. ``--kept-target`` (mask tasks) also scores the paper run with the
measured pixels kept as measured, as the fast mask presets return them, and reports each run's time to that
run's peak minus 0.3 dB too: a like-for-like target, since keeping them lifts the scores of any fit.

    python benchmarks/time_to_quality.py --task denoise --data ../shared/data --out ttq_denoise.json
"""

from __future__ import annotations

import argparse
import json
import pathlib
import platform
import statistics

import numpy as np
import torch

import deepprior
from deepprior.imaging import metrics
from deepprior.imaging.degrade import add_noise, downscale_image, jpeg_roundtrip
from deepprior.imaging.io import from_tensor, load_image, to_tensor
from deepprior.imaging.masks import drop_mask, holes_mask, load_mask
from deepprior.jobs import resolve_device
from deepprior.operators import Mask

#: task -> image name -> (image, corruption, crop box (top, left, size)); paths under --data. The corruption is
#: a mask file, "drop50" (half the pixels missing, seeded), "holes" (three seeded blobs up to 40 % of the side),
#: "x4" / "x8" (Lanczos-2 downscaling), "jpeg10" (JPEG at quality 10) or None (Gaussian noise, sigma 25,
#: seeded). The first image of denoise and inpaint is the one the speed issue names; "F16-256" (256 px) makes a
#: default denoise run about 20 minutes longer on 2 cores, so the README's table names its images.
CASES: dict[str, dict[str, tuple[str, str | None, tuple[int, int, int]]]] = {
    "denoise": {
        "F16": ("dip/denoising/F16_GT.png", None, (176, 176, 128)),
        "baboon": ("benchmarks/denoise9/baboon_GT.png", None, (200, 200, 128)),
        "kodim03": ("benchmarks/denoise9/kodim03_GT.png", None, (150, 300, 128)),
        "peppers": ("benchmarks/denoise9/peppers_GT.png", None, (200, 200, 128)),
        "F16-256": ("dip/denoising/F16_GT.png", None, (128, 128, 256)),  # the size the issue names for GPUs
        "F16-512": ("dip/denoising/F16_GT.png", None, (0, 0, 512)),  # the whole image (GPU target)
    },
    "inpaint": {
        "kate": ("dip/inpainting/kate.png", "dip/inpainting/kate_mask.png", (160, 128, 128)),
        "library": ("dip/inpainting/library.png", "dip/inpainting/library_mask.png", (160, 64, 128)),
        "kate-256": ("dip/inpainting/kate.png", "dip/inpainting/kate_mask.png", (128, 128, 256)),  # GPU size
        "kate-512": ("dip/inpainting/kate.png", "dip/inpainting/kate_mask.png", (0, 0, 512)),
    },
    "reconstruct": {
        "barbara": ("dip/restoration/barbara.png", "drop50", (300, 200, 128)),
        "boat": ("benchmarks/inpaint11/boat_GT.png", "drop50", (192, 192, 128)),
        "house": ("benchmarks/inpaint11/house_GT.png", "drop50", (64, 64, 128)),
    },
    "superres": {
        "zebra": ("dip/sr/zebra_GT.png", "x4", (120, 200, 128)),
        "monarch": ("benchmarks/set14/x4/monarch_GT.png", "x4", (192, 320, 128)),
        "zebra-x8": ("dip/sr/zebra_GT.png", "x8", (120, 200, 128)),
        "monarch-x8": ("benchmarks/set14/x8/monarch_GT.png", "x8", (192, 320, 128)),
    },
    "dejpeg": {"F16": ("dip/denoising/F16_GT.png", "jpeg10", (176, 176, 128))},
    "fill": {
        "vase": ("dip/inpainting/vase.png", "dip/inpainting/vase_mask.png", (96, 96, 128)),
        "hill": ("benchmarks/denoise9/hill_GT.png", "holes", (64, 64, 128)),
        "kodim12": ("benchmarks/denoise9/kodim12_GT.png", "holes", (200, 300, 128)),
    },
}

_LIGHT = {"channels_down": (32, 64, 128, 128, 128), "channels_up": (32, 64, 128, 128, 128)}  # the earlier fast
_THIN = {"channels_down": (16, 32, 64, 64, 64), "channels_up": (16, 32, 64, 64, 64)}  # the fast net now
_THIN_SKIP = {**_THIN, "channels_skip": (16, 32, 64, 64, 64)}

#: Candidate settings (any restore() keyword), applied to the paper preset unless they name another.
CANDIDATES: dict[str, dict] = {
    "paper": {},
    "fast-no-keep": {"preset": "fast", "keep_measured": False},  # the fast mask presets, network output only
    "thin-rmse-keep": {**_THIN, "loss": "rmse", "keep_measured": True},
    "thin-rmse-lr0.01-keep": {**_THIN, "loss": "rmse", "lr": 0.01, "keep_measured": True},
    "fast": {"preset": "fast"},  # the default (denoising: tiles of at most 144 px, one per CPU thread)
    "paper-eager": {"cuda_graph": False},  # GPU: the paper preset without CUDA graphs
    "fast-eager": {"preset": "fast", "cuda_graph": False},
    "fast-adam-paper": {"preset": "fast", "adam_betas": (0.9, 0.999)},  # the fast preset with the paper's betas
    "fast-adam": {"preset": "fast", "adam_betas": (0.85, 0.9)},  # the fast denoising preset's betas, other tasks
    "thin-rmse-adam": {**_THIN, "loss": "rmse", "adam_betas": (0.85, 0.9)},
    "light-rmse-adam": {**_LIGHT, "loss": "rmse", "adam_betas": (0.85, 0.9)},
    "fast-adam-lr0.02": {"preset": "fast", "adam_betas": (0.85, 0.9), "lr": 0.02},
    "fast-adam-4scales": {"preset": "fast", "adam_betas": (0.85, 0.9), "channels_down": (16, 32, 64, 64),
                          "channels_up": (16, 32, 64, 64), "channels_skip": (4,) * 4},
    "fast-adam-halves": {"preset": "fast", "adam_betas": (0.85, 0.9), "tile": (72, 128), "overlap": 16},
    "fast-adam-lr0.02-ho0.05": {"preset": "fast", "adam_betas": (0.85, 0.9), "lr": 0.02, "holdout": 0.05},
    "fast-adam-lr0.02-ho0.1": {"preset": "fast", "adam_betas": (0.85, 0.9), "lr": 0.02, "holdout": 0.1},
    "fast-ho0.05": {"preset": "fast", "holdout": 0.05},
    "fast-adam-lr0.02-halves": {"preset": "fast", "adam_betas": (0.85, 0.9), "lr": 0.02, "tile": (72, 128),
                                "overlap": 16},
    "fast-adam-lr0.02-halves-ho0.05": {"preset": "fast", "adam_betas": (0.85, 0.9), "lr": 0.02, "tile": (72, 128),
                                       "overlap": 16, "holdout": 0.05},
    # The fast denoising preset before Adam's betas, 4 scales and the stop's noise factor (2026-11-27).
    "fast-2026-11-26": {"preset": "fast", **_THIN, "channels_skip": (4,) * 5, "adam_betas": (0.9, 0.999),
                        "stop_noise_factor": 1.0},
    "fast-whole": {"preset": "fast", "tile": None},  # the fast denoising preset in one fit of the whole image
    "fast-halves": {"preset": "fast", "tile": (72, 128), "overlap": 16},  # two tiles of a 128 px crop, side by side
    "fast-ema-warmup": {"preset": "fast", "ema_warmup": True},
    "fast-in8": {"preset": "fast", "input_channels": 8},
    "fast-in16": {"preset": "fast", "input_channels": 16},
    "light-finest": _LIGHT,
    "paper-lr0.02": {"lr": 0.02},
    "light-finest-lr0.02": {**_LIGHT, "lr": 0.02},
    "light-finest-ema0.95": {**_LIGHT, "ema_weight": 0.95},
    "light-finest-rmse": {**_LIGHT, "loss": "rmse"},
    "lighter": {"channels_down": (16, 32, 64, 128, 128), "channels_up": (16, 32, 64, 128, 128)},
    "light-64": {"channels_down": (32, 64, 64, 64, 64), "channels_up": (32, 64, 64, 64, 64)},
    "width-32": {"channels_down": (32,) * 5, "channels_up": (32,) * 5},
    "dejpeg-net": {"channels_down": (8, 16, 32, 64, 128), "channels_up": (8, 16, 32, 64, 128),
                   "channels_skip": (0, 0, 0, 4, 4)},
    # Deep Random Projector (Li et al., CVPR 2023; settings of its denoising script): a one-scale net of 64
    # channels with frozen random convolutions; the input seed (through a batch norm) and the batch-norm
    # parameters are trained with lr 0.1 on sqrt(MSE) + 0.45 TV.
    "random-projector": {"channels_down": (64,), "channels_up": (64,), "channels_skip": (4,),
                         "input_channels": 3, "input_norm": True, "freeze_convs": True, "train_input": True,
                         "lr": 0.1, "loss": "rmse", "tv_weight": 0.45, "reg_noise_std": 0.0, "ema_weight": 0.0},
    "thin": _THIN,
    "thin-lr0.02": {**_THIN, "lr": 0.02},
    "thin-rmse": {**_THIN, "loss": "rmse"},  # the fast denoising preset
    "thin-rmse-lr0.01": {**_THIN, "loss": "rmse", "lr": 0.01},  # for reconstruct, whose paper lr is 0.001
    "thin-rmse-reg45": {**_THIN, "loss": "rmse", "reg_noise_std": 1 / 45},
    "thin-rmse-ramp": {**_THIN, "loss": "rmse", "reg_noise_start": 0.5, "reg_noise_ramp": 400},
    "thin-rmse-ramp0": {**_THIN, "loss": "rmse", "reg_noise_start": 0.0, "reg_noise_ramp": 300},
    "thin-skip-rmse": {**_THIN_SKIP, "loss": "rmse"},
    "thin-skip-rmse-lr0.02": {**_THIN_SKIP, "loss": "rmse", "lr": 0.02},  # the fast inpainting preset
    "thin-skip-rmse-lr0.04": {**_THIN_SKIP, "loss": "rmse", "lr": 0.04},
    "thin-skip8-rmse-lr0.02": {**_THIN, "channels_skip": (8, 16, 32, 32, 32), "loss": "rmse", "lr": 0.02},
    "thin-rmse-lr0.02": {**_THIN, "loss": "rmse", "lr": 0.02},  # skips of 4, as the denoising net
    "thin-skip-rmse-lr0.02-reg0.015": {**_THIN_SKIP, "loss": "rmse", "lr": 0.02, "reg_noise_std": 0.015},
    "thin-skip-rmse-lr0.02-reg0": {**_THIN_SKIP, "loss": "rmse", "lr": 0.02, "reg_noise_std": 0.0},
    "paper-rmse": {"loss": "rmse"},  # the fast preset of reconstruct, superres and fill
}


def first_reach(history: list[dict], target: float) -> tuple[int | None, float | None]:
    """(step, seconds) of the first logged row whose output or EMA reaches ``target``.

    For a tiled run pass its ``metrics["curve"]``: the stitched image's scores per step, timed from the start
    of the run, when the slowest tile had logged that step.
    """
    for row in history:
        if max(row.get("psnr_output", -1), row.get("psnr_ema", -1)) >= target:
            return int(row["iteration"]), float(row["seconds"])
    return None, None


def run_image(task: str, name: str, args: argparse.Namespace, oracle: float | None,
              kept_oracle: float | None = None) -> dict:
    """The reference run (unless ``oracle`` is given) and every candidate on one image."""
    image, mask, (top, left, size) = CASES[task][name]
    gt = load_image(args.data / image)[top:top + size, left:left + size]
    kw: dict = {"ground_truth": gt, "device": args.device, "log_every": 10}
    if mask in ("x4", "x8"):
        kw["scale"] = int(mask[1])
        obs = downscale_image(gt, kw["scale"])
    elif mask == "jpeg10":
        obs = jpeg_roundtrip(gt, 10)
    elif mask:
        if mask == "drop50":
            known = drop_mask((size, size), 0.5, seed=0)
        elif mask == "holes":
            known = holes_mask((size, size), count=3, max_fraction=0.4, seed=0)
        else:
            known = load_mask(args.data / mask)[top:top + size, left:left + size]
        obs = gt * known[..., None]
        kw["mask"] = known
    else:
        obs = add_noise(gt, 25, seed=0)
    ref = None
    kept_curve: list[dict] = []  # the paper run's scores with the measured pixels kept (--kept-target)

    def score_kept(rec: deepprior.StepRecord) -> None:
        """The paper run's output and EMA as the fast mask presets hand them back (the operator's own rule)."""
        op = Mask(torch.from_numpy(kw["mask"].astype(np.float32))).to(rec.output.device)
        seen = to_tensor(obs, device=rec.output.device)
        kept = [from_tensor(op.keep_measured(t, seen)) for t in (rec.output, rec.ema)]
        kept_curve.append({"iteration": rec.row["iteration"], "seconds": rec.row["seconds"],
                           "psnr_output": metrics.psnr(kept[0], gt), "psnr_ema": metrics.psnr(kept[1], gt)})

    if oracle is None:
        ref = deepprior.restore(obs, task, iterations=args.paper_iters, stop="none", preset="paper", **kw,
                                callbacks=[score_kept] if args.kept_target else [])
        oracle = ref.metrics["oracle_psnr"]
    target = oracle - 0.3
    result = {"image": name, "crop": [top, left, size], "paper_oracle": oracle, "target": target, "runs": [],
              "paper_oracle_iteration": None if ref is None else ref.metrics["oracle_iteration"]}
    kept_target = None if kept_oracle is None else kept_oracle - 0.3
    if kept_oracle is not None:
        result.update(paper_kept_oracle=kept_oracle, kept_target=kept_target)
    if kept_curve:
        peak = max(kept_curve, key=lambda r: max(r["psnr_output"], r["psnr_ema"]))
        kept_target = max(peak["psnr_output"], peak["psnr_ema"]) - 0.3
        result.update(paper_kept_oracle=kept_target + 0.3, kept_target=kept_target,
                      paper_kept_oracle_iteration=peak["iteration"])
    print(json.dumps({k: v for k, v in result.items() if k != "runs"}), flush=True)
    for cand in args.candidates:
        settings = {"preset": "paper", **CANDIDATES[cand]}
        r = ref if cand == "paper" and ref is not None else deepprior.restore(
            obs, task, iterations=args.max_iters, **kw, **settings)
        tiled = r.metrics["tiles"] > 1
        curve = r.metrics["curve"]  # of the stitched image: of the one tile, its history's scores
        steps, seconds = first_reach(curve, target)
        # Wall seconds per step of the tiles running side by side.
        per_step = r.metrics["seconds"] / max(r.metrics["iterations"], 1) * r.metrics["workers"]
        row = {"name": cand, "settings": {k: list(v) if isinstance(v, tuple) else v
                                          for k, v in CANDIDATES[cand].items()},
               "steps_to_target": steps, "seconds_to_target": seconds, "seconds_per_step": round(per_step, 4),
               "returned_psnr": r.metrics[r.result]["gt"]["psnr"], "stopped_by": r.metrics["stopped_by"],
               "iterations": r.metrics["iterations"], "seconds": r.metrics["seconds"],
               "oracle_psnr": r.metrics["oracle_psnr"], "best_iteration": r.metrics.get("best_iteration")}
        if kept_target is not None:
            row["steps_to_kept_target"], row["seconds_to_kept_target"] = first_reach(
                kept_curve if r is ref else curve, kept_target)
        if tiled:
            row.update(tile=r.metrics["tile"], workers=r.metrics["workers"],
                       tiles=[{k: t[k] for k in ("iterations", "stopped_by", "seconds")}
                              for t in r.metrics["per_tile"]])
        result["runs"].append(row)
        print(json.dumps({"image": name, **row}), flush=True)
    paper = next((r for r in result["runs"] if r["name"] == "paper"), None)
    for row in result["runs"]:
        t, n = row["seconds_to_target"], row["steps_to_target"]
        reached = paper is not None and paper["steps_to_target"] is not None
        row["speedup_vs_paper"] = round(paper["seconds_to_target"] / t, 2) if reached and t else None
        # Steps to target times each run's mean step time over the whole run: less bent by a slow patch of the
        # machine just before the target than the seconds to target are.
        row["step_speedup_vs_paper"] = (
            round(paper["steps_to_target"] * paper["seconds_per_step"] / (n * row["seconds_per_step"]), 2)
            if reached and n and "tiles" not in row else None)  # tiled: steps are per tile, so seconds only
        if kept_target is not None:
            t_kept = paper and paper["seconds_to_kept_target"]
            row["kept_speedup_vs_paper"] = (round(t_kept / row["seconds_to_kept_target"], 2)
                                            if t_kept and row["seconds_to_kept_target"] else None)
    return result


def summarize(images: list[dict], candidates: list[str]) -> dict:
    """Per candidate: the geometric mean speed-up over the images, and how many reached the target."""
    out = {}
    for cand in candidates:
        rows = [r for img in images for r in img["runs"] if r["name"] == cand]
        ups = [r["speedup_vs_paper"] for r in rows if r["speedup_vs_paper"]]
        out[cand] = {"images": len(rows), "reached": sum(r["steps_to_target"] is not None for r in rows),
                     "geomean_speedup": round(statistics.geometric_mean(ups), 2) if ups else None,
                     "min_speedup": min(ups) if ups else None,
                     "mean_oracle_gain_db": round(statistics.fmean(
                         r["oracle_psnr"] - img["paper_oracle"] for img in images for r in img["runs"]
                         if r["name"] == cand), 2) if rows else None}
        kept = [r["kept_speedup_vs_paper"] for r in rows if r.get("kept_speedup_vs_paper")]
        if any("kept_speedup_vs_paper" in r for r in rows):
            out[cand].update(reached_kept=sum(r["steps_to_kept_target"] is not None for r in rows),
                             geomean_kept_speedup=round(statistics.geometric_mean(kept), 2) if kept else None)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--task", choices=sorted(CASES), default="denoise")
    ap.add_argument("--images", nargs="*", default=None,
                    help="names from CASES (default: the task's 128 px crops; larger ones are named)")
    ap.add_argument("--data", type=pathlib.Path, default=pathlib.Path("../shared/data"))
    ap.add_argument("--paper-iters", type=int, default=1500, help="steps of the reference run (fixed)")
    ap.add_argument("--max-iters", type=int, default=1500, help="cap for the candidates")
    ap.add_argument("--candidates", nargs="*", default=["paper", "fast"])
    ap.add_argument("--kept-target", action="store_true",
                    help="mask tasks: also the like-for-like target, the paper run's peak with the measured pixels "
                         "kept")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--paper-oracle", type=float, nargs="*", default=None,
                    help="skip the reference runs and use these oracle PSNRs (one per image, from an earlier JSON)")
    ap.add_argument("--kept-oracle", type=float, nargs="*", default=None,
                    help="with --paper-oracle: the paper runs' peaks with the measured pixels kept (from a "
                         "--kept-target JSON), for the like-for-like target")
    ap.add_argument("--out", type=pathlib.Path, default=None)
    args = ap.parse_args()
    names = args.images or [n for n, (_, _, box) in CASES[args.task].items() if box[2] <= 128]
    unknown = set(names) - set(CASES[args.task])
    if unknown:
        ap.error(f"unknown images for {args.task}: {', '.join(sorted(unknown))}")
    if args.kept_target and (args.paper_oracle or args.task not in ("inpaint", "fill", "reconstruct")):
        ap.error("--kept-target needs a mask task and the paper runs (no --paper-oracle; see --kept-oracle)")
    oracles = args.paper_oracle or [None] * len(names)
    kept_oracles = args.kept_oracle or [None] * len(names)
    if len(kept_oracles) != len(names) or (args.kept_oracle and not args.paper_oracle):
        ap.error("--kept-oracle needs --paper-oracle and one value per image")
    if len(oracles) != len(names):
        ap.error("--paper-oracle needs one value per image")
    device = resolve_device(args.device)
    results = {"task": args.task, "machine": platform.processor() or platform.machine(),
               "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
               "torch": torch.__version__, "torch_threads": torch.get_num_threads(), "images": []}
    for n, o, k in zip(names, oracles, kept_oracles):
        results["images"].append(run_image(args.task, n, args, o, k))
        results["summary"] = summarize(results["images"], args.candidates)
        if args.out:  # after each image, so a run cut short keeps what it finished
            args.out.write_text(json.dumps(results, indent=2, default=float) + "\n")
    print(json.dumps(results["summary"]), flush=True)


if __name__ == "__main__":
    main()
