"""``deepprior bench``: the paper's tables on a folder of images, as JSON and Markdown."""

from __future__ import annotations

import datetime
import json
import os
import pathlib
import platform
import shlex
import sys
from typing import Any

import click
from click.core import ParameterSource

from ..bench.protocols import run_protocol
from ..bench.tables import markdown
from ..imaging.io import atomic_write_text, read_json_lines
from . import signals


@click.command()
@click.argument("protocols", nargs=-1, required=True)
@click.option("--data", type=click.Path(path_type=pathlib.Path), default=pathlib.Path("../shared/data"),
              show_default=True, help="Folder holding benchmarks/ and dip/ (the paper's images).")
@click.option("--quick", is_flag=True, help="Centre crops and fewer images: minutes on 2 CPU cores.")
@click.option("--seeds", type=click.IntRange(min=1), default=1, show_default=True, help="Seeds per image.")
@click.option("--images", type=click.IntRange(min=1), help="Use only the first N images.")
@click.option("--only", metavar="NAMES", default="",
              help="Run only these images, by name, comma-separated (e.g. house,montage: the image files' names "
                   "without _GT.png); a named subset of a protocol whose whole set would take too long.")
@click.option("--iters", "iterations", type=click.IntRange(min=1), help="Fixed-iteration count (default: paper's).")
@click.option("--device", default="auto", show_default=True)
@click.option("--preset", type=click.Choice(["paper", "fast"]), default="paper", show_default=True,
              help="Settings of the DIP runs (the tables are the paper's, so its settings by default).")
@click.option("--out", type=click.Path(path_type=pathlib.Path), default=pathlib.Path("bench-out"), show_default=True,
              help="Folder for PROTOCOL.json and PROTOCOL.md, and PROTOCOL.rows.jsonl, each finished image as it "
                   "ends: a bench run killed part way goes on with the images it had left.")
@click.option("--keep-images", is_flag=True,
              help="Also keep each image's arrays (input, ground truth, DIP's output / EMA / best, the returned "
                   "image) in OUT/PROTOCOL/IMAGE-seedN.npz, float32: about 12 MB per 512 px colour image.")
@click.option("--fresh", is_flag=True, help="Fit every image again, not taking the rows an earlier run left.")
@click.option("--past-stop", type=click.FloatRange(min=1.0), metavar="FACTOR",
              help="End each fit at FACTOR times the step where its automatic stop fired (at least its patience "
                   "after it), not at the step count: whole images in a fraction of the time, the peak past the "
                   "stop still seen, no fixed-iteration column.")
def bench(protocols: tuple[str, ...], data: pathlib.Path, quick: bool, seeds: int, images: int | None,
          iterations: int | None, device: str, preset: str, out: pathlib.Path, fresh: bool,
          past_stop: float | None, keep_images: bool, only: str) -> None:
    """Run paper protocols: denoise9-25, denoise9-50, inpaint11, set14-x4, set14-x8, zebra-x4, kate.

    Each image runs once with the paper's settings for the paper's step count; the automatic stopping rule runs
    alongside and records where it would have stopped, so the table shows the fixed-iteration result, the
    auto-stopped one, the oracle peak and the classical methods on the same input. --past-stop 2 makes whole
    images affordable on a CPU.
    """
    for name in protocols:
        suffix = "-quick" if quick else ""
        rows = out / f"{name}{suffix}.rows.jsonl"
        if fresh:
            rows.unlink(missing_ok=True)
        try:
            result = run_protocol(name, data, quick=quick, seeds=seeds, images=images, device=device,
                                  iterations=iterations, preset=preset, progress=lambda s: click.echo(s, err=True),
                                  rows_file=rows, past_stop=past_stop,
                                  images_dir=out / f"{name}{suffix}" if keep_images else None,
                                  only=tuple(n.strip() for n in only.split(",") if n.strip()))
        except KeyboardInterrupt:
            kept = sum(1 for _ in read_json_lines(rows))
            click.echo(f"bench interrupted ({signals.received()}): {kept} finished images are in {rows}; the same "
                       "command goes on with the rest", err=True)
            sys.exit(signals.exit_status())
        out.mkdir(parents=True, exist_ok=True)
        result = {**provenance(click.get_current_context()), **result}
        atomic_write_text(out / f"{name}{suffix}.json", json.dumps(result, indent=2) + "\n")
        table = markdown(result)
        atomic_write_text(out / f"{name}{suffix}.md", table)
        click.echo(table)


def provenance(ctx: click.Context) -> dict[str, Any]:
    """What a table needs to be remade and compared: the command (the arguments and the options given), this
    machine (its CPU and the vector instructions torch uses: the fits ran about 2.7x faster with AVX-512 than with
    AVX2 alone), the day (UTC). A run that went on from an earlier one's rows gives the day it ended."""
    import torch

    parts = ["deepprior", ctx.info_name or "bench"]
    for param in ctx.command.params:
        if ctx.get_parameter_source(param.name) is not ParameterSource.COMMANDLINE:
            continue
        value = ctx.params[param.name]
        if isinstance(param, click.Argument):
            parts += [str(v) for v in value]
        elif getattr(param, "is_flag", False):
            parts.append(param.opts[-1])
        else:
            parts += [param.opts[-1], str(value)]
    cpu = next((line.split(":", 1)[1].strip() for line in _cpuinfo() if line.startswith("model name")),
               platform.processor() or platform.machine())
    return {"command": shlex.join(parts),
            "machine": f"{cpu} ({torch.backends.cpu.get_cpu_capability()}), {os.cpu_count()} cores, "
                       f"{torch.get_num_threads()} threads, torch {torch.__version__}",
            "date": datetime.datetime.now(datetime.timezone.utc).date().isoformat()}


def _cpuinfo() -> list[str]:
    try:
        return pathlib.Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return []
