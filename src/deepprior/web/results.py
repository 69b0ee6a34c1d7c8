"""What a finished page run leaves: the restored image and the report as a zip in the session's folder, the
metrics as a table, the classical methods' images."""

from __future__ import annotations

import pathlib
import shutil
from dataclasses import dataclass

import numpy as np

from ..imaging.io import save_image, to_uint8
from ..jobs import Job, Restoration
from ..jobs.compare import compare_classical
from ..report import write_report
from ..report.plots import overlay


@dataclass(frozen=True)
class Outputs:
    """The files to download and what the page shows of a finished run."""

    image: pathlib.Path
    report_zip: pathlib.Path
    table: str
    panels: list[tuple[str, np.ndarray]]
    overlay: np.ndarray | None = None  # the uncertainty map over the result (8-bit RGB), when the run made one


def finish(job: Job, result: Restoration, folder: pathlib.Path, compare: bool) -> Outputs:
    """Write ``restored.png`` and ``report.zip`` (the CLI's report folder) into ``folder``; run the classical
    comparison first when asked."""
    panels = compare_classical(job, result) if compare else []
    image = folder / "restored.png"
    save_image(result.image, image)
    report = folder / "report"
    config = {**job.to_config(), "inputs": {"source": "web page upload", "compare": compare}}
    write_report(report, metrics=result.metrics, config=config, history=result.history,
                 observation=result.baseline, result=result.image, ground_truth=result.ground_truth,
                 extra=panels, uncertainty=result.uncertainty)
    save_image(result.image, report / "restored.png")
    archive = pathlib.Path(shutil.make_archive(str(folder / "report"), "zip", root_dir=report))
    shown = None if result.uncertainty is None else to_uint8(overlay(result.image, result.uncertainty))
    return Outputs(image, archive, metrics_table(result.metrics), panels, shown)


def metrics_table(m: dict) -> str:
    """The run in a Markdown table: the input, the result and the classical methods, scored against the ground
    truth when there is one, else against the input."""
    against = "gt" if "gt" in m.get(m["result"], {}) else "observation"
    head = "ground truth" if against == "gt" else "the input (no ground truth given)"
    rows = ["| | PSNR (dB) | SSIM | seconds |", "|---|---|---|---|"]

    def line(name: str, entry: dict | None, seconds: str) -> None:
        score = (entry or {}).get(against) or {}
        psnr = f"{score['psnr']:.2f}" if score.get("psnr") is not None else "-"
        ssim = f"{score['ssim']:.3f}" if score.get("ssim") is not None else "-"
        rows.append(f"| {name} | {psnr} | {ssim} | {seconds} |")

    if "input" in m:
        line("bicubic" if "bicubic" in m else "input", m["input"], "")
    line(f"deepprior ({m['result']})", m.get(m["result"]), f"{m['seconds']:.1f}")
    for name, entry in m.get("compare", {}).items():
        line(name, entry, f"{entry['seconds']:.1f}")
    stop = "cancelled" if m["stopped_by"] == "interrupted" else m["stopped_by"]
    facts = [f"scored against {head}", f"{m['iterations']} steps, stopped by: {stop}",
             f"device {m['device']}, preset {m['preset']}, seed {m['seed']}"]
    noise = m.get("noise")
    if noise and noise.get("sigma"):
        facts.append(f"noise: std {noise['sigma'] * 255:.1f} (0-255), {noise['model']}"
                     + (" (estimated)" if noise.get("estimated") else ""))
    u = m.get("uncertainty")
    if u:
        judged = u.get("evaluation", {})
        facts.append(f"uncertainty: RMS predicted error {u['rms_std'] * 255:.1f} grey levels ({u['method']})"
                     + (f", rank correlation with the true error {judged['spearman_7x7']:.2f}, calibration ratio "
                        f"{judged['calibration_ratio']:.2f}" if "spearman_7x7" in judged else ""))
    return "\n".join(rows) + "\n\n" + "; ".join(facts)
