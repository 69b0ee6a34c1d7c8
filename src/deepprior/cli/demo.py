"""``deepprior demo``: denoise the bundled sample and write everything a run writes."""

from __future__ import annotations

import importlib.resources
import pathlib
import shutil

import click

from ..imaging.degrade import add_noise
from ..imaging.io import load_image, save_image
from .restore import run_restore

DEMO_SIGMA = 25
DEMO_MAX_ITERATIONS = 1500


@click.command()
@click.option("--out", "folder", type=click.Path(path_type=pathlib.Path), default=pathlib.Path("deepprior-demo"),
              show_default=True, help="Folder for the demo's images and report (its files are replaced).")
@click.option("--max-iters", type=click.IntRange(min=1), default=DEMO_MAX_ITERATIONS, show_default=True,
              help="Upper bound; the run stops on its own when the output has peaked.")
@click.option("--device", default="auto", show_default=True)
@click.option("--quiet", is_flag=True)
def demo(folder: pathlib.Path, max_iters: int, device: str, quiet: bool) -> None:
    """Denoise the bundled sample (F16 crop, sigma 25) and write images, metrics and plots."""
    folder.mkdir(parents=True, exist_ok=True)
    clean_path, noisy_path = folder / "clean.png", folder / "noisy.png"
    with importlib.resources.as_file(importlib.resources.files("deepprior") / "data" / "sample.png") as p:
        shutil.copyfile(p, clean_path)
    save_image(add_noise(load_image(clean_path), DEMO_SIGMA, seed=0), noisy_path)
    click.echo(f"demo: denoising {noisy_path} (sigma {DEMO_SIGMA}, automatic stop) into {folder}/")
    run_restore("denoise", image=noisy_path, output=folder / "restored.png", gt=clean_path, device=device,
                report=folder, overwrite=True, quiet=quiet, max_iters=max_iters, log_every=25, compare=True)
    click.echo(f"demo done: see {folder}/restored.png, {folder}/comparison.png, {folder}/curves.png")
