"""Would a coarser copy calibrate super-resolution's uncertainty map? Tried, not kept (docs/uncertainty.md).

For each 192 px crop: the x4 fit of its 48 px input (uncertainty=1) and the same fit of the input downscaled x4
once more, back to the input's size. If the second fit's ideal multiplier (MSE / mean raw spread, known since
its answer is the input) were a constant times the first's, it would calibrate the map without a ground truth.

    python benchmarks/uncertainty_superres_coarse.py 192 hill,kodim01,lena [--data ../shared/data]

docs/bench/uncertainty_superres_coarse.json holds the rows of two such runs (the tuning and the test crops).
"""
import json
import sys
import time

import numpy as np
import deepprior
from deepprior.imaging.degrade import downscale_image
from deepprior.imaging.io import load_image

size = int(sys.argv[1])
names = sys.argv[2].split(",")
data = sys.argv[sys.argv.index("--data") + 1] if "--data" in sys.argv else "../shared/data"
D9 = data + "/benchmarks/denoise9/{}_GT.png"

def crop(img, s):
    h, w = img.shape[:2]; t, l = (h - s) // 2, (w - s) // 2
    return img[t:t + s, l:l + s]

def fit(obs, gt):
    t0 = time.perf_counter()
    r = deepprior.restore(obs, "superres", scale=4, ground_truth=gt, uncertainty=1, tile=None)
    u = r.metrics["uncertainty"]
    ev = u["evaluation"]
    raw = r.uncertainty.astype(np.float64) ** 2 / u["scale"]
    err2 = ((r.image.astype(np.float64) - gt) ** 2).mean(axis=2)
    return {"ideal": float(err2.mean() / raw.mean()), "held": u.get("held_scale"), "scale": u["scale"],
            "ratio": ev["calibration_ratio"], "sp7": ev["spearman_7x7"], "steps": r.metrics["iterations"],
            "psnr": r.metrics[r.result]["gt"]["psnr"], "s": round(time.perf_counter() - t0, 1)}

rows = []
for n in names:
    gt = crop(load_image(D9.format(n)), size)
    lr = downscale_image(gt, 4)
    llr = downscale_image(lr, 4)
    main, coarse = fit(lr, gt), fit(llr, lr)
    row = {"image": n, "main": main, "coarse": coarse, "pred_over_ideal": coarse["ideal"] / main["ideal"],
           "current_over_ideal": main["scale"] / main["ideal"]}
    rows.append(row)
    print(json.dumps(row), flush=True)
