"""Run the four deepprior 0.1 tasks on the paper's images, the way a user would, and tabulate the results.

Each task: crop the paper's image (CPU-sized), make the corrupted input with ``deepprior degrade`` / the
paper's mask, restore it with the task's command and paper preset (fewer iterations), and read the report.
Writes ``results.json`` and ``results.md`` into the output folder and prints the Markdown table.

    python benchmarks/paper_tasks.py --data ../shared/data/dip --out bench-out [--scale 1.0]

``--scale`` multiplies every iteration cap (0.1 for a smoke run).
"""

from __future__ import annotations

import argparse
import json
import pathlib
import platform
import sys

from PIL import Image

from deepprior.cli import main as cli

# task, image, mask (None = made by degrade), crop box (left, top, right, bottom), max iterations (the runs
# stop on their own; the cap keeps the CPU run short), extra CLI args
TASKS = [
    ("denoise", "denoising/F16_GT.png", None, (176, 176, 304, 304), 3000, ["--noise", "25"]),
    ("inpaint", "inpainting/kate.png", "inpainting/kate_mask.png", (128, 160, 256, 288), 1500, []),
    ("fill", "inpainting/vase.png", "inpainting/vase_mask.png", (64, 64, 256, 256), 1200, []),
    ("reconstruct", "restoration/barbara.png", None, (256, 0, 384, 128), 1500, ["--drop", "0.5"]),
]


def _run(argv: list[str]) -> None:
    try:
        cli(argv)
    except SystemExit as e:
        if e.code:
            raise


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=pathlib.Path, default=pathlib.Path("../shared/data/dip"))
    ap.add_argument("--out", type=pathlib.Path, default=pathlib.Path("bench-out/paper_tasks"))
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--only", nargs="*", default=None)
    ap.add_argument("--preset", choices=["paper", "fast"], default="paper")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    rows = []
    for task, image, mask, box, iters, degrade in TASKS:
        if args.only and task not in args.only:
            continue
        d = args.out / task
        d.mkdir(exist_ok=True)
        clean = d / "clean.png"
        Image.open(args.data / image).crop(box).save(clean)
        corrupted = d / "corrupted.png"
        if mask is None:
            extra = ["--mask-out", str(d / "mask.png")] if "--drop" in degrade else []
            _run(["degrade", str(clean), "-o", str(corrupted), "--seed", "0", "--overwrite", *degrade, *extra])
        else:
            Image.open(args.data / mask).crop(box).save(d / "mask.png")
            _run(["degrade", str(clean), "-o", str(corrupted), "--mask", str(d / "mask.png"), "--overwrite"])
        n = max(1, round(iters * args.scale))
        mask_args = [] if task == "denoise" else ["--mask", str(d / "mask.png")]
        _run([task, str(corrupted), *mask_args, "--gt", str(clean), "-o", str(d / "restored.png"), "--max-iters",
              str(n), "--report", str(d / "report"), "--overwrite", "--quiet", "--log-every", "25", "--compare",
              "--preset", args.preset])
        m = json.loads((d / "report" / "metrics.json").read_text())
        w, h = box[2] - box[0], box[3] - box[1]
        hist = [json.loads(json.dumps(r)) for r in _history(d / "report" / "history.csv")]
        peak = max(hist, key=lambda r: max(r.get("psnr_output", 0), r.get("psnr_ema", 0)))
        rows.append({
            "task": task, "image": image, "size": f"{w}x{h}", "iterations": m["iterations"],
            "seconds": m["seconds"], "input_psnr": m["input"]["gt"]["psnr"],
            "result": m["result"], "output_psnr": m[m["result"]]["gt"]["psnr"],
            "output_ssim": m[m["result"]]["gt"]["ssim"],
            "peak_psnr": max(peak.get("psnr_output", 0), peak.get("psnr_ema", 0)),
            "peak_iteration": peak["iteration"], "backtracks": m["backtracks"], "precision": m["precision"],
            "stopped_by": m["stopped_by"],
            "classical": {k: {"psnr": v["gt"]["psnr"], "seconds": v["seconds"]} for k, v in m["compare"].items()},
        })
        print(json.dumps(rows[-1]), flush=True)
    info = {"machine": platform.processor() or platform.machine(), "python": sys.version.split()[0]}
    (args.out / "results.json").write_text(json.dumps({"info": info, "rows": rows}, indent=2))
    lines = ["| task | image (crop) | iterations (stop) | seconds | input PSNR | DIP PSNR / SSIM | peak PSNR (step) "
             "| classical PSNR (seconds) |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        classical = ", ".join(f"{k} {v['psnr']:.2f} ({v['seconds']:.1f} s)" for k, v in r["classical"].items())
        lines.append(f"| {r['task']} | {pathlib.Path(r['image']).name} ({r['size']}) | {r['iterations']} "
                     f"({r['stopped_by']}) | {r['seconds']:.0f} | {r['input_psnr']:.2f} | {r['output_psnr']:.2f} / "
                     f"{r['output_ssim']:.3f} | {r['peak_psnr']:.2f} ({r['peak_iteration']:.0f}) | {classical} |")
    (args.out / "results.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def _history(path: pathlib.Path) -> list[dict]:
    import csv

    out = []
    for row in csv.DictReader(path.open()):
        out.append({k: (float(v) if k != "event" and v not in ("", None) else v) for k, v in row.items()})
    return [r for r in out if not r.get("event")]


if __name__ == "__main__":
    main()
