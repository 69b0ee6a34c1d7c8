"""Do tiles leave seams? A noisy crop restored whole and in tiles, with the error near the tile borders.

Restores the same noisy crop (sigma 25, seeded) once whole and once with ``--tile``-style tiling, and reports
PSNR of both and the mean absolute error of the tiled result inside the overlap bands (where tiles are blended)
against the rest of the image. A visible seam shows up as a higher error in the bands. JSON out.

    python benchmarks/tiling_seams.py --data ../shared/data --size 384 --tile 192 --out tiling_seams.json
"""

from __future__ import annotations

import argparse
import json
import pathlib

import numpy as np

import deepprior
from deepprior.imaging import metrics
from deepprior.imaging.degrade import add_noise
from deepprior.imaging.io import load_image
from deepprior.jobs.tiles import default_overlap, tile_starts


def band_mask(h: int, w: int, tile: int, overlap: int) -> np.ndarray:
    """True on the pixels shared by two or more tiles."""
    count = np.zeros((h, w), np.int32)
    for top in tile_starts(h, tile, overlap):
        for left in tile_starts(w, tile, overlap):
            count[top:top + tile, left:left + tile] += 1
    return count > 1


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=pathlib.Path, default=pathlib.Path("../shared/data"))
    ap.add_argument("--image", default="dip/denoising/F16_GT.png")
    ap.add_argument("--size", type=int, default=384)
    ap.add_argument("--tile", type=int, default=192)
    ap.add_argument("--max-iters", type=int, default=1500)
    ap.add_argument("--out", type=pathlib.Path, default=None)
    args = ap.parse_args()
    full = load_image(args.data / args.image)
    top, left = (full.shape[0] - args.size) // 2, (full.shape[1] - args.size) // 2
    gt = full[top:top + args.size, left:left + args.size]
    noisy = add_noise(gt, 25, seed=0)
    overlap = default_overlap(args.tile)  # as the CLI's --tile
    kw = {"ground_truth": gt, "iterations": args.max_iters, "log_every": 10}
    whole = deepprior.restore(noisy, "denoise", tile=None, **kw)
    tiled = deepprior.restore(noisy, "denoise", tile=args.tile, overlap=overlap, **kw)
    band = band_mask(args.size, args.size, args.tile, overlap)
    err = np.abs(tiled.image - gt).mean(axis=2)
    err_whole = np.abs(whole.image - gt).mean(axis=2)
    result = {
        "image": args.image, "size": args.size, "tile": args.tile, "overlap": overlap,
        "tiles": tiled.metrics["tiles"],
        "psnr_noisy": metrics.psnr(noisy, gt), "psnr_whole": metrics.psnr(whole.image, gt),
        "psnr_tiled": metrics.psnr(tiled.image, gt),
        "seconds_whole": whole.metrics["seconds"], "seconds_tiled": tiled.metrics["seconds"],
        "mae_tiled_in_bands": float(err[band].mean()), "mae_tiled_elsewhere": float(err[~band].mean()),
        "mae_whole_in_bands": float(err_whole[band].mean()), "mae_whole_elsewhere": float(err_whole[~band].mean()),
    }
    print(json.dumps(result, indent=2))
    if args.out:
        args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
