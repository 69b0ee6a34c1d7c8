"""What a fit will cost before it starts: memory, FLOPs and seconds per step.

The CLI prints these before a long run, and :func:`deepprior.restore` refuses images whose memory estimate
exceeds what the device has free.
"""

from __future__ import annotations

import torch

from .config import FitConfig, NetConfig, replace
from .nets import build_net, make_input


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
    from torch.utils.flop_counter import FlopCounterMode

    side = 2**net.scales * 2
    proxy = build_net("skip", net, out_channels, generator=torch.Generator().manual_seed(0))
    z = torch.zeros(1, net.in_channels, side, side)
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        proxy(z)
    return 3.0 * counter.get_total_flops() * height * width / side**2


def time_step(net: NetConfig, fit_cfg: FitConfig, out_channels: int, height: int, width: int,
              device: torch.device, proxy: int = 256) -> float:
    """Seconds per fitting step at ``height`` x ``width``, timed on a proxy of at most ``proxy`` px a side.

    Runs four steps of the real loop (:func:`deepprior.fit.fit`, same precision and layout) on random data and
    scales the time of the last three by the pixel count. A rough guide, not a promise: on the 2-core CPU the
    paper's denoising network came out at 2.7 s for 512 px where the loop measured 2.7-3.9 s, and the fast preset
    at 24 s for a 4000x3000 photo that then ran at 42 s per step (larger images run slower per pixel, here
    also with memory nearly full).
    """
    from .cuda_graph import WARMUP_STEPS
    from .fit import fit
    from .operators import make_operator

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
    result = fit(y, make_operator("identity").to(device), model, z, cfg, generator=gen)
    start = next(r["seconds"] for r in result.history if r["iteration"] == first)
    per_step = (result.seconds - start) / (cfg.iterations - first)
    return per_step * height * width / (ph * pw)
