"""How good is deepprior's uncertainty map? Rank correlation, calibration and cost per task, with a ground truth.

Two sets of images, so the calibration is judged on images it was not tuned on: ``tune`` gives, per task, the
factor that would have calibrated each image (the task factors of :mod:`deepprior.jobs.uncertainty` are their
geometric means); ``test`` scores the map as it ships, on other images, with one fit (``uncertainty=1``) and two
(``uncertainty=2``), and times a run without a map on the same input for the cost.

    python benchmarks/uncertainty_eval.py tune --data ../shared/data --out docs/bench/uncertainty_tune.json
    python benchmarks/uncertainty_eval.py test --data ../shared/data --out docs/bench/uncertainty_eval.json
    python benchmarks/uncertainty_eval.py figure --data ../shared/data --out docs/uncertainty.png
    python benchmarks/uncertainty_eval.py table --out docs/bench/uncertainty_eval.json   # the docs' table
    python benchmarks/uncertainty_eval.py cost --data ../shared/data --out docs/bench/uncertainty_cost.json

Crops of 96 px (super-resolution: 96 px results from 24 px inputs) of the paper's images; denoising at sigma 25,
text inpainting, 50 % pixel drop, super-resolution x4; the default preset, its automatic stop, one tile.
"""

from __future__ import annotations

import argparse
import json
import math
import pathlib
import platform
import sys
import time

import numpy as np
import torch

import deepprior
from deepprior.imaging.degrade import add_noise, downscale_image
from deepprior.imaging.io import load_image
from deepprior.imaging.masks import drop_mask, text_mask

D9, I11 = "benchmarks/denoise9/{}_GT.png", "benchmarks/inpaint11/{}_GT.png"
SETS = {
    "tune": {"denoise": [D9.format(n) for n in ("F16", "kodim03", "baboon")],
             "inpaint": [D9.format(n) for n in ("lena", "peppers", "kodim12")],
             "reconstruct": [I11.format(n) for n in ("barbara", "boat", "house")],
             "superres": [D9.format(n) for n in ("hill", "kodim01", "lena")]},
    "test": {"denoise": [D9.format(n) for n in ("kodim01", "hill", "peppers")],
             "inpaint": [D9.format(n) for n in ("F16", "kodim02", "baboon")],
             "reconstruct": [I11.format(n) for n in ("man", "couple", "Cameraman256")],
             "superres": [D9.format(n) for n in ("kodim03", "peppers", "kodim12")]},
}
SIZE = 96


def crop(img: np.ndarray, size: int = SIZE) -> np.ndarray:
    h, w = img.shape[:2]
    t, left = (h - size) // 2, (w - size) // 2
    return img[t:t + size, left:left + size]


def case(task: str, gt: np.ndarray) -> tuple[np.ndarray, dict]:
    """The corrupted input and the restore arguments (seed 0 corruptions)."""
    h, w = gt.shape[:2]
    if task == "denoise":
        return add_noise(gt, 25, 0), {}
    if task in ("inpaint", "reconstruct"):
        known = (text_mask((w, h), "lorem ipsum dolor sit amet consectetur", font_size=h // 8)
                 if task == "inpaint" else drop_mask((w, h), 0.5, seed=0))
        return gt * known[..., None], {"mask": known}
    return downscale_image(gt, 4), {"scale": 4}


def one(obs: np.ndarray, task: str, gt: np.ndarray, extra: dict, k: int) -> tuple[dict, deepprior.Restoration]:
    t0 = time.perf_counter()
    r = deepprior.restore(obs, task, ground_truth=gt, uncertainty=k, tile=None, **extra)
    row = {"seconds": round(time.perf_counter() - t0, 2), "steps": r.metrics["iterations"],
           "psnr": r.metrics[r.result]["gt"]["psnr"]}
    if k:
        u = r.metrics["uncertainty"]
        ev = u["evaluation"]
        part = ev.get("missing", ev)
        row.update(factor=u["factor"], scale=u["scale"], held_scale=u.get("held_scale"),
                   spearman=ev["spearman"], spearman_7x7=ev["spearman_7x7"],
                   calibration_ratio=ev["calibration_ratio"], uce=ev["uce"], rmse=math.sqrt(ev["mse"]),
                   missing_spearman=part.get("spearman"), missing_spearman_7x7=part.get("spearman_7x7"))
    return row, r


def gmean(xs: list[float]) -> float:
    return float(math.exp(sum(math.log(x) for x in xs) / len(xs)))


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["tune", "test", "figure", "table", "cost"])
    ap.add_argument("--data", type=pathlib.Path, default=pathlib.Path("../shared/data"))
    ap.add_argument("--out", type=pathlib.Path, required=True)
    ap.add_argument("--tasks", default="denoise,inpaint,reconstruct,superres")
    args = ap.parse_args()
    if args.mode == "figure":
        return figure(args)
    if args.mode == "cost":
        return cost(args)
    if args.mode == "table":
        print(table(json.loads(args.out.read_text())))
        return 0
    rows = []
    for task in args.tasks.split(","):
        for rel in SETS[args.mode][task]:
            gt = crop(load_image(args.data / rel))
            obs, extra = case(task, gt)
            row = {"task": task, "image": pathlib.Path(rel).stem.removesuffix("_GT")}
            runs = (1,) if args.mode == "tune" else (0, 1, 2)
            for k in runs:
                row[f"k{k}"], _ = one(obs, task, gt, extra, k)
            if args.mode == "tune":
                # The factor that would have made this image's calibration ratio 1.
                row["ideal_factor"] = row["k1"]["factor"] * row["k1"]["calibration_ratio"]
            else:
                row["cost_k1"] = row["k1"]["seconds"] / row["k0"]["seconds"]
                row["cost_k2"] = row["k2"]["seconds"] / row["k0"]["seconds"]
            rows.append(row)
            print(json.dumps(row), file=sys.stderr, flush=True)
    summary = {}
    for task in args.tasks.split(","):
        rs = [r for r in rows if r["task"] == task]
        if args.mode == "tune":
            summary[task] = {"ideal_factors": [r["ideal_factor"] for r in rs],
                             "factor": gmean([r["ideal_factor"] for r in rs]),
                             "used_while_tuning": rs[0]["k1"]["factor"]}
            continue
        summary[task] = {f"k{k}": {key: float(np.mean([r[f"k{k}"][key] for r in rs]))
                                   for key in ("spearman", "spearman_7x7", "missing_spearman_7x7",
                                               "calibration_ratio", "uce", "psnr", "seconds")
                                   if all(r[f"k{k}"].get(key) is not None for r in rs)}
                         for k in (1, 2)}
        summary[task]["k0_psnr"] = float(np.mean([r["k0"]["psnr"] for r in rs]))
        summary[task]["ratios"] = {f"k{k}": [r[f"k{k}"]["calibration_ratio"] for r in rs] for k in (1, 2)}
        summary[task]["cost"] = {"k1": float(np.mean([r["cost_k1"] for r in rs])),
                                 "k2": float(np.mean([r["cost_k2"] for r in rs]))}
    out = {"mode": args.mode, "size": SIZE, "machine": f"{platform.processor() or platform.machine()}, "
           f"{torch.get_num_threads()} threads, torch {torch.__version__}",
           "command": f"python benchmarks/uncertainty_eval.py {args.mode} --data ../shared/data --out {args.out}",
           "summary": summary, "rows": rows}
    args.out.write_text(json.dumps(out, indent=1) + "\n")
    print(json.dumps(summary, indent=1))
    return 0


def cost(args: argparse.Namespace) -> int:
    """What the map costs per step, apart from where a run stops: 256 px results, 200 fixed steps, runs without
    and with ``uncertainty=1`` alternated twice (the machine's drift hits both alike)."""
    rows = []
    for task, rel in (("denoise", SETS["test"]["denoise"][0]), ("inpaint", SETS["test"]["inpaint"][0]),
                      ("reconstruct", SETS["test"]["reconstruct"][0]), ("superres", SETS["test"]["superres"][0])):
        gt = crop(load_image(args.data / rel), 256)
        obs, extra = case(task, gt)
        seconds: dict[int, list[float]] = {0: [], 1: []}
        for k in (0, 1, 0, 1):
            t0 = time.perf_counter()
            deepprior.restore(obs, task, uncertainty=k, tile=None, iterations=200, stop="none", **extra)
            seconds[k].append(time.perf_counter() - t0)
        rows.append({"task": task, "image": pathlib.Path(rel).stem.removesuffix("_GT"), "seconds": seconds,
                     "ratio": min(seconds[1]) / min(seconds[0])})
        print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    out = {"mode": "cost", "size": 256, "steps": 200, "machine": f"{platform.processor() or platform.machine()}, "
           f"{torch.get_num_threads()} threads, torch {torch.__version__}",
           "command": f"python benchmarks/uncertainty_eval.py cost --data ../shared/data --out {args.out}",
           "rows": rows}
    args.out.write_text(json.dumps(out, indent=1) + "\n")
    return 0


def table(result: dict) -> str:
    """The test rows as the docs' Markdown table: per image and K, the scores and the cost."""
    lines = ["| task | image | K | Spearman (px) | Spearman 7x7 | 7x7, missing px | calibration ratio | UCE (x1e-4) "
             "| PSNR, K=0 -> K | time / K=0 |", "|---|---|---|---|---|---|---|---|---|---|"]
    for r in result["rows"]:
        for k in (1, 2):
            e = r[f"k{k}"]
            lines.append(f"| {r['task']} | {r['image']} | {k} | {e['spearman']:.2f} | {e['spearman_7x7']:.2f} | "
                         f"{e['missing_spearman_7x7']:.2f} | {e['calibration_ratio']:.2f} | {e['uce'] * 1e4:.2f} | "
                         f"{r['k0']['psnr']:.2f} -> {e['psnr']:.2f} | {r[f'cost_k{k}']:.2f}x |")
    lines += ["", "| task | K | mean Spearman 7x7 | mean calibration ratio (range) | mean time / K=0 |",
              "|---|---|---|---|---|"]
    for task, s in result["summary"].items():
        for k in (1, 2):
            ratios = s["ratios"][f"k{k}"]
            lines.append(f"| {task} | {k} | {s[f'k{k}']['spearman_7x7']:.2f} | {s[f'k{k}']['calibration_ratio']:.2f} "
                         f"({min(ratios):.2f}-{max(ratios):.2f}) | {s['cost'][f'k{k}']:.2f}x |")
    return "\n".join(lines)


def figure(args: argparse.Namespace) -> int:
    """The docs' figure: for text inpainting and pixel drop on test images, the input, the result, the map and
    the true error side by side."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    picks = [("inpaint", SETS["test"]["inpaint"][1]), ("reconstruct", SETS["test"]["reconstruct"][0]),
             ("superres", SETS["test"]["superres"][0]), ("denoise", SETS["test"]["denoise"][0])]
    fig, axes = plt.subplots(len(picks), 4, figsize=(11, 2.9 * len(picks)))
    for row, (task, rel) in enumerate(picks):
        gt = crop(load_image(args.data / rel))
        obs, extra = case(task, gt)
        _, r = one(obs, task, gt, extra, 1)
        err = np.sqrt(((r.image - gt) ** 2).mean(axis=2))
        top = max(float(np.percentile(err, 99)), float(np.percentile(r.uncertainty, 99))) * 255
        ev = r.metrics["uncertainty"]["evaluation"]
        psnr = r.metrics[r.result]["gt"]["psnr"]
        for col, (title, img, cmap) in enumerate([
                (f"{task}: input", r.baseline, None), (f"restored, {psnr:.1f} dB", r.image, None),
                (f"predicted error std\n(Spearman 7x7 {ev['spearman_7x7']:.2f}, ratio {ev['calibration_ratio']:.2f})",
                 r.uncertainty * 255, "magma"),
                ("true error |restored - truth|", err * 255, "magma")]):
            ax = axes[row][col]
            if cmap:
                ax.imshow(img, cmap=cmap, vmin=0, vmax=top, interpolation="nearest")
            else:  # a grey image in grey
                img = np.clip(img, 0, 1)
                ax.imshow(img[..., 0] if img.shape[2] == 1 else img, cmap="gray", vmin=0, vmax=1,
                          interpolation="nearest")
            ax.set_title(title, fontsize=8)
            ax.axis("off")
    fig.suptitle("uncertainty=1 on test crops (96 px); both maps on one scale per row (0-255 grey levels)")
    fig.tight_layout(rect=(0, 0, 1, 0.97))
    fig.savefig(args.out, dpi=100)
    return 0


if __name__ == "__main__":
    sys.exit(main())
