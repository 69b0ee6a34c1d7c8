"""The report's figures: curves.png (PSNR, SSIM, loss against the step) and comparison.png (the images side by
side, with their centres enlarged). matplotlib is imported when a figure is drawn, with its Agg backend."""

from __future__ import annotations

import pathlib
from typing import Any

import numpy as np

from ..imaging.io import atomic_path


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_curves(path: pathlib.Path, history: list[dict[str, Any]], title: str = "",
                noise_var: float | None = None, curve: list[dict[str, Any]] | None = None) -> None:
    """PSNR, SSIM and loss against iteration (ground-truth curves only when the run had one, held-out pixels'
    when it held some out); the noise level (the discrepancy stop's threshold) on the loss plot when known.

    Rows carry a ``tile`` index: the observation and loss curves are drawn per tile (the first four), and
    ``curve``, given for a run of several tiles, is the stitched image's PSNR against the ground truth.
    """
    plt = _pyplot()
    logged = [r for r in history if "psnr_obs_output" in r]
    tiles = sorted({int(r.get("tile", 0)) for r in logged})[:4]
    per_tile = {t: [r for r in logged if int(r.get("tile", 0)) == t] for t in tiles}
    rows = per_tile[tiles[0]] if tiles else []
    it = [r["iteration"] for r in rows]
    has_gt = bool(rows) and "psnr_output" in rows[0]
    fig, axes = plt.subplots(1, 3 if has_gt else 2, figsize=(13 if has_gt else 9, 3.6))
    ax = axes[0]
    if curve:
        ax.plot([r["iteration"] for r in curve], [r["psnr_output"] for r in curve], label="output vs GT (stitched)")
        ax.plot([r["iteration"] for r in curve], [r["psnr_ema"] for r in curve], label="EMA vs GT (stitched)")
    elif has_gt:
        ax.plot(it, [r["psnr_output"] for r in rows], label="output vs GT")
        ax.plot(it, [r["psnr_ema"] for r in rows], label="EMA vs GT")
    for t, tr in per_tile.items():
        tile = f"tile {t} " if len(tiles) > 1 else ""
        ax.plot([r["iteration"] for r in tr], [r["psnr_obs_output"] for r in tr], "--",
                label=f"{tile}output vs observation")
        held = [r for r in tr if "psnr_holdout_ema" in r]  # --holdout: what the validation stop reads
        if held:
            ax.plot([r["iteration"] for r in held], [r["psnr_holdout_ema"] for r in held], ":",
                    label=f"{tile}EMA on held-out pixels")
    for r in history:
        if r.get("event"):
            ax.axvline(r["iteration"], color="red", alpha=0.4, lw=0.8)
    ax.set(xlabel="iteration", ylabel="PSNR (dB)", title="PSNR")
    ax.legend(fontsize=8)
    if has_gt:
        scored = [r for r in rows if "ssim_output" in r]  # rows score SSIM only while it is cheap (fit.SSIM_SHARE)
        axes[1].plot([r["iteration"] for r in scored], [r["ssim_output"] for r in scored], label="output")
        axes[1].plot([r["iteration"] for r in scored], [r["ssim_ema"] for r in scored], label="EMA")
        axes[1].set(xlabel="iteration", ylabel="SSIM vs GT", title="SSIM" + (" (tile 0)" if len(tiles) > 1 else ""))
        axes[1].legend(fontsize=8)
    for t, tr in per_tile.items():
        axes[-1].semilogy([r["iteration"] for r in tr], [r["loss"] for r in tr],
                          label=f"tile {t}" if len(tiles) > 1 else "loss")
    if noise_var:
        axes[-1].axhline(noise_var, color="gray", ls="--", lw=0.8, label="noise level")
    if noise_var or len(tiles) > 1:
        axes[-1].legend(fontsize=8)
    axes[-1].set(xlabel="iteration", ylabel="loss (MSE on measured values)", title="loss")
    _finish(fig, title)
    _save_fig(fig, path)


def _finish(fig: Any, title: str) -> None:
    if title:
        fig.suptitle(title)
        fig.tight_layout(rect=(0, 0, 1, 0.92))  # leave room so the title does not cover the panel captions
    else:
        fig.tight_layout()


def plot_comparison(path: pathlib.Path, panels: list[tuple[str, np.ndarray]], title: str = "") -> None:
    """Images side by side with their captions (e.g. ground truth / corrupted / restored).

    A second row repeats the centre of each image at 3x, nearest-neighbour, so fine detail (sharpness against
    bicubic, left-over noise) can be judged without opening the files.
    """
    plt = _pyplot()
    h, w = panels[0][1].shape[:2]
    zoom = min(h, w) >= 48 and all(img.shape[:2] == (h, w) for _, img in panels)
    rows = 2 if zoom else 1
    fig, axes = plt.subplots(rows, len(panels), figsize=(3.2 * len(panels), 3.4 * rows + 0.3), squeeze=False)
    ch, cw = h // 3, w // 3
    for col, (caption, img) in enumerate(panels):
        img = np.clip(img, 0, 1)
        crops = [img, img[h // 2 - ch // 2:h // 2 - ch // 2 + ch, w // 2 - cw // 2:w // 2 - cw // 2 + cw]]
        for row in range(rows):
            ax, im = axes[row][col], crops[row]
            ax.imshow(im[..., 0] if im.shape[-1] == 1 else im, cmap="gray", vmin=0, vmax=1,
                      interpolation="nearest")
            ax.axis("off")
            if row == 0:
                ax.set_title(caption, fontsize=9)
    if zoom:
        axes[1][0].text(0, -2, "centre, 3x", fontsize=8, va="bottom")
    _finish(fig, title)
    _save_fig(fig, path)


def overlay(image: np.ndarray, std: np.ndarray) -> np.ndarray:
    """The image in grey, tinted by the map (magma colours, opacity rising with the predicted error up to its
    99th percentile): what a reader sees as 'invented here'."""
    from matplotlib import colormaps

    grey = np.clip(image, 0, 1).mean(axis=2, keepdims=True) if image.ndim == 3 else np.clip(image, 0, 1)[..., None]
    top = float(np.nanpercentile(std, 99)) if np.isfinite(std).any() else 0.0
    level = np.clip(np.nan_to_num(std, nan=top) / top, 0, 1)[..., None] if top > 0 else np.zeros((*std.shape, 1))
    tint = colormaps["magma"](level[..., 0])[..., :3]
    alpha = 0.75 * level
    return (grey * (1 - alpha) + tint * alpha).astype(np.float32)


def plot_uncertainty(path: pathlib.Path, std: np.ndarray, title: str = "") -> None:
    """uncertainty.png: the map in colour with its scale (the predicted error std, in 0-255 grey levels)."""
    plt = _pyplot()
    h, w = std.shape
    fig, ax = plt.subplots(figsize=(min(9.0, 2.0 + 6.0 * w / max(h, w)), min(7.0, 1.0 + 6.0 * h / max(h, w))))
    shown = ax.imshow(std * 255, cmap="magma", vmin=0, interpolation="nearest")
    ax.axis("off")
    fig.colorbar(shown, ax=ax, fraction=0.046, pad=0.04, label="predicted error std (0-255 levels)")
    _finish(fig, title)
    _save_fig(fig, path)


def plot_reliability(path: pathlib.Path, evaluation: dict[str, Any], title: str = "") -> None:
    """reliability.png: predicted against actual error in bins of predicted variance (on the diagonal: calibrated),
    over all pixels and, for a masked input, over the missing ones."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(4.8, 4.4))
    sets = [("all pixels", evaluation)] + ([("missing pixels", evaluation["missing"])] if "missing" in evaluation
                                           else [])
    top = 1e-6
    for name, ev in sets:
        bins = [b for b in ev.get("bins", []) if b["predicted_variance"] > 0]
        if not bins:
            continue
        pred = [255 * b["predicted_variance"] ** 0.5 for b in bins]
        real = [255 * b["mse"] ** 0.5 for b in bins]
        top = max(top, *pred, *real)
        ax.plot(pred, real, "o-", label=f"{name}: ratio {ev['calibration_ratio']:.2f}, "
                                        f"Spearman 7x7 {ev['spearman_7x7']:.2f}")
    ax.plot([0, top], [0, top], "--", color="gray", lw=0.8, label="calibrated")
    ax.set(xlabel="predicted error std (0-255)", ylabel="actual RMS error (0-255)", title="reliability")
    ax.legend(fontsize=7)
    _finish(fig, title)
    _save_fig(fig, path)


def _save_fig(fig: Any, path: pathlib.Path) -> None:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    fig.clear()
    import matplotlib.pyplot as plt

    plt.close(fig)


def caption(name: str, scores: dict[str, Any] | None) -> str:
    if not scores or "gt" not in scores:
        return name
    s = scores["gt"]
    return f"{name}\nPSNR {s['psnr']:.2f} dB, SSIM {s['ssim']:.3f}"
