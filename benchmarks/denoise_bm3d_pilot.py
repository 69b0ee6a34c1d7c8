"""Does CBM3D's second (Wiener) stage, given DIP's result as its pilot instead of its own first stage, beat
CBM3D? Centre crops of the 9-image set, one noise draw (seed 0), the fast preset with its automatic stop.

    python benchmarks/denoise_bm3d_pilot.py 25 128 [--data ../shared/data] > rows.jsonl

Prints one JSON row per image and the means (docs/bench/denoise_bm3d_pilot_25_128.json holds a run): DIP,
CBM3D, their mean, the Wiener stage with the DIP pilot and with the mean as pilot, and means of those.
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


def psnr(a, b):
    return float(10 * np.log10(1 / np.mean((np.clip(a, 0, 1) - b) ** 2)))


def wiener_rgb(z, sigma, pilot):
    zt, imax, imin, scale, a = rgb_to(z, "opp")
    pt = ((pilot.reshape(-1, 3) @ a.T - imin) / (imax - imin)).reshape(z.shape)
    s = sigma * np.sqrt(scale)
    y0, bm = bm3d.bm3d(zt[..., 0], s[0], "np", stage_arg=pt[..., 0], blockmatches=(False, True))
    y = np.stack([y0] + [bm3d.bm3d(zt[..., c], s[c], "np", stage_arg=pt[..., c], blockmatches=bm)
                         for c in (1, 2)], -1)
    y, *_ = rgb_to(y, "opp", True, imax, imin)
    return np.clip(y, 0, 1)


level, size = float(sys.argv[1]), int(sys.argv[2])
data = sys.argv[sys.argv.index("--data") + 1] if "--data" in sys.argv else "../shared/data"
crops = pathlib.Path(data) / "benchmarks/denoise9"
out = []
for path in sorted(crops.glob("*_GT.png")):
    gt = deepprior.load_image(path)
    h, w = gt.shape[:2]; t, l = (h - size) // 2, (w - size) // 2
    gt = gt[t:t + size, l:l + size]
    noisy = add_noise(gt, level, 0)
    s = level / 255
    t0 = time.perf_counter()
    kw = {"reg_noise_std": 1 / 20} if level >= 50 else {}
    r = deepprior.restore(noisy, "denoise", preset="fast", seed=0, **kw)
    td = time.perf_counter() - t0
    dip = r.image
    t0 = time.perf_counter(); cb = cbm3d(noisy, s); tc = time.perf_counter() - t0
    t0 = time.perf_counter(); w_dip = wiener_rgb(noisy, s, dip); tw = time.perf_counter() - t0
    w_bl = wiener_rgb(noisy, s, 0.5 * (dip + cb))
    row = {"image": path.stem, "dip": psnr(dip, gt), "cbm3d": psnr(cb, gt), "blend": psnr(0.5 * (dip + cb), gt),
           "wiener_dip": psnr(w_dip, gt), "wiener_blend": psnr(w_bl, gt),
           "blend_wdip_cb": psnr(0.5 * (w_dip + cb), gt), "blend_wdip_dip": psnr(0.5 * (w_dip + dip), gt),
           "t_dip": td, "t_cbm3d": tc, "t_wiener": tw}
    out.append(row)
    print(json.dumps({k: round(v, 2) if isinstance(v, float) else v for k, v in row.items()}), flush=True)
keys = [k for k in out[0] if k != "image"]
print("MEAN", json.dumps({k: round(float(np.mean([r[k] for r in out])), 3) for k in keys}))
