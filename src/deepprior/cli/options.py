"""The restore commands' options: one per config field, generated from the fields' metadata, plus the few that
are the plan's own (inputs, preset, seed, device, tiles) and the one adapter of the command line's own
``--iters auto|N`` / ``--max-iters``."""

from __future__ import annotations

import dataclasses
import math
import pathlib
import re
from typing import Any, Callable

import click

from ..config import FitConfig, NetConfig
from ..errors import InputError
from ..fields import Meta, meta
from ..imaging.io import MAX_PIXELS
from ..jobs import get_preset
from ..jobs.tasks import Task

Decorator = Callable[[Callable[..., Any]], Callable[..., Any]]
#: Flags of the plan's own arguments, for naming the setting of an error (see :func:`flag_of`).
PLAN_FLAGS = {"tile": "--tile", "overlap": "--overlap", "workers": "--workers", "seed": "--seed",
              "device": "--device", "preset": "--preset", "mask": "--mask", "scale": "--scale", "guide": "--flash",
              "ground_truth": "--gt", "iterations": "--iters", "stop": "--iters", "task": None, "data": "--data",
              "kernel": "--kernel", "max_pixels": "--max-megapixels", "checkpoint_every": "--checkpoint-every"}


class Finite(click.FloatRange):
    """A float option in a range that also refuses nan and inf (which every range comparison lets through)."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        value = super().convert(value, param, ctx)
        if not math.isfinite(value):
            self.fail(f"expected a finite number, got {value!r}", param, ctx)
        return value


class Parsed(click.ParamType):
    """A command-line value turned into a field's value by its parser, checked against its choices."""

    def __init__(self, parse: Callable[[str], Any], metavar: str | None, choices: tuple[str, ...] | None) -> None:
        self.parse, self.metavar, self.choices = parse, metavar, choices
        self.name = parse.__name__

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if not isinstance(value, str):
            return value
        try:
            parsed = self.parse(value)
        except ValueError as e:
            self.fail(str(e), param, ctx)
        for v in parsed if isinstance(parsed, tuple) else (parsed,):
            if self.choices and v not in self.choices:
                self.fail(f"{v!r} is not one of {', '.join(self.choices)}", param, ctx)
        return parsed

    def get_metavar(self, param: click.Parameter, ctx: click.Context | None = None) -> str | None:
        return self.metavar or self.name.upper()


def _shown(value: Any) -> str:
    if isinstance(value, tuple):
        return ",".join(map(_shown, value))
    if isinstance(value, float):
        return f"{value:.4g}"
    return "unset" if value is None else str(value)


def _flags() -> dict[str, str]:
    """Field name -> flag, for every field that has one."""
    return {f.name: meta(f).flag for cls in (NetConfig, FitConfig) for f in dataclasses.fields(cls)
            if meta(f).flag is not None}


def _in_flags(text: str) -> str:
    """A field's help as the command line says it: other fields named by their flags."""
    flags = _flags()
    return re.sub(r"\b[a-z]+(?:_[a-z0-9]+)+\b", lambda m: flags.get(m.group(0), m.group(0)), text)


def _field_option(f: dataclasses.Field, m: Meta, fast: Any, paper: Any) -> Decorator:
    """The option of one field; its help ends with the task's preset values."""
    values = f"fast: {_shown(fast)}; paper: {_shown(paper)}" if fast != paper else f"preset: {_shown(fast)}"
    if fast is _PER_TASK:
        values = "default: the task's preset"
    text = f"{_in_flags(m.help)} [{values}]"
    if m.parse is None:
        return click.option(f"{m.flag}/{m.off}", f.name, default=None, help=text)
    if m.choices and m.parse.__name__ == "word":
        return click.option(m.flag, f.name, type=click.Choice(m.choices), default=None, help=text)
    return click.option(m.flag, f.name, type=Parsed(m.parse, m.metavar, m.choices), default=None, help=text)


def config_options(task: Task) -> list[Decorator]:
    """One option per NetConfig and FitConfig field that has a flag."""
    fast, paper = get_preset(task.name, variant="fast"), get_preset(task.name, variant="paper")
    opts = []
    for cls, part in ((NetConfig, "net"), (FitConfig, "fit")):
        for f in dataclasses.fields(cls):
            m = meta(f)
            if m.flag is not None:
                opts.append(_field_option(f, m, getattr(getattr(fast, part), f.name),
                                          getattr(getattr(paper, part), f.name)))
    return opts


def generic_config_options() -> list[Decorator]:
    """One option per field, for a command of any task (``batch``): the help says the task's preset decides."""
    opts = []
    for cls in (NetConfig, FitConfig):
        for f in dataclasses.fields(cls):
            m = meta(f)
            if m.flag is not None:
                opts.append(_field_option(f, m, _PER_TASK, _PER_TASK))
    return opts


class _PerTask:
    def __str__(self) -> str:
        return "the task's preset"


_PER_TASK = _PerTask()


def config_settings(options: dict[str, Any]) -> dict[str, Any]:
    """The config fields the user set (options left unset are None: the preset decides)."""
    names = {f.name for cls in (NetConfig, FitConfig) for f in dataclasses.fields(cls)}
    return {k: v for k, v in options.items() if k in names and v is not None}


def flag_of(setting: str | None) -> str | None:
    """The option that sets ``setting`` (a config field or a plan argument), if the command line has one."""
    if setting is None:
        return None
    if setting in PLAN_FLAGS:
        return PLAN_FLAGS[setting]
    for cls in (NetConfig, FitConfig):
        for f in dataclasses.fields(cls):
            if f.name == setting:
                return meta(f).flag
    return None


def _auto_or_steps(least: int) -> Callable[[click.Context, click.Parameter, str | None], int | str | None]:
    """An option callback: ``auto`` (or unset) as it is, else a step count of at least ``least``."""
    def parse(ctx: click.Context, param: click.Parameter, value: str | None) -> int | str | None:
        if value is None or value == "auto":
            return value
        try:
            n = int(value)
        except ValueError:
            raise click.BadParameter(f"expected 'auto' or a number of steps, got {value!r}") from None
        if n < least:
            raise click.BadParameter(f"the number of steps must be at least {least}")
        return n
    return parse


_iters = _auto_or_steps(1)
_checkpoint_every = _auto_or_steps(0)  # 0: no checkpoints


def iteration_settings(iters: int | str | None, max_iters: int | None) -> dict[str, Any]:
    """``--iters auto|N`` and ``--max-iters`` as the FitConfig fields they stand for (``iterations``, ``stop``)."""
    if isinstance(iters, int):
        if max_iters is not None:
            raise InputError("--max-iters goes with --iters auto; with --iters N the run takes exactly N steps")
        return {"iterations": iters, "stop": "none"}
    return {"stop": "auto"} if max_iters is None else {"stop": "auto", "iterations": max_iters}


def _tile(ctx: click.Context, param: click.Parameter, value: str) -> int | str | None:
    """``auto``, ``none`` or a size in pixels (at least 16)."""
    if value in ("auto", "none"):
        return None if value == "none" else value
    try:
        size = int(value)
    except ValueError:
        raise click.BadParameter(f"expected auto, none or a size in pixels, got {value!r}") from None
    if size < 16:
        raise click.BadParameter(f"tiles must be at least 16 px, got {size}")
    return size


AUTO_CHECKPOINT, AUTO_CHECKPOINT_S = 200, 180


def run_options() -> list[Decorator]:
    """What every restore command takes besides its inputs and the config fields."""
    path = click.Path(path_type=pathlib.Path)
    return [
        click.option("-o", "--output", required=True, type=path, help="Restored image (png, jpg, tif, bmp, webp)."),
        click.option("--gt", type=path, help="Clean image to score against (never used for fitting)."),
        click.option("--report", type=path,
                     help="Folder for metrics.json, history.csv, config.json, curves.png, comparison.png."),
        click.option("--overwrite", is_flag=True, help="Replace an existing output / report."),
        click.option("--quiet", is_flag=True, help="No estimate, no progress bar."),
        click.option("--compare", is_flag=True,
                     help="Also run what users would pick instead (CBM3D and non-local means, biharmonic "
                          "inpainting, bicubic) on the same input, and report it beside DIP."),
        click.option("--iters", "iters", callback=_iters,
                     help="'auto' (default): stop when the no-reference rule says the result has peaked or "
                          "converged; N: run exactly N steps (the rule's pick is still reported)."),
        click.option("--max-iters", type=click.IntRange(min=1),
                     help="Upper bound for --iters auto (default: the preset's step count)."),
        click.option("--preset", type=click.Choice(["fast", "paper"]), default="fast", show_default=True,
                     help="paper: the published network and settings; fast: changes measured to reach the same "
                          "quality sooner (docs/tasks.md)."),
        click.option("--seed", type=click.IntRange(0, 2**64 - 1), default=0, show_default=True,
                     help="Seed of weights, input and noise."),
        click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or cuda:N."),
        click.option("--tile", default="auto", show_default=True, callback=_tile,
                     help="Overlapping tiles of this size (result pixels), each fitted on its own and blended. "
                          "'auto': as the preset says (fast denoising fits tiles of at most 144 px, one per CPU "
                          "thread at a time) and wherever one fit would not fit in memory; 'none': one fit."),
        click.option("--overlap", type=click.IntRange(min=0),
                     help="Pixels shared by neighbouring tiles (default: 16 for automatic tiles, else an eighth)."),
        click.option("--workers", type=click.IntRange(min=1),
                     help="Tiles fitted at once (default: one per CPU thread; one at a time on a GPU)."),
        click.option("--checkpoint-every", default="auto", show_default=True, callback=_checkpoint_every,
                     help="Save the fit's whole state every N steps into REPORT/checkpoint/ (needs --report), so "
                          "`deepprior resume REPORT` finishes a killed run with the same result; 'auto': every "
                          f"{AUTO_CHECKPOINT} steps when the run is estimated over {AUTO_CHECKPOINT_S // 60} "
                          "minutes and a report is written; 0: never."),
        click.option("--max-megapixels", type=Finite(min=0.0001), default=MAX_PIXELS / 1e6, show_default=True,
                     help="Refuse larger images (read from the file's header, before decoding)."),
        click.option("--engine", type=click.Choice(["local", "ray"]), default="local", show_default=True,
                     help="ray: fit the tiles as Ray tasks (extra [ray]) on a local Ray, or on a cluster with "
                          "--address, and blend them as they return (no step-by-step progress then)."),
        click.option("--address", help="The Ray cluster to join with --engine ray (ray start --head prints it)."),
    ]


def input_options(task: Task) -> list[Decorator]:
    """The task's inputs: the image (or the no-flash photo), and its mask, scale or flash photo."""
    path = click.Path(path_type=pathlib.Path)
    if "guide" in task.needs:
        opts = [click.option("--noflash", "image", required=True, type=path, help="The no-flash photo (the target)."),
                click.option("--flash", "guide", required=True, type=path, help="The flash photo (the network input).")]
    else:
        opts = [click.argument("image", type=path)]
    if "mask" in task.needs:
        opts.append(click.option("--mask", required=True, type=path, help="Mask PNG: white = known, black = missing."))
    if "scale" in task.needs:
        opts.append(click.option("--scale", required=True, type=click.Choice(["2", "4", "8"]),
                                 callback=lambda c, p, v: int(v), help="Upscaling factor."))
    if "kernel" in task.needs:
        opts.append(click.option("--kernel", required=True, metavar="gaussian:SIGMA | motion:LENGTH,ANGLE | FILE",
                                 help="The blur: Gaussian of SIGMA px, a straight motion of LENGTH px at ANGLE "
                                      "degrees, or a kernel drawn as an image (its values are the weights)."))
    return opts


def apply(options: list[Decorator], f: Callable[..., Any]) -> Callable[..., Any]:
    """Decorate ``f`` with ``options``, the first listed first in the help."""
    for opt in reversed(options):
        f = opt(f)
    return f
