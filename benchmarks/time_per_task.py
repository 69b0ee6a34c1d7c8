"""What a user waits for: each task's default command (``fast`` preset, automatic stop) on a realistic size, run
through the CLI as a user runs it, with the wall time, the steps, the tiles and the PSNR against the ground
truth. JSON out; the README's "What to expect" comes from it.

    python benchmarks/time_per_task.py --data ../shared/data --out docs/bench/time_per_task.json
"""

from __future__ import annotations

import argparse
import json
import pathlib
import platform
import subprocess
import sys
import tempfile
import time

import torch
from PIL import Image

#: name -> (clean image below --data/dip, crop box or None, corruption args of `degrade`, restore command args)
CASES = {
    "denoise F16 512 px, sigma 25": ("denoising/F16_GT.png", None, ["--noise", "25"], ["denoise"]),
    "inpaint kate 256 px, text mask": ("inpainting/kate.png", (128, 128, 384, 384), "mask", ["inpaint"]),
    "reconstruct barbara 256 px, 50 %": ("restoration/barbara.png", (128, 128, 384, 384), ["--drop", "0.5"],
                                         ["reconstruct"]),
    "superres zebra x4 to 256x160": ("sr/zebra_crop.png", None, ["--downscale", "4"], ["superres", "--scale", "4"]),
}


def _cli(*args: object, cwd: pathlib.Path) -> str:
    p = subprocess.run([sys.executable, "-m", "deepprior", *map(str, args)], cwd=cwd, capture_output=True, text=True)
    if p.returncode:
        raise SystemExit(p.stderr)
    return p.stderr


def run_case(name: str, data: pathlib.Path, work: pathlib.Path) -> dict:
    image, box, corruption, command = CASES[name]
    with Image.open(data / "dip" / image) as im:
        (im.crop(box) if box else im).save(work / "clean.png")
    extra: list[str] = []
    if corruption == "mask":
        with Image.open(data / "dip" / image.replace(".png", "_mask.png")) as im:
            (im.crop(box) if box else im).save(work / "mask.png")
        _cli("degrade", "clean.png", "--mask", "mask.png", "-o", "input.png", "--overwrite", cwd=work)
        extra = ["--mask", "mask.png"]
    elif corruption[0] == "--drop":
        _cli("degrade", "clean.png", *corruption, "--mask-out", "mask.png", "-o", "input.png", "--overwrite",
             cwd=work)
        extra = ["--mask", "mask.png"]
    else:
        _cli("degrade", "clean.png", *corruption, "-o", "input.png", "--overwrite", cwd=work)
    start = time.perf_counter()
    err = _cli(*command, "input.png", *extra, "--gt", "clean.png", "-o", "out.png", "--report", "report",
               "--overwrite", cwd=work)
    seconds = time.perf_counter() - start
    m = json.loads((work / "report" / "metrics.json").read_text())
    config = json.loads((work / "report" / "config.json").read_text())
    w, h = config["image_size"][:2]
    mp = w * h * (config["scale"] or 1) ** 2 / 1e6  # of the result
    return {"case": name, "result_megapixels": round(mp, 4), "seconds": round(seconds, 1),
            "seconds_per_megapixel": round(seconds / mp, 1), "iterations": m["iterations"], "tiles": m["tiles"],
            "stopped_by": m["stopped_by"], "psnr_input": round(m["input"]["gt"]["psnr"], 2),
            "psnr_restored": round(m[m["result"]]["gt"]["psnr"], 2),
            "estimate": next((x for x in err.splitlines() if x.startswith("fitting")), "")}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=pathlib.Path, default=pathlib.Path("../shared/data"))
    ap.add_argument("--cases", nargs="*", default=list(CASES))
    ap.add_argument("--out", type=pathlib.Path)
    args = ap.parse_args()
    out = {"machine": platform.processor() or platform.machine(), "torch": torch.__version__,
           "threads": torch.get_num_threads(), "runs": []}
    for name in args.cases:
        with tempfile.TemporaryDirectory() as tmp:
            out["runs"].append(run_case(name, args.data.resolve(), pathlib.Path(tmp)))
        print(json.dumps(out["runs"][-1]), flush=True)
        if args.out:
            args.out.write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
