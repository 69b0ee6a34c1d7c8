"""Seeded CLI runs of every task, whole and tiled, on small crops: to show that a refactor changes no image.

Run it before and after a change on the same machine (the result depends on the CPU thread count) and compare:

    python benchmarks/equivalence.py run /tmp/before      # with the old code
    python benchmarks/equivalence.py run /tmp/after       # with the new code
    python benchmarks/equivalence.py compare /tmp/before/equivalence.json /tmp/after/equivalence.json

Each run goes through ``python -m deepprior`` as a user would, so the script does not depend on the package's
internal layout. The JSON holds, per run, a hash of the written image's pixels, the maximum pixel difference is
computed by ``compare`` from the images themselves, and a few figures of metrics.json.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import pathlib
import subprocess
import sys
import time

import numpy as np
from PIL import Image

DATA = pathlib.Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "dip"


def _crop(src: pathlib.Path, dst: pathlib.Path, box: tuple[int, int, int, int]) -> pathlib.Path:
    with Image.open(src) as im:
        im.crop(box).save(dst)
    return dst


def _cli(*args: object, cwd: pathlib.Path) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "deepprior", *map(str, args)]
    p = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if p.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{p.stderr}")
    return p


def _inputs(d: pathlib.Path) -> None:
    """Crops of the paper's images and their corruptions, made with the CLI's own ``degrade``."""
    _crop(DATA / "denoising/F16_GT.png", d / "f16.png", (200, 180, 296, 276))
    _cli("degrade", "f16.png", "--noise", "25", "--seed", "0", "-o", "f16_noisy.png", cwd=d)
    _cli("degrade", "f16.png", "--jpeg", "10", "-o", "f16_q10.png", cwd=d)
    _crop(DATA / "inpainting/kate.png", d / "kate.png", (200, 200, 296, 296))
    _crop(DATA / "inpainting/kate_mask.png", d / "kate_mask.png", (200, 200, 296, 296))
    _cli("degrade", "kate.png", "--mask", "kate_mask.png", "-o", "kate_masked.png", cwd=d)
    _crop(DATA / "inpainting/vase.png", d / "vase.png", (112, 112, 208, 208))
    _cli("mask", "holes", "--like", "vase.png", "--count", "2", "--seed", "1", "-o", "vase_mask.png", cwd=d)
    _cli("degrade", "vase.png", "--mask", "vase_mask.png", "-o", "vase_holes.png", cwd=d)
    _crop(DATA / "restoration/barbara.png", d / "barbara.png", (200, 200, 296, 296))
    _cli("degrade", "barbara.png", "--drop", "0.5", "--mask-out", "barbara_mask.png", "-o", "barbara_half.png",
         cwd=d)
    _crop(DATA / "sr/zebra_GT.png", d / "zebra.png", (200, 100, 328, 228))
    for f in (2, 4, 8):
        _cli("degrade", "zebra.png", "--downscale", f, "-o", f"zebra_x{f}.png", cwd=d)
    _crop(DATA / "flash_no_flash/cave01_00_flash.jpg", d / "flash.png", (0, 0, 96, 96))  # the brightest corner
    _crop(DATA / "flash_no_flash/cave01_01_noflash.jpg", d / "noflash.png", (0, 0, 96, 96))


#: name -> arguments of one restore command (after the command name); "tiled" runs name their tile size.
RUNS: dict[str, list[object]] = {
    "denoise_whole": ["denoise", "f16_noisy.png", "--gt", "f16.png", "--tile", "none", "--max-iters", "400"],
    "denoise_tiled": ["denoise", "f16_noisy.png", "--gt", "f16.png", "--max-iters", "400", "--tile", "64"],
    "denoise_paper": ["denoise", "f16_noisy.png", "--gt", "f16.png", "--preset", "paper", "--iters", "60"],
    "dejpeg_whole": ["dejpeg", "f16_q10.png", "--gt", "f16.png", "--iters", "120"],
    "dejpeg_tiled": ["dejpeg", "f16_q10.png", "--gt", "f16.png", "--iters", "120", "--tile", "64"],
    "inpaint_whole": ["inpaint", "kate_masked.png", "--mask", "kate_mask.png", "--gt", "kate.png", "--iters", "150"],
    "inpaint_tiled": ["inpaint", "kate_masked.png", "--mask", "kate_mask.png", "--gt", "kate.png", "--iters", "150",
                      "--tile", "64"],
    "fill_whole": ["fill", "vase_holes.png", "--mask", "vase_mask.png", "--gt", "vase.png", "--iters", "100"],
    "fill_tiled": ["fill", "vase_holes.png", "--mask", "vase_mask.png", "--gt", "vase.png", "--iters", "100",
                   "--tile", "64"],
    "reconstruct_whole": ["reconstruct", "barbara_half.png", "--mask", "barbara_mask.png", "--gt", "barbara.png",
                          "--iters", "150"],
    "reconstruct_tiled": ["reconstruct", "barbara_half.png", "--mask", "barbara_mask.png", "--gt", "barbara.png",
                          "--iters", "150", "--tile", "64", "--holdout", "0.05"],
    "superres2_whole": ["superres", "zebra_x2.png", "--scale", "2", "--gt", "zebra.png", "--iters", "80"],
    "superres4_whole": ["superres", "zebra_x4.png", "--scale", "4", "--gt", "zebra.png", "--max-iters", "300"],
    "superres4_tiled": ["superres", "zebra_x4.png", "--scale", "4", "--gt", "zebra.png", "--iters", "80",
                        "--tile", "96"],
    "superres8_whole": ["superres", "zebra_x8.png", "--scale", "8", "--gt", "zebra.png", "--iters", "80"],
    "flash_whole": ["flash", "--flash", "flash.png", "--noflash", "noflash.png", "--iters", "100"],
    "flash_tiled": ["flash", "--flash", "flash.png", "--noflash", "noflash.png", "--iters", "100", "--tile", "64"],
}


def _pixels(path: pathlib.Path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im)


def run(folder: pathlib.Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    _inputs(folder)
    out: dict[str, dict] = {}
    for name, args in RUNS.items():
        start = time.perf_counter()
        _cli(*args, "-o", f"{name}.png", "--report", f"{name}_report", "--quiet", "--overwrite", cwd=folder)
        m = json.loads((folder / f"{name}_report" / "metrics.json").read_text())
        out[name] = {"sha256": hashlib.sha256(_pixels(folder / f"{name}.png").tobytes()).hexdigest(),
                     "iterations": m["iterations"], "stopped_by": m["stopped_by"], "result": m["result"],
                     "psnr": m[m["result"]]["gt"]["psnr"] if "gt" in m.get(m["result"], {}) else None,
                     "seconds": round(time.perf_counter() - start, 1)}
        print(name, out[name], flush=True)
    start = time.perf_counter()
    _cli("demo", "--out", "demo", "--quiet", cwd=folder)
    m = json.loads((folder / "demo" / "metrics.json").read_text())
    out["demo"] = {"sha256": hashlib.sha256(_pixels(folder / "demo" / "restored.png").tobytes()).hexdigest(),
                   "iterations": m["iterations"], "stopped_by": m["stopped_by"], "result": m["result"],
                   "psnr": m[m["result"]]["gt"]["psnr"], "cbm3d": m["compare"]["cbm3d"]["gt"]["psnr"],
                   "seconds": round(time.perf_counter() - start, 1)}
    print("demo", out["demo"], flush=True)
    env = {k: os.environ.get(k) for k in ("OMP_NUM_THREADS",)}
    (folder / "equivalence.json").write_text(json.dumps({"env": env, "runs": out}, indent=2) + "\n")


def compare(a: pathlib.Path, b: pathlib.Path) -> int:
    ra, rb = (json.loads(p.read_text())["runs"] for p in (a, b))
    differ = 0
    for name in ra:
        x, y = ra[name], rb.get(name)
        if y is None:
            print(f"{name}: missing in {b}")
            differ += 1
            continue
        same = x["sha256"] == y["sha256"]
        img = "demo/restored.png" if name == "demo" else f"{name}.png"
        diff = int(np.abs(_pixels(a.parent / img).astype(int) - _pixels(b.parent / img).astype(int)).max())
        facts = {k: (x[k], y[k]) for k in ("iterations", "stopped_by", "psnr") if x[k] != y[k]}
        print(f"{name}: {'same image' if same else f'differs (max {diff} of 255)'}"
              + (f"; {facts}" if facts else ""))
        differ += not same
    return 1 if differ else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="verb", required=True)
    sub.add_parser("run").add_argument("folder", type=pathlib.Path)
    c = sub.add_parser("compare")
    c.add_argument("a", type=pathlib.Path)
    c.add_argument("b", type=pathlib.Path)
    args = parser.parse_args()
    if args.verb == "run":
        run(args.folder)
        return 0
    return compare(args.a, args.b)


if __name__ == "__main__":
    sys.exit(main())
