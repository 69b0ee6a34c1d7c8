"""A run's report folder: metrics.json, history.csv, config.json, curves.png, comparison.png, and with an
uncertainty map uncertainty.npy, uncertainty.png and (with a ground truth) reliability.png (docs/report.md)."""

from __future__ import annotations

import pathlib
from typing import Any

import numpy as np

from ..imaging.io import atomic_path
from .files import REPORT_FILES, UNCERTAINTY_FILES, write_history, write_json
from .plots import caption, overlay, plot_comparison, plot_curves, plot_reliability, plot_uncertainty


def write_report(folder: pathlib.Path, *, metrics: dict[str, Any], config: dict[str, Any],
                 history: list[dict[str, Any]], observation: np.ndarray, result: np.ndarray,
                 ground_truth: np.ndarray | None = None,
                 extra: list[tuple[str, np.ndarray]] = (),
                 uncertainty: np.ndarray | None = None) -> list[pathlib.Path]:
    """Write every report file into ``folder`` (created if needed); returns the paths written.

    ``observation`` is the corrupted input at the result's size; ``extra`` adds panels to the comparison figure
    (classical methods, scored from ``metrics["compare"]``); ``uncertainty`` is the run's map (H x W).
    """
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / name for name in REPORT_FILES]
    write_json(paths[0], metrics)
    write_history(paths[1], history)
    write_json(paths[2], config)
    rule = metrics.get("stop_rule")
    stop = f", stopped by the {rule} rule" if rule and metrics["stopped_by"] == rule else ""
    tiles = f" in {metrics['tiles']} tiles" if metrics["tiles"] > 1 else ""
    title = f"{metrics['task']}: {metrics['iterations']} iterations{tiles}, {metrics['seconds']:.0f} s{stop}"
    sigma = metrics["per_tile"][0].get("noise_sigma")
    plot_curves(paths[3], history, title, noise_var=sigma**2 if sigma else None,
                curve=metrics.get("curve") if metrics["tiles"] > 1 else None)
    panels = [] if ground_truth is None else [("ground truth", ground_truth)]
    panels.append((caption("bicubic" if "bicubic" in metrics else "corrupted", metrics.get("input")), observation))
    panels.append((caption(f"restored ({metrics['result']})", metrics.get(metrics["result"])), result))
    for name, img in extra:
        panels.append((caption(name, metrics.get("compare", {}).get(name)), img))
    if uncertainty is not None:
        panels.append(("uncertainty over the result\n(bright: invented)", overlay(result, uncertainty)))
    plot_comparison(paths[4], panels, title)
    if uncertainty is not None:
        paths += [folder / name for name in UNCERTAINTY_FILES]
        with atomic_path(paths[5]) as tmp:
            with open(tmp, "wb") as f:
                np.save(f, uncertainty.astype(np.float32))
        plot_uncertainty(paths[6], uncertainty, f"{metrics['task']}: where the result was invented")
        evaluation = metrics.get("uncertainty", {}).get("evaluation")
        if evaluation and "bins" in evaluation:
            paths.append(folder / "reliability.png")
            plot_reliability(paths[7], evaluation, metrics["task"])
    return paths


__all__ = ["REPORT_FILES", "write_report", "write_json", "write_history"]
