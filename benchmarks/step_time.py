"""Seconds per fitting step of the paper's network, for each way of executing it, interleaved in one process.

Variants run round-robin (one timed block of each per round) so machine noise hits them alike; the ratio
to plain float32 eager (the reference code's way) is what to read. Also reports FLOPs per step (torch's
FlopCounterMode) and the achieved GFLOP/s.

    python benchmarks/step_time.py --sizes 128 256 --rounds 3 --steps 5 --out step_time.json

"fp32 reference loop" adds the per-step bookkeeping of the authors' notebook to plain float32 eager.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import platform
import statistics
import time

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

from deepprior.config import NetConfig
from deepprior.fitting.cuda_graph import WARMUP_STEPS, GraphedStep
from deepprior.jobs import get_preset
from deepprior.nets import build_net, make_input

VARIANTS = {  # name -> (channels_last, autocast dtype, torch.compile, fused Adam)
    "fp32": (False, None, False, False),
    "fp32+channels_last": (True, None, False, False),
    "bf16": (False, torch.bfloat16, False, False),
    "bf16+channels_last": (True, torch.bfloat16, False, False),
    "bf16+channels_last+fused Adam (default)": (True, torch.bfloat16, False, True),
}
COMPILED = {"bf16+channels_last+fused Adam+compile": (True, torch.bfloat16, True, True)}
#: GPU only: half precision with a loss scaler's worth of range (fp16), and float32 with cuDNN's TF32 off (PyTorch
#: runs float32 convolutions in TF32 by default; the reference code's GPUs of 2018 had no TF32).
CUDA_VARIANTS = {"fp16+channels_last+fused Adam": (True, torch.float16, False, True)}
#: GPU only, the fit loop's CUDA graph (deepprior.fitting.cuda_graph): name -> (net, graphed, autocast dtype), with
#: channels_last + fused Adam throughout; "fast net" is the fast denoising preset's thin network.
GRAPH_VARIANTS = {"default+CUDA graph": ("paper", True, torch.bfloat16),
                  "fp32+channels_last+fused Adam+CUDA graph": ("paper", True, None),
                  "fast net": ("fast", False, torch.bfloat16), "fast net+CUDA graph": ("fast", True, torch.bfloat16)}


def make_step(size: int, channels_last: bool, dtype: torch.dtype | None, device: torch.device,
              compiled: bool = False, fused: bool = False, reference_loop: bool = False, tf32: bool = True,
              net_preset: str = "paper", graphed: bool = False):
    """One fitting step of the paper's denoising net on a random target.

    ``reference_loop`` adds what the authors' notebook does every step besides the update: three PSNRs on
    NumPy copies of the output and its EMA (against the noisy and clean images) and a CPU copy of every weight
    for backtracking.
    """
    cfg = NetConfig() if net_preset == "paper" else get_preset("denoise", variant=net_preset).net
    g = torch.Generator().manual_seed(0)
    net = build_net("skip", cfg, 3, generator=g).to(device)
    z = make_input(cfg, size, size, generator=torch.Generator(device=device).manual_seed(0), device=device)
    y = torch.rand((1, 3, size, size), generator=torch.Generator(device=device).manual_seed(1), device=device)
    if channels_last:
        net = net.to(memory_format=torch.channels_last)
        z = z.contiguous(memory_format=torch.channels_last)
    opt = torch.optim.Adam(net.parameters(), lr=0.01, fused=fused, capturable=graphed)
    forward = torch.compile(net) if compiled else net
    y_np = y[0].cpu().numpy()
    jitter = torch.empty(z.shape, device=device)
    state: dict[str, torch.Tensor] = {}
    calls = [0]

    def compute() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        ctx = (torch.autocast(device.type, dtype=dtype, cache_enabled=not graphed) if dtype
               else contextlib.nullcontext())
        with ctx:
            out = forward(z + 0.03 * jitter)  # as in the fit loop (and the reference code)
        loss = (out.float() - y).square().mean()
        return out, loss, loss

    graph = GraphedStep(compute, opt) if graphed else None

    def step() -> None:
        torch.backends.cudnn.allow_tf32 = tf32
        jitter.normal_()
        calls[0] += 1
        if graph is not None and calls[0] > WARMUP_STEPS:
            out, _ = graph.step()
        else:
            out, _, loss = compute()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        torch.backends.cudnn.allow_tf32 = True
        if reference_loop:
            d = out.detach()
            state["avg"] = d if "avg" not in state else state["avg"] * 0.99 + d * 0.01
            for img in (d, d, state["avg"]):
                x = img[0].float().cpu().numpy()
                10 * np.log10(1 / np.mean((x - y_np) ** 2))
            state["last"] = [p.detach().cpu() for p in net.parameters()]

    return step


def flops_per_step(size: int, device: torch.device, net_preset: str = "paper") -> int:
    step = make_step(size, False, None, device, net_preset=net_preset)
    counter = FlopCounterMode(display=False)
    with counter:
        step()
    return counter.get_total_flops()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[128, 256])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--steps", type=int, default=5, help="steps per timed block")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--compile", action="store_true", help="also time torch.compile (slow to warm up)")
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    device = torch.device(args.device)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    info = {"device": torch.cuda.get_device_name(device) if device.type == "cuda" else str(device),
            "threads": torch.get_num_threads(), "torch": torch.__version__, "machine": platform.machine(),
            "rounds": args.rounds, "steps": args.steps}
    results = []
    for size in args.sizes:
        variants = {**VARIANTS, **(CUDA_VARIANTS if device.type == "cuda" else {}),
                    **(COMPILED if args.compile else {})}
        steps = {"fp32 reference loop": make_step(size, False, None, device, reference_loop=True)}
        if device.type == "cuda":
            steps["fp32 without TF32"] = make_step(size, False, None, device, tf32=False)
            steps.update({name: make_step(size, True, dt, device, fused=True, net_preset=net, graphed=gr)
                          for name, (net, gr, dt) in GRAPH_VARIANTS.items()})
        steps.update({name: make_step(size, cl, dt, device, comp, fused)
                      for name, (cl, dt, comp, fused) in variants.items()})
        warmup: dict[str, float] = {}
        for name, step in steps.items():  # warm-up: kernels are picked (or compiled) on the first calls
            t = time.perf_counter()
            for _ in range(WARMUP_STEPS + 2):  # a graphed step captures after WARMUP_STEPS eager ones
                step()
            warmup[name] = time.perf_counter() - t
        times: dict[str, list[float]] = {name: [] for name in steps}
        for _ in range(args.rounds):
            for name, step in steps.items():
                sync()
                t = time.perf_counter()
                for _ in range(args.steps):
                    step()
                sync()
                times[name].append((time.perf_counter() - t) / args.steps)
        flop_of = {net: flops_per_step(size, device, net) for net in ("paper", "fast")}
        base = statistics.median(times["fp32"])
        for name, ts in times.items():
            med = statistics.median(ts)
            flops = flop_of["fast" if name.startswith("fast net") else "paper"]
            results.append({"size": size, "variant": name, "seconds_per_step": round(med, 4),
                            "speedup_vs_fp32": round(base / med, 2), "gflop_per_step": round(flops / 1e9, 1),
                            "gflops": round(flops / med / 1e9, 1), "warmup_seconds": round(warmup[name], 1)})
            print(json.dumps(results[-1]), flush=True)
        if args.out:  # after each size, so a run cut short keeps what it finished
            with open(args.out, "w") as f:
                json.dump({"info": info, "results": results}, f, indent=2)


if __name__ == "__main__":
    main()
