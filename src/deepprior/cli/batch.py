"""``deepprior batch IN_DIR OUT_DIR --task T``: restore every image of a folder, here or on Ray; resumable."""

from __future__ import annotations

import pathlib
import sys
from typing import Any

import click
from tqdm import tqdm

from ..batch import find_items, run_batch
from ..batch.work import check_spec
from ..errors import InputError
from ..jobs import TASKS
from ..jobs.tasks import MASK_TASKS
from . import signals
from .options import Finite, apply, config_settings, generic_config_options, iteration_settings
from .progress import Progress

BATCH_TASKS = [t for t in TASKS if t != "flash"]  # flash needs a second photo per image


def _options() -> list[Any]:
    path = click.Path(path_type=pathlib.Path)
    return [
        click.argument("in_dir", type=path), click.argument("out_dir", type=path),
        click.option("--task", required=True, type=click.Choice(BATCH_TASKS), help="What to restore."),
        click.option("--masks", type=path, help="Folder of masks with the images' relative names (mask tasks)."),
        click.option("--mask-suffix", help="Masks beside the images: photo.jpg's mask is photo_mask.png for "
                                           "--mask-suffix _mask (they are not restored themselves)."),
        click.option("--gt", type=path, help="Folder of clean images with the same relative names: scored."),
        click.option("--scale", type=click.Choice(["2", "4", "8"]), help="Super-resolution factor."),
        click.option("--kernel", help="Deblurring: gaussian:SIGMA, motion:LENGTH,ANGLE or a kernel image."),
        click.option("--recursive", is_flag=True, help="Also the images in subfolders (same layout out)."),
        click.option("--report", is_flag=True, help="A report per image under OUT_DIR/reports/."),
        click.option("--overwrite", is_flag=True,
                     help="Redo images whose output exists but was made with other settings."),
        click.option("--engine", type=click.Choice(["local", "ray"]), default="local", show_default=True,
                     help="local: this machine, no server; ray: Ray tasks (extra [ray]), a local Ray unless "
                          "--address joins a cluster."),
        click.option("--address", help="A Ray cluster to join (ray start --head prints it), e.g. 10.0.0.1:6379."),
        click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True,
                     help="Images at once: local, worker processes sharing the CPU (one GPU each where there are "
                          "GPUs); ray, tasks at once (default there: one per GPU, else one per 4 CPUs)."),
        click.option("--gpus", type=click.IntRange(min=0), help="GPUs of a local Ray (default: detected)."),
        click.option("--retries", type=click.IntRange(min=0), default=3, show_default=True,
                     help="Ray: times an image is retried when its worker dies."),
        click.option("--timeout", type=Finite(min=1), help="Ray: seconds the whole batch may take."),
        click.option("--iters", help="'auto' (default) or exactly N steps per image."),
        click.option("--max-iters", type=click.IntRange(min=1), help="Upper bound for --iters auto."),
        click.option("--preset", type=click.Choice(["fast", "paper"]), default="fast", show_default=True),
        click.option("--seed", type=click.IntRange(0, 2**63 - 1), default=0, show_default=True),
        click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or cuda:N."),
        click.option("--quiet", is_flag=True, help="No progress bars."),
    ]


def batch_command(**kw: Any) -> None:
    """Restore every image of IN_DIR into OUT_DIR (same relative names); OUT_DIR/manifest.jsonl records each.
    Rerunning the same command skips what is done; exit status 1 when an image failed."""
    iters = kw.pop("iters")
    if iters is not None and iters != "auto":
        try:
            iters = int(iters)
        except ValueError:
            raise click.BadParameter(f"expected 'auto' or a number of steps, got {iters!r}",
                                     param_hint="--iters") from None
    task = kw["task"]
    if task in MASK_TASKS and not (kw["masks"] or kw["mask_suffix"]):
        raise InputError(f"{task} needs masks: --masks DIR or --mask-suffix SUFFIX")
    if task == "superres" and kw["scale"] is None:
        raise InputError("superres needs --scale 2, 4 or 8")
    if task == "deblur" and kw["kernel"] is None:
        raise InputError("deblur needs --kernel")
    if kw.get("uncertainty") and not kw["report"]:
        raise InputError("--uncertainty writes each image's map into its report: add --report")
    items = find_items(kw["in_dir"], kw["out_dir"], recursive=kw["recursive"], masks=kw["masks"],
                       mask_suffix=kw["mask_suffix"], gt=kw["gt"], report=kw["report"])
    spec = {"task": task, "preset": kw["preset"], "seed": kw["seed"], "device": kw["device"],
            "scale": None if kw["scale"] is None else int(kw["scale"]), "kernel": kw["kernel"],
            "overwrite": kw["overwrite"],
            "settings": {**config_settings(kw), **iteration_settings(iters, kw["max_iters"])}}
    check_spec(spec)
    kw["out_dir"].mkdir(parents=True, exist_ok=True)
    bar = tqdm(total=len(items), unit="image", disable=kw["quiet"], position=0, dynamic_ncols=True)
    steps = _StepBar(enabled=not kw["quiet"] and kw["engine"] == "local" and kw["workers"] == 1)

    ended = []

    def record(rec: dict[str, Any]) -> None:
        ended.append(rec["status"])
        steps.reset()
        bar.update(1)
        if rec["status"] == "failed":
            tqdm.write(f"failed: {rec['input']}: {rec['error']}", file=sys.stderr)

    try:
        summary = run_batch(items, kw["out_dir"], spec, engine=kw["engine"], workers=kw["workers"],
                            address=kw["address"], gpus=kw["gpus"], retries=kw["retries"], timeout=kw["timeout"],
                            on_record=record, step=steps)
    except KeyboardInterrupt:
        steps.close()
        bar.close()
        click.echo(f"batch interrupted ({signals.received()}) after {len(ended)} of {len(items)} images; the same "
                   f"command goes on where it stopped", err=True)
        sys.exit(signals.exit_status())
    finally:
        steps.close()
        bar.close()
    click.echo(f"batch: {summary.line()}; manifest in {kw['out_dir'] / 'manifest.jsonl'}")
    if summary.failed:
        sys.exit(1)


class _StepBar:
    """The current image's steps beneath the bar over images (one image at a time only): a fresh
    :class:`Progress` per image."""

    def __init__(self, enabled: bool) -> None:
        self.enabled, self.current = enabled, None

    def __call__(self, record: Any) -> None:
        if self.enabled:
            if self.current is None:
                self.current = Progress(None, True, position=1, leave=False)
            self.current(record)

    def reset(self) -> None:
        if self.current is not None:
            self.current.close()
            self.current = None

    close = reset


batch = click.command("batch", help=batch_command.__doc__)(apply(_options() + generic_config_options(),
                                                                 batch_command))
