"""The restore commands: check the paths, load the files, plan the job, show its estimate, run it, write the
image and the report. Every check that can fail runs before the fit starts, so a bad input writes nothing."""

from __future__ import annotations

import collections
import hashlib
import pathlib
import sys
from typing import Any

import click

from ..errors import InputError
from ..imaging.io import MAX_PIXELS, exif_orientation, load_image, read_kernel, save_image
from ..imaging.masks import load_mask
from ..jobs import Job, Restoration, plan, plan_from_config, run
from ..jobs.checkpoints import CheckpointStore
from ..jobs.compare import compare_classical
from ..jobs.tasks import Task
from ..report import write_json, write_report
from . import signals
from .options import (AUTO_CHECKPOINT, AUTO_CHECKPOINT_S, apply, config_options, config_settings, input_options,
                      iteration_settings, run_options)
from .paths import Reservation, check_output_path, check_report_dir, check_steps_dir, probe_writable
from .progress import Progress, StepSaver

#: The input files of a run, by the name config.json records them under.
SOURCES = ("image", "mask", "guide", "gt")


def restore_command(task: Task) -> click.Command:
    """The command of one task: its inputs, the run options and one option per config field."""
    def command(**kw: Any) -> None:
        run_restore(task.name, **kw)

    command.__doc__ = task.summary
    return click.command(task.name, help=task.summary)(apply(input_options(task) + run_options()
                                                             + config_options(task), command))


def sources_of(paths: dict[str, pathlib.Path | None]) -> dict[str, Any]:
    """The input files as config.json records them: absolute paths and their SHA-256, so a rerun finds them
    and can tell whether they changed."""
    files = {k: str(p.resolve()) for k, p in paths.items() if p is not None}
    return {**files, "sha256": {k: hashlib.sha256(p.read_bytes()).hexdigest() for k, p in paths.items()
                                if p is not None}}


def run_restore(task: str, *, image: pathlib.Path, output: pathlib.Path, mask: pathlib.Path | None = None,
                scale: int | None = None, guide: pathlib.Path | None = None, kernel: str | None = None,
                gt: pathlib.Path | None = None,
                report: pathlib.Path | None = None, overwrite: bool = False, quiet: bool = False,
                compare: bool = False, iters: int | str | None = None, max_iters: int | None = None,
                preset: str = "fast", seed: int = 0, device: str = "auto", tile: Any = "auto",
                overlap: int | None = None, workers: int | None = None, engine: str = "local",
                address: str | None = None, max_megapixels: float = MAX_PIXELS / 1e6,
                checkpoint_every: int | str = 0, **options: Any) -> Restoration:
    """Run one restore command end to end; returns the :class:`Restoration`."""
    paths = {"image": image, "mask": mask, "guide": guide, "gt": gt}
    check_output_path(output, paths.values(), overwrite=overwrite)
    check_report_dir(report, output, list(paths.values()), overwrite)
    observed = load_image(image, max_pixels=round(max_megapixels * 1e6))
    if not quiet and exif_orientation(image) != 1:
        click.echo(f"note: {image} is turned upright as its EXIF orientation says; a mask or --gt is read the same "
                   f"way, and the result is written upright", err=True)
    settings = {**config_settings(options), **iteration_settings(iters, max_iters)}
    job = plan(observed, task, mask=None if mask is None else load_mask(mask), scale=scale,
               guide=None if guide is None else load_image(guide), kernel=read_kernel(kernel),
               ground_truth=None if gt is None else load_image(gt), preset=preset, seed=seed, device=device,
               tile=tile, overlap=overlap, workers=workers, **settings)
    sources = sources_of(paths) if kernel is None else {**sources_of(paths), "kernel_spec": kernel}
    return execute(job, output=output, report=report, overwrite=overwrite, quiet=quiet, compare=compare,
                   sources=sources, map_tiles=tile_engine(engine, address, workers),
                   checkpoint_every=checkpoint_every)


def tile_engine(engine: str, address: str | None, workers: int | None):
    """``--engine ray``: the tiles as Ray tasks; None: here."""
    if engine != "ray":
        if address is not None:
            raise InputError("--address goes with --engine ray")
        return None
    from ..batch.ray_engine import ray_tiles
    return ray_tiles(address, workers=workers)


def execute(job: Job, *, output: pathlib.Path, report: pathlib.Path | None, overwrite: bool, quiet: bool,
            compare: bool, sources: dict[str, Any], map_tiles: Any = None,
            checkpoint_every: int | str = 0) -> Restoration:
    """Run a planned job as the command line does: estimate, progress, result, report, summary."""
    probe_writable(output, "output")
    if job.fit.uncertainty and report is None:
        raise InputError("--uncertainty writes its map into the report folder (uncertainty.png, .npy): give "
                         "--report DIR", setting="uncertainty")
    if report is not None:
        probe_writable(report / "metrics.json", "report")
    wants = not quiet or (checkpoint_every == "auto" and report is not None)
    est = job.estimate() if wants else None  # a few timed steps: only when shown or needed
    store = checkpoint_store(job, est, report, checkpoint_every, output=output, sources=sources, compare=compare)
    reserved = Reservation(output, overwrite)
    try:
        result = _fit(job, est, output=output, report=report, overwrite=overwrite, quiet=quiet,
                      map_tiles=map_tiles, checkpoints=store)
    except BaseException:
        reserved.release()
        raise
    try:
        result = _write(job, result, reserved, report=report, compare=compare, sources=sources)
    except BaseException:
        reserved.release()  # only while the name still holds our empty file: a written result stays
        raise
    if store is not None:
        store.remove()  # the run is complete
    return result


def checkpoint_store(job: Job, est: Any, report: pathlib.Path | None, every: int | str, *, output: pathlib.Path,
                     sources: dict[str, Any], compare: bool) -> CheckpointStore | None:
    """``--checkpoint-every``: the run's checkpoint folder in its report, with what `deepprior resume` needs."""
    if every == "auto":
        every = AUTO_CHECKPOINT if report is not None and est is not None and est.seconds > AUTO_CHECKPOINT_S else 0
    if not every:
        return None
    if report is None:
        raise InputError("checkpoints are kept in the report folder: give --report", setting="checkpoint_every")
    store = CheckpointStore(report / "checkpoint", int(every))
    run = {"config": job.to_config(), "inputs": {**sources, "compare": compare}, "output": str(output.resolve()),
           "every": int(every)}
    write_json(store.folder / "run.json", run)
    return store


def _fit(job: Job, est: Any, *, output: pathlib.Path, report: pathlib.Path | None, overwrite: bool, quiet: bool,
         map_tiles: Any, checkpoints: CheckpointStore | None) -> Restoration:
    if not quiet:
        announce(job, est)
    tiles = len(job.tiling.tiles)
    callbacks: list[Any] = []
    if job.fit.save_every:
        steps_dir = (report / "steps") if report else output.with_name(output.stem + "_steps")
        check_steps_dir(steps_dir, overwrite)
        callbacks.append(StepSaver(steps_dir, tiles))
    progress = Progress(job.fit.iterations * tiles * max(1, job.fit.uncertainty), enabled=not quiet, tiles=tiles)
    try:
        result = run(job, callbacks=callbacks + [progress], map_tiles=map_tiles, on_tile=progress.tile_done,
                     checkpoints=checkpoints, cancel=signals.watch())
    finally:
        progress.close()
    return result


def _write(job: Job, result: Restoration, reserved: Reservation, *, report: pathlib.Path | None, compare: bool,
           sources: dict[str, Any]) -> Restoration:
    inputs = job.inputs
    panels: list[tuple[str, Any]] = [] if inputs.guide is None else [("flash (network input)", inputs.guide)]
    if compare:
        panels += compare_classical(job, result)
    output = reserved.target()
    if output != reserved.path:
        click.echo(f"deepprior: {reserved.path} appeared during the run; the result goes to {output} instead "
                   f"(--overwrite replaces it)", err=True)
    save_image(result.image, output)
    if report is not None:
        config = {**job.to_config(), "inputs": {**sources, "compare": compare}}
        write_report(report, metrics=result.metrics, config=config, history=result.history,
                     observation=result.baseline, result=result.image, ground_truth=result.ground_truth,
                     extra=panels, uncertainty=result.uncertainty)
    summary(result, output, report)
    if result.metrics["interrupted"]:
        not_run = result.metrics["tiles_not_run"]
        rest = f"; {len(not_run)} tile(s) never ran and keep the input" if not_run else ""
        click.echo(f"deepprior: interrupted ({signals.received()}): wrote the best result so far{rest}", err=True)
        sys.exit(signals.exit_status())
    return result


def announce(job: Job, est: Any) -> None:
    """Before a run: its size, cost per step, memory and time, so a user knows what they started."""
    tiles = len(job.tiling.tiles)
    h, w = job.largest_tile()
    bound = "up to " if job.fit.stop == "auto" else ""
    what = f"{tiles} tiles of {w}x{h}" if tiles > 1 else f"{w}x{h}"
    at_once = min(job.tiling.workers, tiles)
    memory = f"{est.run_memory / 2**30:.1f} GiB of memory" + (f" ({at_once} fits at once)" if at_once > 1 else "")
    click.echo(f"fitting {what}: about {est.flops / 1e9:.0f} GFLOP and {est.step_seconds:.2g} s per step, "
               f"{memory}; {bound}{job.fit.iterations} steps"
               f"{' per tile' if tiles > 1 else ''}, {bound}{duration(est.seconds)} on {job.device}", err=True)


def duration(seconds: float) -> str:
    """12 s, 4.5 min, 2.3 h."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.1f} min" if seconds < 5400 else f"{seconds / 3600:.1f} h"


_REASONS = {"peak": "auto-stop: the output had peaked", "converged": "auto-stop: converged",
            "discrepancy": "auto-stop: the fit reached the noise level",
            "validation": "auto-stop: the held-out pixels stopped improving",
            "interrupted": "interrupted", "callback": "stopped by a callback"}


def summary(result: Restoration, output: pathlib.Path, report: pathlib.Path | None) -> None:
    """What was written and how the run went, in a few lines."""
    m = result.metrics
    stop = f", {_REASONS[m['stopped_by']]}" if m["stopped_by"] in _REASONS else ""
    if m["stopped_by"] == "tiles":  # each tile stopped on its own: say how, e.g. "discrepancy x2"
        why = collections.Counter(t["stopped_by"] for t in m["per_tile"])
        stop = ", tiles stopped by " + ", ".join(f"{k} x{n}" for k, n in why.items())
    line = f"wrote {output} ({m['result']}, {m['iterations']} iterations, {m['seconds']:.1f} s{stop})"
    if "input" in m:
        before, after = m["input"]["gt"]["psnr"], m[m["result"]]["gt"]["psnr"]
        what = "bicubic" if "bicubic" in m else "input"
        line += f"; PSNR vs ground truth: {what} {before:.2f} dB, restored {after:.2f} dB"
    click.echo(line)
    method = m.get("method")
    if method is not None and method["applied"]:
        told = ("the noise's spectrum, read from the input minus DIP's result" if method["cbm3d_noise"] != "level"
                else f"the noise level ({method['cbm3d_sigma'] * 255:.1f})")
        own = m[method["dip_result"]]
        dip = f" (DIP alone {own['gt']['psnr']:.2f} dB)" if "gt" in own else ""
        w = method["dip_weight"]
        mix = (f"the mean of DIP's result{dip} and CBM3D's" if w == 0.5
               else f"{w:g} x DIP's result{dip} + {1 - w:g} x CBM3D's")
        click.echo(f"combined: {mix}, CBM3D told {told}; {method['seconds']:.1f} s (--method dip: DIP alone)")
    elif method is not None:
        click.echo("interrupted: DIP's result alone, without CBM3D's (--method dip+cbm3d)")
    for name, entry in m.get("compare", {}).items():
        score = f", PSNR {entry['gt']['psnr']:.2f} dB" if "gt" in entry else ""
        click.echo(f"  {name}: {entry['seconds']:.1f} s{score}")
    if report is not None:
        click.echo(f"report in {report}/")
    noise = m["noise"]
    if noise is not None and noise["estimated"]:
        how = ("correlated, as camera noise is: from the flattest blocks" if noise["model"] == "correlated"
               else "white: from the finest scale of each tile")
        click.echo(f"noise: std {noise['sigma'] * 255:.1f} on the 0-255 scale, {how} (flat blocks "
                   f"{noise['flat_blocks'] * 255:.1f}, finest scale {noise['wavelet'] * 255:.1f}; --noise-model, "
                   f"--noise-sigma to set it)")
    if m["tiles"] > 1:
        th, tw = m["tile"]
        click.echo(f"restored in {m['tiles']} tiles of {tw}x{th} px (overlap {m['overlap']} px, "
                   f"{m['workers']} at a time)")
    if m["kept_measured"]:
        click.echo("known pixels kept as in the input; the network filled the missing ones (--no-keep-measured: "
                   "its output everywhere)")
    if "uncertainty" in m:
        u = m["uncertainty"]
        how = (f"calibrated on {u['calibration_values']} measured values left out of the fit"
               if u["calibrated_by"] != "task factor" else "scaled by the task's measured factor")
        judged = u.get("evaluation", {})
        vs = (f"; against the ground truth: rank correlation {judged['spearman_7x7']:.2f} (7x7), calibration ratio "
              f"{judged['calibration_ratio']:.2f}" if "spearman_7x7" in judged else "")
        click.echo(f"uncertainty ({u['method']}): RMS predicted error {u['rms_std'] * 255:.1f} grey levels, {how}"
                   f"{vs}; map in {report}/uncertainty.png")
    if m["backtracks"]:
        click.echo(f"backtracking undid {m['backtracks']} loss blow-up(s); see history.csv")
    if m["cuda_graph_error"]:
        click.echo(f"note: CUDA refused to capture the step as a graph ({m['cuda_graph_error']}); the run went on "
                   f"with eager steps, which are slower", err=True)


def load_sources(sources: dict[str, Any], given: dict[str, pathlib.Path | None]) -> dict[str, pathlib.Path | None]:
    """The input files of a recorded run: those ``given`` instead, else the recorded ones, which must be
    unchanged (same SHA-256)."""
    out: dict[str, pathlib.Path | None] = {}
    for name in SOURCES:
        if given.get(name) is not None:
            out[name] = given[name]
            continue
        if name not in sources:
            out[name] = None
            continue
        path = pathlib.Path(sources[name])
        if not path.is_file():
            raise InputError(f"the run's {name} {path} is gone; give it with --{name}")
        if hashlib.sha256(path.read_bytes()).hexdigest() != sources.get("sha256", {}).get(name):
            raise InputError(f"the run's {name} {path} changed since the run (its SHA-256 differs); give it with "
                             f"--{name} to use it anyway")
        out[name] = path
    return out


def plan_recorded(config: dict[str, Any], files: dict[str, pathlib.Path | None], device: str | None = None) -> Job:
    """The Job a recorded run describes (``rerun``, ``resume``), on its input files."""
    return plan_from_config(config, load_image(files["image"]),
                            mask=None if files["mask"] is None else load_mask(files["mask"]),
                            guide=None if files["guide"] is None else load_image(files["guide"]),
                            ground_truth=None if files["gt"] is None else load_image(files["gt"]), device=device)
