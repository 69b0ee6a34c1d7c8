"""Measured peak memory of a short fit against ``estimate_memory`` (the check that refuses too-large images).

Each case runs in a fresh process (peak RSS is per process); prints one JSON line per case.

    python benchmarks/memory.py            # 256 / 384 px, fp32 / bf16, denoise / inpaint
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys

CASES = [(256, "fp32", "denoise"), (256, "bf16", "denoise"), (384, "bf16", "denoise"), (256, "bf16", "inpaint")]


def measure(size: int, precision: str, task: str) -> dict:
    import numpy as np

    import deepprior
    from deepprior.jobs import get_preset
    from deepprior.jobs.costs import estimate_memory

    img = np.random.default_rng(0).random((size, size, 3), dtype=np.float32)
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    kw = {"mask": np.ones((size, size), bool)} if task != "denoise" else {}
    deepprior.restore(img, task, iterations=2, log_every=1, precision=precision, check_memory=False, tile=None,
                      **kw)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    net = get_preset(task).net
    est = estimate_memory(net, size, size, precision)
    return {"size": size, "precision": precision, "task": task, "measured_mib": (peak - base) // 2**20,
            "estimate_mib": est // 2**20, "ratio": round(est / max(peak - base, 1), 2)}


if __name__ == "__main__":
    if len(sys.argv) == 4:
        print(json.dumps(measure(int(sys.argv[1]), sys.argv[2], sys.argv[3])))
    else:
        for case in CASES:
            subprocess.run([sys.executable, __file__, *map(str, case)], check=True)
