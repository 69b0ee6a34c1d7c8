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
