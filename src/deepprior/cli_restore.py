"""What the restore commands do: check paths, load files, run :func:`deepprior.restore`, write the results.

Every check that can fail runs before the fit starts, so a bad input writes nothing.
"""

from __future__ import annotations

import collections
import math
import pathlib
import threading
from typing import Any

import click
import torch
from tqdm import tqdm

from .api import Restoration, build_configs, resolve_device, restore, tile_plan
from .costs import estimate_memory, estimate_step_flops
from .config import replace
from .compare import run_classical
from .errors import InputError
from .fit import StepRecord, resolve_precision
from .io import check_output_path, from_tensor, load_image, save_image
from .masks import load_mask
from .report import REPORT_FILES, write_report

_FIT_OPTIONS = ("iterations", "lr", "adam_betas", "save_every", "log_every", "reg_noise_std", "ema_weight",
                "ema_warmup", "result", "precision", "backtrack", "noise_sigma", "stop_noise_factor", "tv_weight",
                "loss", "compile", "cuda_graph", "train_input", "stop_peak", "reg_noise_start", "reg_noise_ramp",
                "keep_measured", "holdout")
_NET_OPTIONS = ("channels_down", "channels_up", "channels_skip", "kernel_down", "kernel_up", "upsample",
                "downsample", "padding", "input_channels", "freeze_convs", "input_norm")


def check_report_dir(report: pathlib.Path | None, output: pathlib.Path, inputs: list[pathlib.Path | None],
                     overwrite: bool) -> None:
    """Refuse a report folder that cannot be made, would replace an input or the output, or already holds
    a report (unless overwriting)."""
    if report is None:
        return
    for parent in [report, *report.parents]:
        if parent.exists() and not parent.is_dir():
            raise InputError(f"report folder {report} cannot be made: {parent} is a file")
    if report.resolve() == output.resolve():
        raise InputError(f"report folder {report} is the output path; choose another folder")
    for p in [output, *inputs]:
        if p is not None and p.resolve().parent == report.resolve() and p.name in REPORT_FILES:
            raise InputError(f"report folder {report} would overwrite {p}; choose another folder or file name")
    if not overwrite and report.is_dir() and any((report / f).exists() for f in REPORT_FILES):
        raise InputError(f"report folder {report} already holds a report; pass --overwrite or choose another")


def check_steps_dir(folder: pathlib.Path, overwrite: bool) -> None:
    """The ``--save-every`` folder must be creatable, and not hold earlier images unless overwriting."""
    for parent in [folder, *folder.parents]:
        if parent.exists() and not parent.is_dir():
            raise InputError(f"cannot save intermediate images into {folder}: {parent} is a file")
    if not overwrite and folder.is_dir() and any(folder.iterdir()):
        raise InputError(f"{folder} already holds intermediate images; pass --overwrite or choose another output")


class Progress:
    """A tqdm bar fed by the fit's callback: steps, loss and, with a ground truth, PSNR.

    In a tiled run the rows carry a tile index and come from several worker threads; the bar counts the steps of
    all tiles (``total`` is their bound) and closes at the count reached, since tiles may stop early.
    """

    def __init__(self, total: int, enabled: bool) -> None:
        self.total, self.enabled = total, enabled
        self.bar: tqdm | None = None  # opened at the first step, so a refused run shows no empty bar
        self.done: dict[int, int] = {}
        self.lock = threading.Lock()

    def __call__(self, record: StepRecord) -> None:
        row = record.row
        with self.lock:
            if self.bar is None:
                self.bar = tqdm(total=self.total, unit="it", disable=not self.enabled, dynamic_ncols=True,
                                leave=True)
            tile = int(row.get("tile", 0))
            self.bar.update(int(row["iteration"]) - self.done.get(tile, 0))
            self.done[tile] = int(row["iteration"])
            post = {"loss": f"{row['loss']:.2e}"}
            if "tile" in row:
                post = {"tile": str(tile), **post}
            if "psnr_output" in row:
                post["psnr"] = f"{row['psnr_output']:.2f}"
                post["ema"] = f"{row['psnr_ema']:.2f}"
            self.bar.set_postfix(post, refresh=False)

    def close(self) -> None:
        if self.bar is not None:
            if len(self.done) > 1:  # tiles that stopped early leave the bound unreached; end the bar where it is
                self.bar.total = self.bar.n
            self.bar.close()


class StepSaver:
    """Writes the output and EMA every ``save_every`` steps (``--save-every``)."""

    def __init__(self, folder: pathlib.Path) -> None:
        self.folder = folder

    def __call__(self, record: StepRecord) -> None:
        if record.save:
            it = int(record.row["iteration"])
            tile = f"tile{int(record.row['tile']):03d}_" if "tile" in record.row else ""
            save_image(from_tensor(record.output), self.folder / f"{tile}output_{it:06d}.png")
            save_image(from_tensor(record.ema), self.folder / f"{tile}ema_{it:06d}.png")


def run_restore(task: str, image: pathlib.Path, *, output: pathlib.Path, mask: pathlib.Path | None = None,
                scale: int | None = None, guide: pathlib.Path | None = None,
                gt: pathlib.Path | None = None, seed: int = 0, device: str = "auto",
                report: pathlib.Path | None = None, overwrite: bool = False, quiet: bool = False,
                compare: bool = False, tile: int | str | None = "auto", workers: int | None = None,
                preset: str = "fast",
                input_type: str | None = None, **options: Any) -> Restoration:
    """Run one restore command end to end; returns the :class:`Restoration`."""
    inputs = [image, mask, gt, guide]
    check_output_path(output, inputs, overwrite=overwrite)
    check_report_dir(report, output, inputs, overwrite)
    observed = load_image(image)
    known = None if mask is None else load_mask(mask)
    truth = None if gt is None else load_image(gt)
    guide_img = None if guide is None else load_image(guide)
    if truth is not None and truth.shape[2] != observed.shape[2]:
        raise InputError(f"ground truth {gt} has {truth.shape[2]} channel(s) but {image} has {observed.shape[2]}")
    settings = {k: options[k] for k in _FIT_OPTIONS + _NET_OPTIONS if options.get(k) is not None}
    iters, max_iters = settings.pop("iterations", None), options.get("max_iters")
    if isinstance(iters, int):
        if max_iters is not None:
            raise InputError("--max-iters goes with --iters auto; with --iters N the run takes exactly N steps")
        settings.update(iterations=iters, stop="none")
    else:
        settings["stop"] = "auto"
        if max_iters is not None:
            settings["iterations"] = max_iters
    if input_type is not None:
        settings["input"] = input_type

    net_cfg, fit_cfg = build_configs(task, scale=scale, preset=preset, **settings)
    h, w = observed.shape[:2]
    plan = tile_plan(h, w, task, tile=tile, workers=workers, scale=scale, preset=preset, device=device,
                     net=net_cfg, precision=fit_cfg.precision)
    if not quiet:
        _announce(net_cfg, fit_cfg, observed, scale, guide_img, device, plan, workers)
    callbacks: list[Any] = []
    if fit_cfg.save_every:
        steps_dir = (report / "steps") if report else output.with_name(output.stem + "_steps")
        check_steps_dir(steps_dir, overwrite)
        callbacks.append(StepSaver(steps_dir))
    progress = Progress(fit_cfg.iterations * _count_tiles(plan, h, w, scale), enabled=not quiet)
    callbacks.append(progress)
    tiling = {"tile": None} if plan is None else {"tile": plan[0], "overlap": plan[1], "workers": workers}
    try:
        result = restore(observed, task, **tiling, mask=known, scale=scale, guide=guide_img, ground_truth=truth,
                         seed=seed, device=device, callbacks=callbacks, preset=preset, **settings)
    finally:
        progress.close()

    panels: list[tuple[str, Any]] = [] if guide_img is None else [("flash (network input)", guide_img)]
    if compare:
        classical = run_classical(task, observed, mask=known, scale=scale, ground_truth=result.ground_truth)
        result.metrics["compare"] = {k: {n: v for n, v in e.items() if n != "image"} for k, e in classical.items()}
        panels += [(k, e["image"]) for k, e in classical.items()]
    save_image(result.image, output)
    if report is not None:
        write_report(report, metrics=result.metrics, config=result.config, history=result.history,
                     observation=result.baseline, result=result.image,
                     ground_truth=result.ground_truth, extra=panels)
    _summary(result, output, report)
    return result


def _count_tiles(plan: tuple[tuple[int, int], int] | None, h: int, w: int, scale: int | None) -> int:
    """How many tiles a plan of :func:`deepprior.api.tile_plan` cuts an h x w observation into."""
    from .tiling import tile_starts

    if plan is None:
        return 1
    f = scale or 1
    (th, tw), overlap = plan
    return len(tile_starts(h * f, th, overlap)) * len(tile_starts(w * f, tw, overlap))


def _announce(net_cfg: Any, fit_cfg: Any, observed: Any, scale: int | None, guide_img: Any, device: str,
              plan: tuple[tuple[int, int], int] | None, workers: int | None = None) -> None:
    """Before a run: its size, cost per step, memory and time, so a user knows what they started."""
    from .costs import time_step
    from .tiling import default_workers

    h, w, c = observed.shape
    tiles = _count_tiles(plan, h, w, scale)
    if scale:
        h, w = h * scale, w * scale
    if plan is not None:
        h, w = min(h, plan[0][0]), min(w, plan[0][1])
    if guide_img is not None:
        net_cfg = replace(net_cfg, input_channels=guide_img.shape[2])
    threads = torch.get_num_threads()
    try:
        dev = resolve_device(device)
        at_once = min(tiles, workers) if workers else default_workers(tiles, dev)
        flops = estimate_step_flops(net_cfg, c, h, w)
        # Timed on the threads each tile will get: tiles side by side share the CPU's threads.
        torch.set_num_threads(max(1, threads // at_once))
        seconds = time_step(net_cfg, fit_cfg, c, h, w, dev)
    except Exception:  # too small for the net, or no such device: restore() reports it properly
        return
    finally:
        torch.set_num_threads(threads)
    mem = estimate_memory(net_cfg, h, w, resolve_precision(fit_cfg.precision, dev))
    bound = "up to " if fit_cfg.stop == "auto" else ""
    what = f"{tiles} tiles of {w}x{h}" if tiles > 1 else f"{w}x{h}"
    total = seconds * fit_cfg.iterations * math.ceil(tiles / at_once)
    click.echo(f"fitting {what}: about {flops / 1e9:.0f} GFLOP and {seconds:.2g} s per step, "
               f"{mem / 2**30:.1f} GiB of memory; {bound}{fit_cfg.iterations} steps"
               f"{' per tile' if tiles > 1 else ''}, {bound}{_duration(total)} on {dev}", err=True)


def _duration(seconds: float) -> str:
    """12 s, 4.5 min, 2.3 h."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.1f} min" if seconds < 5400 else f"{seconds / 3600:.1f} h"


def _summary(result: Restoration, output: pathlib.Path, report: pathlib.Path | None) -> None:
    m = result.metrics
    reasons = {"peak": "auto-stop: the output had peaked", "converged": "auto-stop: converged",
               "discrepancy": "auto-stop: the fit reached the noise level",
               "validation": "auto-stop: the held-out pixels stopped improving",
               "interrupted": "interrupted", "callback": "stopped by a callback"}
    stop = f", {reasons[m['stopped_by']]}" if m["stopped_by"] in reasons else ""
    if m["stopped_by"] == "tiles":  # each tile stopped on its own: say how, e.g. "discrepancy x2"
        why = collections.Counter(t["stopped_by"] for t in m["tiles"])
        stop = ", tiles stopped by " + ", ".join(f"{k} x{n}" for k, n in why.items())
    line = f"wrote {output} ({m['result']}, {m['iterations']} iterations, {m['seconds']:.1f} s{stop})"
    if "input" in m:
        before, after = m["input"]["gt"]["psnr"], m[m["result"]]["gt"]["psnr"]
        what = "bicubic" if "bicubic" in m else "input"
        line += f"; PSNR vs ground truth: {what} {before:.2f} dB, restored {after:.2f} dB"
    click.echo(line)
    for name, entry in m.get("compare", {}).items():
        score = f", PSNR {entry['gt']['psnr']:.2f} dB" if "gt" in entry else ""
        click.echo(f"  {name}: {entry['seconds']:.1f} s{score}")
    if report is not None:
        click.echo(f"report in {report}/")
    if "tiles" in m:
        th, tw = m["tile"]
        click.echo(f"restored in {len(m['tiles'])} tiles of {tw}x{th} px (overlap {m['overlap']} px, "
                   f"{m['workers']} at a time)")
    if m.get("kept_measured"):
        click.echo("known pixels kept as in the input; the network filled the missing ones (--no-keep-measured: "
                   "its output everywhere)")
    if m["backtracks"]:
        click.echo(f"backtracking undid {m['backtracks']} loss blow-up(s); see history.csv")
    if m.get("cuda_graph_error"):
        click.echo(f"note: CUDA refused to capture the step as a graph ({m['cuda_graph_error']}); the run went on "
                   f"with eager steps, which are slower", err=True)
