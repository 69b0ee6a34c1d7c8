"""Does CBM3D's second (Wiener) stage, given DIP's result as its pilot instead of its own first stage, beat
CBM3D? Centre crops of the 9-image set, one noise draw (seed 0), the fast preset with its automatic stop; or,
with ``--kept DIR``, the whole images a ``deepprior bench denoise9-* --keep-images`` run kept (no fitting: its
DIP image and its default's mix, the bench's noise).

    python benchmarks/denoise_bm3d_pilot.py 25 128 [--data ../shared/data] > rows.jsonl
    python benchmarks/denoise_bm3d_pilot.py 50 0 --kept bench-full/denoise9-50 > rows.jsonl

Prints one JSON row per image and the means (docs/bench/denoise_bm3d_pilot_25_128.json and
docs/bench/denoise_bm3d_pilot_50_whole.json hold runs): DIP, CBM3D, their mean, the Wiener stage with the DIP
pilot and with the mean as pilot, and means of those; with ``--kept`` also the default's mix and the Wiener
stage with it as pilot.
"""
import json
import pathlib
import sys
import time

import bm3d
import numpy as np
from bm3d import rgb_to

import deepprior
from deepprior.imaging.degrade import add_noise
from deepprior.classical.methods import cbm3d
from deepprior.imaging import metrics


def psnr(a, b):
    """The project's PSNR of ``a`` clipped to [0, 1], as a written image would be."""
    return metrics.psnr(np.clip(a, 0, 1), b)


def wiener_rgb(z, sigma, pilot):
    zt, imax, imin, scale, a = rgb_to(z, "opp")
    pt = ((pilot.reshape(-1, 3) @ a.T - imin) / (imax - imin)).reshape(z.shape)
    s = sigma * np.sqrt(scale)
    y0, bm = bm3d.bm3d(zt[..., 0], s[0], "np", stage_arg=pt[..., 0], blockmatches=(False, True))
    y = np.stack([y0] + [bm3d.bm3d(zt[..., c], s[c], "np", stage_arg=pt[..., c], blockmatches=bm)
                         for c in (1, 2)], -1)
    y, *_ = rgb_to(y, "opp", True, imax, imin)
    return np.clip(y, 0, 1)


def score(name, noisy, gt, s, dip, td, mix=None):
    """One image's row: CBM3D told ``s``, and the Wiener stages piloted by DIP, by the even mean, by ``mix``."""
    t0 = time.perf_counter(); cb = cbm3d(noisy, s); tc = time.perf_counter() - t0
    t0 = time.perf_counter(); w_dip = wiener_rgb(noisy, s, dip); tw = time.perf_counter() - t0
    w_bl = wiener_rgb(noisy, s, 0.5 * (dip + cb))
    row = {"image": name, "dip": psnr(dip, gt), "cbm3d": psnr(cb, gt), "blend": psnr(0.5 * (dip + cb), gt),
           "wiener_dip": psnr(w_dip, gt), "wiener_blend": psnr(w_bl, gt),
           "blend_wdip_cb": psnr(0.5 * (w_dip + cb), gt), "blend_wdip_dip": psnr(0.5 * (w_dip + dip), gt),
           "t_dip": td, "t_cbm3d": tc, "t_wiener": tw}
    if mix is not None:
        row.update(default=psnr(mix, gt), wiener_default=psnr(wiener_rgb(noisy, s, mix), gt))
    return row


def inputs(level, size, data, kept):
    """(name, noisy, ground truth, DIP's image, its seconds, the default's mix or None) per image."""
    if kept:  # a bench's kept arrays: DIP's returned image is its "best", the default's mix its "image"
        for path in sorted(pathlib.Path(kept).glob("*.npz")):
            d = np.load(path)
            yield path.stem, d["observation"], d["ground_truth"], d["best"], 0.0, d["image"]
        return
    for path in sorted((pathlib.Path(data) / "benchmarks/denoise9").glob("*_GT.png")):
        gt = deepprior.load_image(path)
        h, w = gt.shape[:2]; t, l = (h - size) // 2, (w - size) // 2
        gt = gt[t:t + size, l:l + size]
        noisy = add_noise(gt, level, 0)
        t0 = time.perf_counter()
        kw = {"reg_noise_std": 1 / 20} if level >= 50 else {}
        dip = deepprior.restore(noisy, "denoise", preset="fast", seed=0, method="dip", **kw).image
        yield path.stem, noisy, gt, dip, time.perf_counter() - t0, None


level, size = float(sys.argv[1]), int(sys.argv[2])
data = sys.argv[sys.argv.index("--data") + 1] if "--data" in sys.argv else "../shared/data"
kept = sys.argv[sys.argv.index("--kept") + 1] if "--kept" in sys.argv else None
out = []
for name, noisy, gt, dip, td, mix in inputs(level, size, data, kept):
    out.append(score(name, noisy, gt, level / 255, dip, td, mix))
    print(json.dumps({k: round(v, 2) if isinstance(v, float) else v for k, v in out[-1].items()}), flush=True)
keys = [k for k in out[0] if k != "image"]
print("MEAN", json.dumps({k: round(float(np.mean([r[k] for r in out])), 3) for k in keys}))
