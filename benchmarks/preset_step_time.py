"""Seconds per step of the paper and fast presets of each task, through the real fitting loop, interleaved.

Each round runs every (task, preset) once for ``--steps`` steps on random data (metrics logged only at the first
and last step), so machine noise hits all alike; the median over rounds and the ratio paper / fast are what
to read. Time to quality (benchmarks/time_to_quality.py) multiplies this ratio by the ratio of step counts.

    python benchmarks/preset_step_time.py --sizes 128 256 --rounds 3 --out preset_step_time.json
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics

import numpy as np
import torch

import deepprior
from deepprior.imaging.masks import drop_mask

TASKS = ("denoise", "inpaint")


def time_once(task: str, preset: str, size: int, steps: int, device: str) -> float:
    """Seconds per step over ``steps`` steps after the first (which pays for the first-call set-up)."""
    img = np.random.default_rng(0).random((size, size, 3), dtype=np.float32)
    extra = {"mask": drop_mask((size, size), 0.1, seed=0)} if task == "inpaint" else {"noise_sigma": 0.1}
    r = deepprior.restore(img, task, preset=preset, iterations=steps + 1, log_every=10**6, stop="none", tile=None,
                          device=device, **extra)
    tile = r.metrics["per_tile"][0]
    return (tile["seconds"] - r.history[0]["seconds"]) / steps


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[128, 256])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    results = []
    for size in args.sizes:
        runs = [(t, p) for t in TASKS for p in ("paper", "fast")]
        times: dict[tuple[str, str], list[float]] = {k: [] for k in runs}
        for _ in range(args.rounds):
            for task, preset in runs:
                times[task, preset].append(time_once(task, preset, size, args.steps, args.device))
        for task in TASKS:
            paper, fast = (statistics.median(times[task, p]) for p in ("paper", "fast"))
            results.append({"size": size, "task": task, "paper_seconds_per_step": round(paper, 4),
                            "fast_seconds_per_step": round(fast, 4), "ratio": round(paper / fast, 2)})
            print(json.dumps(results[-1]), flush=True)
    info = {"device": args.device, "threads": torch.get_num_threads(), "torch": torch.__version__,
            "machine": platform.processor() or platform.machine(), "rounds": args.rounds, "steps": args.steps}
    if args.out:
        with open(args.out, "w") as f:
            json.dump({"info": info, "results": results}, f, indent=2)


if __name__ == "__main__":
    main()
