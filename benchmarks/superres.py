"""Super-resolution x4: DIP against bicubic (Y-PSNR, the paper's protocol) on zebra and, with --set14, Set14.

Prints per-image Y-PSNR of DIP (fixed paper iterations and auto-stopped) and bicubic next to the paper's
numbers, as JSON and a Markdown table (the ``deepprior bench`` machinery).

    python benchmarks/superres.py --data ../shared/data [--set14] [--quick] [--out bench-out]
"""

from __future__ import annotations

import argparse
import json
import pathlib

from deepprior.bench.protocols import run_protocol
from deepprior.bench.tables import markdown


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=pathlib.Path, default=pathlib.Path("../shared/data"))
    ap.add_argument("--set14", action="store_true", help="also Set14 x4 (long on a CPU; use --quick there)")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--iters", type=int, default=None)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--out", type=pathlib.Path, default=pathlib.Path("bench-out"))
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for name in ["zebra-x4"] + (["set14-x4"] if args.set14 else []):
        res = run_protocol(name, args.data, quick=args.quick, iterations=args.iters, device=args.device)
        (args.out / f"{name}.json").write_text(json.dumps(res, indent=2) + "\n")
        table = markdown(res)
        (args.out / f"{name}.md").write_text(table)
        print(table)


if __name__ == "__main__":
    main()
