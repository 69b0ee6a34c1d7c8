"""Images per hour of ``deepprior batch``: the local engine with 1 and 2 workers and the Ray engine with 2, on
64 and 256 px crops; and one image's tiles as Ray tasks on 1 and 2 workers. Every configuration is the command
a user would type, timed whole (Ray's start included), one after another on the same machine. The Ray runs are
in a loopback-only network namespace (Ray binds the external interface otherwise); run as root. JSON out.

    python benchmarks/batch_throughput.py --data ../shared/data --out docs/bench/batch_throughput.json
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np
from PIL import Image

from deepprior.imaging.degrade import add_noise
from deepprior.imaging.io import load_image

IMAGES = ["F16", "baboon", "hill", "kodim01", "kodim02", "kodim03", "kodim12", "lena", "peppers"]


def crops(data: pathlib.Path, folder: pathlib.Path, size: int, n: int) -> pathlib.Path:
    """``n`` noisy (sigma 25) centre crops of the denoising images, as PNG files in ``folder``."""
    folder.mkdir(parents=True)
    for i, name in enumerate(IMAGES[:n]):
        img = load_image(data / "benchmarks" / "denoise9" / f"{name}_GT.png")
        h, w = img.shape[:2]
        crop = img[(h - size) // 2:(h + size) // 2, (w - size) // 2:(w + size) // 2]
        noisy = add_noise(crop, 25, seed=i)
        Image.fromarray((noisy * 255).round().astype(np.uint8)).save(folder / f"{name}.png")
    return folder


def timed(args: list[str], ray: bool) -> tuple[float, str]:
    cmd = [sys.executable, "-m", "deepprior", *args]
    if ray:
        cmd = ["unshare", "--net", "bash", "-c", "ip link set lo up; exec " + " ".join(cmd)]
    start = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "RAY_USAGE_STATS_ENABLED": "0"})
    seconds = time.perf_counter() - start
    if p.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed: {p.stderr[-2000:]}")
    return seconds, p.stdout


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=pathlib.Path, default=pathlib.Path("../shared/data"))
    ap.add_argument("--sizes", nargs="*", type=int, default=[64, 256])
    ap.add_argument("--count", nargs="*", type=int, default=[8, 4], help="images per size")
    ap.add_argument("--out", type=pathlib.Path)
    args = ap.parse_args()
    root = pathlib.Path(tempfile.mkdtemp(prefix="dp-batch-bench-"))
    rows = []
    configs = [("local", 1, False), ("local", 2, False), ("ray", 2, True)]
    try:
        for size, n in zip(args.sizes, args.count):
            src = crops(args.data, root / f"in{size}", size, n)
            for engine, workers, ray in configs:
                out = root / f"out{size}-{engine}{workers}"
                seconds, _ = timed(["batch", str(src), str(out), "--task", "denoise", "--quiet",
                                    "--engine", engine, "--workers", str(workers)], ray)
                recs = [json.loads(x) for x in (out / "manifest.jsonl").read_text().splitlines()]
                rows.append({"what": "batch", "size": size, "images": n, "engine": engine, "workers": workers,
                             "seconds": round(seconds, 1), "images_per_hour": round(3600 * n / seconds, 1),
                             "steps": [r.get("steps") for r in recs]})
                print(json.dumps(rows[-1]), flush=True)
        big = crops(args.data, root / "big", 256, 1) / "F16.png"
        for workers in (1, 2):
            seconds, stdout = timed(["denoise", str(big), "-o", str(root / f"big{workers}.png"), "--quiet",
                                     "--tile", "96", "--engine", "ray", "--workers", str(workers)], True)
            rows.append({"what": "tiles on ray", "size": 256, "tile": 96, "workers": workers,
                         "seconds": round(seconds, 1), "summary": stdout.strip().splitlines()[0]})
            print(json.dumps(rows[-1]), flush=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    if args.out:
        args.out.write_text(json.dumps({"date": time.strftime("%Y-%m-%d"), "cpus": os.cpu_count(),
                                        "task": "denoise, fast preset, automatic stop, sigma 25", "rows": rows},
                                       indent=2) + "\n")


if __name__ == "__main__":
    main()
