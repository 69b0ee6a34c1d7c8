"""DeepRED (Mataev, Elad, Milanfar 2019) against plain DIP, CBM3D and deepprior's default (the blend), on centre
crops of the 9-image set: one noise draw (seed 0), the fast preset's net, a fixed step count, the PSNR traced
every EVERY steps.

    python benchmarks/denoise_deepred.py SIGMA SIZE STEPS [--every 50] [--images 4] [--data ../shared/data]

DeepRED is ADMM on  min 1/2||T - y||^2 + lambda/2 x'(x - f(x))  with T the network's output:
  network step on 1/2||T - y||^2 + mu/2||T - x + u||^2 = (1 + mu)/2 ||T - (y + mu (x - u)) / (1 + mu)||^2 + c,
  so for denoising it is DIP fitted to a moving target, which deepprior's one loop already does (the callback
  rewrites the observation in place every EVERY steps);
  x = (lambda f(x) + mu (T + u)) / (lambda + mu), one fixed-point step, f = CBM3D told sigma;
  u = u + T - x.
lambda = mu = 0.5 as the authors' notebook. Prints one JSON row per image and the means
(docs/bench/denoise_deepred_25_128.json holds a run; docs/benchmarks.md#beyond-cbm3d-candidates-measured).
"""
import json
import pathlib
import sys
import time

import numpy as np
import torch

import deepprior
from deepprior.classical.methods import cbm3d
from deepprior.imaging.degrade import add_noise
from deepprior.imaging import metrics
from deepprior.imaging.io import from_tensor, to_tensor
from deepprior.nets import build_net, make_input


def psnr(a, b):
    """The project's PSNR of ``a`` clipped to [0, 1], as a written image would be."""
    return metrics.psnr(np.clip(a, 0, 1), b)


def arg(name, default):
    return type(default)(sys.argv[sys.argv.index(name) + 1]) if name in sys.argv else default


def run(noisy, gt, sigma, steps, every, mu, lam):
    """One fit; mu = 0 is plain DIP (the target stays y). Returns {step: PSNR of T, of x} and the seconds."""
    job = deepprior.plan(noisy, "denoise", preset="fast", seed=0, iterations=steps, stop="none",
                         log_every=every, method="dip", noise_sigma=sigma, ema_weight=0.0)
    dev, c = job.device, noisy.shape[2]
    model = build_net("skip", job.net, c, generator=torch.Generator().manual_seed(0)).to(dev)
    gen = torch.Generator(device=dev).manual_seed(0)
    z = make_input(job.net, *noisy.shape[:2], generator=gen, device=dev)
    y = to_tensor(noisy, device=dev)
    target = y.clone()  # the observation the loop fits; rewritten in place below
    problem = deepprior.Problem(target, job.make_operator(None).to(dev))
    x, u, trace = y.clone(), torch.zeros_like(y), {}
    filtered = [0.0]  # seconds in CBM3D

    def admm(rec):
        nonlocal x, u
        t = rec.output.detach().clone()
        if mu > 0:
            t0 = time.perf_counter()
            fx = to_tensor(cbm3d(from_tensor(x), sigma), device=dev)
            filtered[0] += time.perf_counter() - t0
            x = (lam * fx + mu * (t + u)) / (lam + mu)
            u = u + t - x
            target.copy_((y + mu * (x - u)) / (1 + mu))
        trace[rec.row["iteration"]] = (psnr(from_tensor(t), gt), psnr(from_tensor(x), gt))

    t0 = time.perf_counter()
    deepprior.fit(problem, model, z, job.fit, generator=gen, callbacks=[admm])
    return trace, time.perf_counter() - t0, filtered[0]


def main():
    level, size, steps = float(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    every, count, data = arg("--every", 50), arg("--images", 9), arg("--data", "../shared/data")
    sigma, rows = level / 255, []
    for path in sorted((pathlib.Path(data) / "benchmarks/denoise9").glob("*_GT.png"))[:count]:
        gt = deepprior.load_image(path)
        h, w = gt.shape[:2]
        t, l = (h - size) // 2, (w - size) // 2
        gt = gt[t:t + size, l:l + size]
        noisy = add_noise(gt, level, 0)
        cb = cbm3d(noisy, sigma, threads=1)
        t0 = time.perf_counter()
        default = deepprior.restore(noisy, "denoise", preset="fast", seed=0).image  # the blend, auto stop
        default_s = time.perf_counter() - t0
        dip, dip_s, _ = run(noisy, gt, sigma, steps, every, 0.0, 0.0)
        red, red_s, red_f = run(noisy, gt, sigma, steps, every, 0.5, 0.5)
        final = max(dip)
        row = {"image": path.stem.replace("_GT", ""), "cbm3d": psnr(cb, gt), "default": psnr(default, gt),
               "dip_peak": max(v[0] for v in dip.values()), "dip_final": dip[final][0],
               "deepred_T_peak": max(v[0] for v in red.values()), "deepred_T_final": red[final][0],
               "deepred_x_peak": max(v[1] for v in red.values()), "deepred_x_final": red[final][1],
               "default_seconds": default_s, "dip_seconds": dip_s, "deepred_seconds": red_s,
               "deepred_cbm3d_seconds": red_f,
               "trace_every": every, "dip_trace": [round(v[0], 2) for v in dip.values()],
               "deepred_x_trace": [round(v[1], 2) for v in red.values()]}
        rows.append(row)
        print(json.dumps({k: round(v, 2) if isinstance(v, float) else v for k, v in row.items()}), flush=True)
    keys = [k for k, v in rows[0].items() if isinstance(v, float)]
    print("MEAN", json.dumps({k: round(float(np.mean([r[k] for r in rows])), 3) for k in keys}))


if __name__ == "__main__":
    main()
