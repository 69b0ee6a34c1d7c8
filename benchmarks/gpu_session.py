"""One call on a lent GPU: the CUDA path end to end, then the speed benchmarks of the speed issue, each stage cut to
what is left of a wall-time budget so that a short lease still returns every finished stage.

    PYTHONPATH=src python3 benchmarks/gpu_session.py --data DATA --out OUTDIR --budget 420

DATA holds the shared images at their usual paths (dip/denoising/F16_GT.png, dip/inpainting/kate*.png). Each
stage writes its own JSON under OUTDIR as it goes; the last lines printed are a short table. On a machine without
CUDA, ``--device cpu --smoke-only`` runs the smoke stage on the CPU (how the script itself is checked).

How the 2026-11-26 lease ran it (an H200 whose Python had PyTorch 2.11 and everything else but PyWavelets): copy
the three images into an ignored ``.gpu_data/`` and a PyWavelets wheel for CPython 3.12 into an ignored ``.whl/``,
carry both, and run ``pip install --no-index --no-deps --target /tmp/site .whl/*.whl;
PYTHONPATH=$PWD/src:/tmp/site python3 benchmarks/gpu_session.py --data .gpu_data --out $OUT --budget 560``.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import subprocess
import sys
import tempfile
import time
import traceback

HERE = pathlib.Path(__file__).resolve().parent


def smoke(device: str, out: pathlib.Path) -> None:
    """Every task through the public API on ``device``, a tiled run, seeded repeatability, the CLI, and the
    memory estimate against the allocator's measured peak."""
    import numpy as np
    import torch

    import deepprior
    from deepprior.fitting import resolve_precision
    from deepprior.jobs import get_preset, resolve_device
    from deepprior.jobs.costs import estimate_memory

    dev = resolve_device(device)
    rng = np.random.default_rng(0)
    img = rng.random((64, 64, 3), dtype=np.float32)
    mask = rng.random((64, 64)) > 0.3
    cases = {"denoise": {}, "inpaint": {"mask": mask}, "fill": {"mask": mask}, "reconstruct": {"mask": mask},
             "superres": {"scale": 2}, "dejpeg": {}, "flash": {"guide": img}}
    report: dict = {"device": str(dev), "torch": torch.__version__, "tasks": {}}
    if dev.type == "cuda":
        report["gpu"] = torch.cuda.get_device_name(dev)
        report["bf16"] = torch.cuda.is_bf16_supported()
    for task, kw in cases.items():
        obs = img[::2, ::2] if task == "superres" else img
        t = time.perf_counter()
        r = deepprior.restore(obs, task, iterations=30, log_every=10, device=device, seed=1, **kw)
        report["tasks"][task] = {"shape": list(r.image.shape), "finite": bool(np.isfinite(r.image).all()),
                                 "seconds": round(time.perf_counter() - t, 2), "precision": r.metrics["precision"],
                                 "device": r.config["device"], "cuda_graph": r.metrics["cuda_graph"],
                                 "events": [h["event"] for h in r.history if h.get("event")][:3]}
    a = deepprior.restore(img, "denoise", iterations=40, device=device, seed=3, tile=None).image
    b = deepprior.restore(img, "denoise", iterations=40, device=device, seed=3, tile=None).image
    report["repeat_max_abs_diff"] = float(np.abs(a - b).max())
    big = rng.random((200, 200, 3), dtype=np.float32)
    r = deepprior.restore(big, "denoise", iterations=20, device=device)
    report["auto_tiles"] = {"tile": r.metrics["tile"], "workers": r.metrics["workers"],
                            "tiles": r.metrics["tiles"], "shape": list(r.image.shape)}
    # The CLI as a user runs it, device auto.
    from PIL import Image

    work = pathlib.Path(tempfile.mkdtemp())  # not under OUT: the lease returns only a few files
    Image.fromarray((big * 255).astype(np.uint8)).save(work / "in.png")
    cmd = [sys.executable, "-m", "deepprior", "denoise", str(work / "in.png"), "-o", str(work / "out.png"),
           "--iters", "50", "--report", str(work / "report"), "--device", "auto"]
    p = subprocess.run(cmd, capture_output=True, text=True)
    cfg = json.loads((work / "report" / "config.json").read_text()) if p.returncode == 0 else {}
    report["cli"] = {"rc": p.returncode, "device": cfg.get("device"), "tail": (p.stdout + p.stderr)[-600:]}
    # The memory estimate (what refuses too-large images) against the peak the allocator saw.
    if dev.type == "cuda":
        report["memory"] = []
        for size, task in ((512, "denoise"), (1024, "denoise"), (512, "inpaint")):
            kw = {"mask": np.ones((size, size), bool)} if task == "inpaint" else {}
            x = rng.random((size, size, 3), dtype=np.float32)
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats(dev)
            base = torch.cuda.memory_allocated(dev)
            deepprior.restore(x, task, iterations=3, log_every=1, preset="paper", device=device, tile=None, **kw)
            peak = torch.cuda.max_memory_allocated(dev) - base
            preset = get_preset(task, variant="paper")
            est = estimate_memory(preset.net, size, size, resolve_precision(preset.fit.precision, dev))
            report["memory"].append({"size": size, "task": task, "peak_gib": round(peak / 2**30, 2),
                                     "estimate_gib": round(est / 2**30, 2)})
    (out / "smoke.json").write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report), flush=True)


def stages(data: pathlib.Path, out: pathlib.Path, device: str) -> list[tuple[str, float, list[str]]]:
    """(name, seconds it may take at most, command), most wanted first."""
    py, ttq, st = sys.executable, str(HERE / "time_to_quality.py"), str(HERE / "step_time.py")
    common = ["--data", str(data), "--device", device]
    return [  # the 512 px denoise is the GPU target, so it comes before the 256 px time-to-quality runs
        ("smoke", 90, [py, __file__, "--smoke-only", "--device", device, "--out", str(out)]),
        ("pytest", 60, [py, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                        *(str(HERE.parent / "tests" / t) for t in ("test_cuda_graph.py", "test_fit.py"))]),
        ("step_time", 100, [py, st, "--device", device, "--sizes", "256", "512", "--rounds", "3", "--steps", "20",
                            "--out", str(out / "step_time.json")]),
        ("ttq_denoise_512", 170, [py, ttq, "--task", "denoise", "--images", "F16-512", "--paper-iters", "3000",
                                  "--max-iters", "3000", "--candidates", "paper", "fast", *common,
                                  "--out", str(out / "ttq_denoise_512.json")]),
        ("ttq_denoise_256", 120, [py, ttq, "--task", "denoise", "--images", "F16-256", "--paper-iters", "3000",
                                 "--max-iters", "3000", "--candidates", "paper", "fast", "fast-eager",
                                 *common, "--out", str(out / "ttq_denoise_256.json")]),
        ("ttq_inpaint_256", 90, [py, ttq, "--task", "inpaint", "--images", "kate-256", "--paper-iters", "4000",
                                 "--max-iters", "4000", "--candidates", "paper", "fast", *common,
                                 "--out", str(out / "ttq_inpaint_256.json")]),
        ("ttq_inpaint_512", 150, [py, ttq, "--task", "inpaint", "--images", "kate-512", "--paper-iters", "4000",
                                  "--max-iters", "4000", "--candidates", "paper", "fast", *common,
                                  "--out", str(out / "ttq_inpaint_512.json")]),
    ]


def ttq_table(out: pathlib.Path) -> list[str]:
    """One line per image and candidate of the time-to-quality JSONs written so far."""
    lines = []
    for f in sorted(out.glob("ttq_*.json")):
        for img in json.loads(f.read_text())["images"]:
            for r in img["runs"]:
                lines.append(f"{img['image']:9} {r['name']:11} target {img['target']:.2f} "
                             f"steps {r['steps_to_target']} s {r['seconds_to_target']} "
                             f"x{r.get('speedup_vs_paper')} returned "
                             f"{r['returned_psnr']:.2f} in {r['seconds']:.1f} s ({r['iterations']} steps)")
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=pathlib.Path, default=pathlib.Path("../shared/data"))
    ap.add_argument("--out", type=pathlib.Path, required=True)
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--budget", type=float, default=420, help="wall seconds for all stages together")
    ap.add_argument("--only", nargs="*", default=None, help="stage names to run (default: all)")
    ap.add_argument("--smoke-only", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    if args.smoke_only:
        smoke(args.device, args.out)
        return
    start, summary = time.perf_counter(), []
    for name, most, cmd in stages(args.data, args.out, args.device):
        if args.only is not None and name not in args.only:
            continue
        left = args.budget - (time.perf_counter() - start) - 5
        if left < 20:
            summary.append((name, "skipped: no time left", 0.0))
            continue
        t = time.perf_counter()
        try:
            p = subprocess.run(cmd, timeout=min(most, left), capture_output=True, text=True)
            status = f"rc {p.returncode}"
            log = p.stdout + p.stderr
        except subprocess.TimeoutExpired as e:
            status = f"cut at {min(most, left):.0f} s"
            log = "".join(x.decode(errors="replace") if isinstance(x, bytes) else x
                          for x in (e.stdout or "", e.stderr or ""))
        except Exception:  # noqa: BLE001 - one broken stage must not cost the others
            status, log = "failed to start", traceback.format_exc()
        seconds = time.perf_counter() - t
        summary.append((name, status, seconds))
        print(f"=== {name}: {status} in {seconds:.0f} s\n{log[-20000:]}", flush=True)
    print("\nstage              status             seconds")
    for name, status, seconds in summary:
        print(f"{name:18} {status:18} {seconds:7.0f}")
    print("\n".join(ttq_table(args.out)))


if __name__ == "__main__":
    main()
