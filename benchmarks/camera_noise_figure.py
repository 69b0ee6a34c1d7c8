"""docs/camera_noise.png: on camera noise, where the stop fell before and where it falls now.

Left: one recorded run (kodim03, camera noise of level 15), the stitched EMA's PSNR against the step, the steps
each rule picked and CBM3D beside it. Right: per level, over the 9 crops, what the rule before returned, what
the rule now returns, the run's own peak, non-local means and CBM3D (with the sigma estimated as the package
does; CBM3D also with the best sigma, chosen with the ground truth).

    python benchmarks/camera_noise_figure.py /tmp/camera_record.json docs/bench/camera_noise_stop.json \
        docs/camera_noise.png
"""

from __future__ import annotations

import json
import pathlib
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from camera_noise_replay import image_psnr  # noqa: E402


def main(record_path: str, replay_path: str, out: str, image: str = "kodim03", noise: str = "camera:15") -> None:
    record = json.loads(pathlib.Path(record_path).read_text())
    replay = json.loads(pathlib.Path(replay_path).read_text())
    run = next(r for r in record["runs"] if r["image"] == image and r["noise"] == noise)
    row = next(r for r in replay["rows"] if r["image"] == image and r["noise"] == noise)
    steps = [r["iteration"] for r in run["tiles"][0]["rows"]]
    curve = [image_psnr(run, [s] * len(run["tiles"])) for s in steps]
    fig, (a, b) = plt.subplots(1, 2, figsize=(12, 4))
    a.plot(steps, curve, color="C0", label="DIP, the EMA (stitched tiles)")
    tiles = len(run["tiles"])
    for key, label, color in (("steps_before", "stop before (wavelet level)", "C3"), ("steps", "stop now", "C2")):
        returned = row[key.replace("steps", "returned")]
        a.axvline(row[key] / tiles, color=color, ls="--", lw=1, label=f"{label}: {returned:.2f} dB")
    a.axhline(row["cbm3d_best"], color="gray", lw=0.8, label=f"CBM3D, best sigma: {row['cbm3d_best']:.2f} dB")
    a.axhline(row["cbm3d_package_estimate"], color="gray", ls=":", lw=0.8,
              label=f"CBM3D, estimated sigma: {row['cbm3d_package_estimate']:.2f} dB")
    a.set(xlabel="step (each tile)", ylabel="PSNR (dB)", title=f"{image}, camera noise level {noise.split(':')[1]}",
          xlim=(0, 2000), ylim=(20, max(curve) + 1.5))
    a.legend(fontsize=8)
    levels = [n for n in ("camera:8", "camera:15", "camera:25") if n in replay["summary"]]
    keys = (("returned_before", "DIP, stop before"), ("returned", "DIP, stop now"), ("peak", "DIP, run's peak"),
            ("nlm_package_estimate", "non-local means, estimated sigma"),
            ("cbm3d_package_estimate", "CBM3D, estimated sigma"), ("cbm3d_best", "CBM3D, best sigma"))
    width = 0.14
    for k, (key, label) in enumerate(keys):
        values = [replay["summary"][n][key] for n in levels]
        b.bar([i + (k - 2.5) * width for i in range(len(levels))], values, width, label=label)
    b.set_xticks(range(len(levels)), [f"level {n.split(':')[1]}" for n in levels])
    b.set(ylabel="PSNR (dB), mean of 9 crops", ylim=(19, 32), title="camera noise, 128 px crops of 9 images")
    b.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=110)


if __name__ == "__main__":
    main(*sys.argv[1:4])
