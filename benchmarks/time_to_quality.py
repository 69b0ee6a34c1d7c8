"""Time to quality: wall time until a run first reaches the paper preset's oracle peak minus 0.3 dB.

The paper preset runs first for a fixed step count and sets the target (its best logged PSNR of output or EMA,
minus 0.3 dB); each candidate setting then runs on the same input and its history says when (steps, seconds)
it first reached the target. Runs are sequential in one process on the same machine, so the ratios are what to
read. JSON out.

    python benchmarks/time_to_quality.py --task denoise --data ../shared/data/dip --out ttq_denoise.json
"""

from __future__ import annotations

import argparse
import json
import pathlib

import deepprior
from deepprior.degrade import add_noise
from deepprior.io import load_image
from deepprior.masks import load_mask

CASES = {  # task -> (image, mask or None, crop box (top, left, size))
    "denoise": ("denoising/F16_GT.png", None, (176, 176, 128)),
    "inpaint": ("inpainting/kate.png", "inpainting/kate_mask.png", (160, 128, 128)),
}

#: Candidate settings (any restore() keyword), applied to the paper preset unless they name another.
CANDIDATES: dict[str, dict] = {
    "paper": {},
    "fast": {"preset": "fast"},  # the default
    "light-finest": {"channels_down": (32, 64, 128, 128, 128), "channels_up": (32, 64, 128, 128, 128)},
    "paper-lr0.02": {"lr": 0.02},
    "light-finest-lr0.02": {"channels_down": (32, 64, 128, 128, 128), "channels_up": (32, 64, 128, 128, 128),
                            "lr": 0.02},
    "lighter": {"channels_down": (16, 32, 64, 128, 128), "channels_up": (16, 32, 64, 128, 128)},
    "light-64": {"channels_down": (32, 64, 64, 64, 64), "channels_up": (32, 64, 64, 64, 64)},
    # Deep Random Projector (Li et al., CVPR 2023; settings of its denoising script): a one-scale net of 64
    # channels with frozen random convolutions; the input seed (through a batch norm) and the batch-norm
    # parameters are trained with lr 0.1 on sqrt(MSE) + 0.45 TV.
    "random-projector": {"channels_down": (64,), "channels_up": (64,), "channels_skip": (4,),
                         "input_channels": 3, "input_norm": True, "freeze_convs": True, "train_input": True,
                         "lr": 0.1, "loss": "rmse", "tv_weight": 0.45, "reg_noise_std": 0.0, "ema_weight": 0.0},
    "fast-rmse": {"channels_down": (32, 64, 128, 128, 128), "channels_up": (32, 64, 128, 128, 128),
                  "loss": "rmse"},
}


def first_reach(history: list[dict], target: float) -> tuple[int | None, float | None]:
    for row in history:
        if max(row.get("psnr_output", -1), row.get("psnr_ema", -1)) >= target:
            return int(row["iteration"]), float(row["seconds"])
    return None, None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--task", choices=sorted(CASES), default="denoise")
    ap.add_argument("--data", type=pathlib.Path, default=pathlib.Path("../shared/data/dip"))
    ap.add_argument("--paper-iters", type=int, default=1500, help="steps of the reference run (fixed)")
    ap.add_argument("--max-iters", type=int, default=1500, help="cap for the candidates")
    ap.add_argument("--candidates", nargs="*", default=["paper", "fast"])
    ap.add_argument("--device", default="auto")
    ap.add_argument("--paper-oracle", type=float, default=None,
                    help="skip the reference run and use this oracle PSNR (from an earlier run's JSON)")
    ap.add_argument("--out", type=pathlib.Path, default=None)
    args = ap.parse_args()
    image, mask, (top, left, size) = CASES[args.task]
    gt = load_image(args.data / image)[top:top + size, left:left + size]
    kw: dict = {"ground_truth": gt, "device": args.device, "log_every": 10}
    if mask:
        known = load_mask(args.data / mask)[top:top + size, left:left + size]
        obs = gt * known[..., None]
        kw["mask"] = known
    else:
        obs = add_noise(gt, 25, seed=0)
    ref = None
    if args.paper_oracle is None:
        ref = deepprior.restore(obs, args.task, iterations=args.paper_iters, stop="none", preset="paper", **kw)
    oracle = args.paper_oracle if ref is None else ref.metrics["oracle_psnr"]
    target = oracle - 0.3
    results = {"task": args.task, "size": size, "paper_oracle": oracle, "target": target, "runs": [],
               "paper_oracle_iteration": None if ref is None else ref.metrics["oracle_iteration"]}
    print(json.dumps({k: v for k, v in results.items() if k != "runs"}), flush=True)
    for name in args.candidates:
        settings = {"preset": "paper", **CANDIDATES[name]}
        r = ref if name == "paper" and ref is not None else deepprior.restore(
            obs, args.task, iterations=args.max_iters, **kw, **settings)
        steps, seconds = first_reach(r.history, target)
        per_step = r.metrics["seconds"] / max(r.metrics["iterations"], 1)
        row = {"name": name, "settings": {k: list(v) if isinstance(v, tuple) else v
                                          for k, v in CANDIDATES[name].items()},
               "steps_to_target": steps, "seconds_to_target": seconds, "seconds_per_step": round(per_step, 4),
               "returned_psnr": r.metrics[r.result]["gt"]["psnr"], "stopped_by": r.metrics["stopped_by"],
               "iterations": r.metrics["iterations"], "seconds": r.metrics["seconds"],
               "oracle_psnr": r.metrics["oracle_psnr"]}
        results["runs"].append(row)
        print(json.dumps(row), flush=True)
    paper_t = next((r["seconds_to_target"] for r in results["runs"] if r["name"] == "paper"), None)
    for row in results["runs"]:
        t = row["seconds_to_target"]
        row["speedup_vs_paper"] = round(paper_t / t, 2) if paper_t and t else None
    if args.out:
        args.out.write_text(json.dumps(results, indent=2, default=float) + "\n")


if __name__ == "__main__":
    main()
