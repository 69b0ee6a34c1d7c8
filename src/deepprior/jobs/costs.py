"""What a run will cost before it starts: memory, FLOPs and seconds per step, and the time in all.

The plan refuses fits whose memory estimate exceeds what the device has free (and tiles automatic runs that
would); front ends print :meth:`deepprior.Job.estimate` before a long run.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch.utils.flop_counter import FlopCounterMode

from ..config import FitConfig, NetConfig, replace
from ..fitting import Problem, fit
from ..fitting.cuda_graph import WARMUP_STEPS
from ..nets import build_net, make_input
from ..operators import Identity


def estimate_memory(net: NetConfig, height: int, width: int, precision: str) -> int:
    """Rough peak bytes of a fit: activations kept for backward, summed over scales, plus a fixed overhead.

    Per scale the forward keeps about 7 tensors of the encoder width (at the next scale's resolution), 3 of
    the skip width and 10 of the decoder width. Calibrated on the CPU against measured peaks (resident memory)
    of the paper's denoising and inpainting networks at 256 and 384 px, fp32 and bf16: the estimate came out
    10-25 % above the measurement, so it errs on the safe side. Beside the network: the input, its per-step
    perturbation and their low-precision copies (14 bytes per input channel), and about 40 image-sized float32
    buffers of the loop, the metrics and the CLI (480 bytes). Without these terms a thin network was
    underestimated: the fast denoising preset on a 4000x3000 photo peaked at 21.6 GiB against 14.0 estimated;
    with them the estimate is 24.3 GiB.
    """
    per_px = 0.0
    for i in range(net.scales):
        here = 4.0**-i
        per_px += 7 * net.channels_down[i] * here / 4 + 3 * net.channels_skip[i] * here
        per_px += 10 * net.channels_up[i] * here
    bytes_per = 4.0 if precision == "fp32" else 3.4  # autocast keeps bf16 copies beside fp32 tensors
    fixed_px = 14 * net.in_channels + 480
    return int((per_px * bytes_per + fixed_px) * height * width) + 300 * 2**20


def estimate_step_flops(net: NetConfig, out_channels: int, height: int, width: int) -> float:
    """FLOPs of one fitting step (forward + backward, about 3x the forward), counted on a small proxy image.

    Convolution cost is proportional to the pixel count, so the count at 2**scales * 2 px a side is scaled
    up; the paper's network at 512 px comes out at about 460 GFLOP.
    """
    side = 2**net.scales * 2
    proxy = build_net("skip", net, out_channels, generator=torch.Generator().manual_seed(0))
    z = torch.zeros(1, net.in_channels, side, side)
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        proxy(z)
    return 3.0 * counter.get_total_flops() * height * width / side**2


def time_step(net: NetConfig, fit_cfg: FitConfig, out_channels: int, height: int, width: int,
              device: torch.device, proxy: int = 256) -> float:
    """Seconds per fitting step at ``height`` x ``width``, timed on a proxy of at most ``proxy`` px a side.

    Runs a few steps of the real loop (:func:`deepprior.fit`, same precision and layout) on random data and
    scales the time of the last three by the pixel count. A rough guide, not a promise: on the 2-core CPU the
    paper's denoising network came out at 2.7 s for 512 px where the loop measured 2.7-3.9 s, and the fast preset
    at 24 s for a 4000x3000 photo that then ran at 42 s per step (larger images run slower per pixel, here
    also with memory nearly full).
    """
    ph, pw = min(height, proxy), min(width, proxy)
    gen = torch.Generator(device=device).manual_seed(0)
    model = build_net("skip", net, out_channels, generator=torch.Generator().manual_seed(0)).to(device)
    z = (torch.rand((1, net.in_channels, ph, pw), generator=gen, device=device) if net.input == "image"
         else make_input(net, ph, pw, generator=gen, device=device))
    y = torch.rand((1, out_channels, ph, pw), generator=gen, device=device)
    # Timed from the first step that runs as it will for the rest of the fit: the second on a CPU, the one after
    # the CUDA-graph capture on a GPU (the warm-up steps and the capture cost more than a replay).
    first, timed = (WARMUP_STEPS + 1, 6) if device.type == "cuda" else (1, 3)
    cfg = replace(fit_cfg, iterations=first + timed, log_every=first, save_every=0, stop="none", backtrack=False)
    result = fit(Problem(y, Identity().to(device)), model, z, cfg, generator=gen)
    start = next(r["seconds"] for r in result.history if r["iteration"] == first)
    per_step = (result.seconds - start) / (cfg.iterations - first)
    return per_step * height * width / (ph * pw)


@dataclass(frozen=True)
class Estimate:
    """What a run will cost: per step of one fit, its FLOPs and seconds (timed on the threads each fit gets),
    the memory of one fit, the seconds of the whole run at its step bound, and the memory of the whole run
    (the fits that run at once and the stitched images)."""

    flops: float
    step_seconds: float
    memory: int
    seconds: float
    run_memory: int = 0


def estimate_run(net: NetConfig, fit_cfg: FitConfig, channels: int, height: int, width: int, *, tiles: int,
                 workers: int, device: torch.device, stitched: int = 0, fits: int = 1) -> Estimate:
    """The :class:`Estimate` of ``tiles`` fits of ``height`` x ``width`` result px, ``workers`` at a time, the
    whole done ``fits`` times (``uncertainty=K``); ``stitched``: the bytes of the blended images the run keeps
    besides its fits."""
    threads = torch.get_num_threads()
    try:
        # Tiles side by side share the CPU's threads, so each is timed on its share.
        torch.set_num_threads(max(1, threads // workers))
        seconds = time_step(net, fit_cfg, channels, height, width, device)
    finally:
        torch.set_num_threads(threads)
    total = seconds * fit_cfg.iterations * math.ceil(tiles / workers) * fits
    one = estimate_memory(net, height, width, fit_cfg.precision)
    return Estimate(estimate_step_flops(net, channels, height, width), seconds, one, total,
                    one * min(workers, tiles) + stitched)
