"""The ``deepprior`` command line: a thin layer over :func:`deepprior.restore`.

User errors (:class:`InputError`, bad options) print one line and exit with status 2; nothing is written.
"""

from __future__ import annotations

import pathlib
import sys
from typing import Any, Callable

import click

from .errors import InputError
from .presets import TASKS, get_preset
from .cli_restore import run_restore

_TASK_HELP = {
    "denoise": "Remove Gaussian noise (paper preset: F16, sigma 25).",
    "inpaint": "Fill text or thin regions given by a mask (paper preset: kate text inpainting).",
    "fill": "Fill large holes: meshgrid input, no skip connections, keeps the best output by loss.",
    "reconstruct": "Reconstruct an image with a random fraction of its pixels missing (paper preset: barbara, 50 %).",
    "superres": "Super-resolution x2/x4/x8 through the paper's Lanczos-2 downsampler (paper preset: zebra).",
    "dejpeg": "Blind removal of JPEG blocking artifacts (paper preset: snail).",
    "flash": "Flash / no-flash: the flash photo is the network input, the no-flash photo the target.",
}


def _tile(ctx: click.Context, param: click.Parameter, value: str) -> int | str | None:
    """Parse --tile: "auto", "none" or a size in pixels (at least 16)."""
    if value in ("auto", "none"):
        return None if value == "none" else value
    try:
        size = int(value)
    except ValueError:
        raise click.BadParameter(f"expected auto, none or a size in pixels, got {value!r}") from None
    if size < 16:
        raise click.BadParameter(f"tiles must be at least 16 px, got {size}")
    return size


def _int_list(ctx: click.Context, param: click.Parameter, value: str | None) -> tuple[int, ...] | None:
    """Parse "128,64,32" or "128x5" (value repeated per scale)."""
    if value is None:
        return None
    try:
        if "x" in value:
            v, n = value.split("x")
            return (int(v),) * int(n)
        return tuple(int(v) for v in value.split(","))
    except ValueError:
        raise click.BadParameter(f"expected a list like 128,128,64 or 128x5, got {value!r}") from None


def _iters(ctx: click.Context, param: click.Parameter, value: str | None) -> int | str | None:
    """``auto`` or a positive step count."""
    if value is None or value == "auto":
        return value
    try:
        n = int(value)
    except ValueError:
        raise click.BadParameter(f"expected 'auto' or a number of steps, got {value!r}") from None
    if n < 1:
        raise click.BadParameter("the number of steps must be at least 1")
    return n


def _betas(ctx: click.Context, param: click.Parameter, value: str | None) -> tuple[float, float] | None:
    """Parse "0.9,0.95" (Adam's two decay rates)."""
    if value is None:
        return None
    try:
        b1, b2 = (float(v) for v in value.split(","))
    except ValueError:
        raise click.BadParameter(f"expected two numbers like 0.9,0.999, got {value!r}") from None
    return b1, b2


def restore_options(needs: tuple[str, ...]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Options shared by every restore command; ``None`` means "keep the preset's value"."""
    if "guide" in needs:
        image = click.option("--noflash", "image", required=True, type=click.Path(path_type=pathlib.Path),
                             help="The no-flash photo (the target).")
    else:
        image = click.argument("image", type=click.Path(path_type=pathlib.Path))
    opts = [
        image,
        click.option("-o", "--output", required=True, type=click.Path(path_type=pathlib.Path),
                     help="Restored image (png, jpg, tif, bmp, webp)."),
        click.option("--gt", type=click.Path(path_type=pathlib.Path), help="Clean image to score against."),
        click.option("--iters", "iterations", callback=_iters,
                     help="'auto' (default): stop when the no-reference rule says the result has peaked or "
                          "converged; N: run exactly N steps (the rule's pick is still reported)."),
        click.option("--max-iters", type=click.IntRange(min=1),
                     help="Upper bound for --iters auto (default: the paper's iteration count)."),
        click.option("--lr", type=float, help="Learning rate."),
        click.option("--adam-betas", "adam_betas", callback=_betas,
                     help="Adam's decay rates B1,B2 (paper: 0.9,0.999; the fast denoising preset shortens them)."),
        click.option("--preset", type=click.Choice(["fast", "paper"]), default="fast", show_default=True,
                     help="paper: the published network and settings; fast: a lighter net and loss where "
                          "measured to reach the same quality sooner."),
        click.option("--seed", type=int, default=0, show_default=True, help="Seed of weights, input and noise."),
        click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or cuda:N."),
        click.option("--report", type=click.Path(path_type=pathlib.Path),
                     help="Folder for metrics.json, history.csv, config.json, curves.png, comparison.png."),
        click.option("--save-every", type=click.IntRange(min=0), help="Save intermediate images every K steps."),
        click.option("--log-every", type=click.IntRange(min=1), help="Steps between logged metrics."),
        click.option("--overwrite", is_flag=True, help="Replace an existing output / report."),
        click.option("--channels-down", callback=_int_list, help="Encoder channels per scale: 128,128,... or 128x5."),
        click.option("--channels-up", callback=_int_list, help="Decoder channels per scale."),
        click.option("--channels-skip", callback=_int_list, help="Skip channels per scale (0 = no skip)."),
        click.option("--kernel-down", type=int, help="Encoder kernel size."),
        click.option("--kernel-up", type=int, help="Decoder kernel size."),
        click.option("--upsample", type=click.Choice(["bilinear", "nearest"]), help="Upsampling mode."),
        click.option("--downsample", type=click.Choice(["stride", "avg", "max"]), help="Downsampling."),
        click.option("--padding", type=click.Choice(["reflection", "zero"]), help="Convolution padding."),
        click.option("--input", "input_type", type=click.Choice(["noise", "meshgrid"]), help="Network input."),
        click.option("--input-channels", type=click.IntRange(min=1), help="Channels of the noise input."),
        click.option("--reg-noise", "reg_noise_std", type=float, help="Std of the per-step input perturbation."),
        click.option("--reg-noise-ramp", "reg_noise_ramp", type=click.IntRange(min=0),
                     help="Steps over which the perturbation rises to --reg-noise (0 = constant)."),
        click.option("--reg-noise-start", "reg_noise_start", type=click.FloatRange(min=0),
                     help="Fraction of --reg-noise the ramp starts from."),
        click.option("--ema", "ema_weight", type=float, help="Weight of the output moving average (0 = off)."),
        click.option("--ema-warmup/--no-ema-warmup", "ema_warmup", default=None,
                     help="Ramp the moving average's weight up as (1 + n) / (10 + n) after n updates, to --ema "
                          "(default: on for fast denoising)."),
        click.option("--noise-sigma", type=click.FloatRange(min=0, min_open=True),
                     callback=lambda c, p, v: None if v is None else v / 255.0,
                     help="Known noise std of the input on the 0-255 scale (denoise estimates it otherwise); "
                          "stops the run when the fit reaches the noise level."),
        click.option("--stop-noise-factor", type=click.FloatRange(min=0, min_open=True),
                     help="Stop once the loss is at most this many times the noise variance (default 1; 1.02 for "
                          "fast denoising)."),
        click.option("--result", type=click.Choice(["ema", "output", "best"]), help="Which image to write."),
        click.option("--precision", type=click.Choice(["auto", "fp32", "bf16", "fp16"]), help="Autocast."),
        click.option("--backtrack/--no-backtrack", default=None, help="Undo loss blow-ups (default on)."),
        click.option("--stop-peak/--no-stop-peak", "stop_peak", default=None,
                     help="Let the automatic stop fire at a peak of the output variance (default: on for noisy "
                          "inputs, off for masks and super-resolution)."),
        click.option("--tv", "tv_weight", type=click.FloatRange(min=0), help="Weight of a total-variation term."),
        click.option("--loss", type=click.Choice(["mse", "rmse"]), help="Data term (rmse: its square root)."),
        click.option("--keep-measured/--no-keep-measured", "keep_measured", default=None,
                     help="Mask tasks: take the known pixels from the input as they are, so the network fills only "
                          "the missing ones (default: on for the fast preset; use --no-keep-measured for a noisy "
                          "input)."),
        click.option("--holdout", type=click.FloatRange(min=0, max=0.5, max_open=True),
                     help="Fraction of the known pixels left out of the fit and used to judge it: the run stops "
                          "when the network's prediction of them stops improving, and returns its best (default 0: "
                          "off; see the README's Stopping)."),
        click.option("--freeze-convs/--train-convs", "freeze_convs", default=None,
                     help="Keep convolutions at their random weights (Deep Random Projector)."),
        click.option("--train-input/--fixed-input", "train_input", default=None,
                     help="Optimise the network input too (Deep Random Projector)."),
        click.option("--input-norm/--no-input-norm", "input_norm", default=None,
                     help="Batch norm on the network input."),
        click.option("--compile/--no-compile", "compile", default=None,
                     help="torch.compile the network (default off: slower on the CPUs measured)."),
        click.option("--cuda-graph/--no-cuda-graph", "cuda_graph", default=None,
                     help="Replay each step as a CUDA graph (default: on for CUDA devices; ignored on CPUs)."),
        click.option("--compare", is_flag=True,
                     help="Also run the classical method users would pick instead (CBM3D and non-local means, "
                          "biharmonic inpainting, bicubic) on the same input, and report it beside DIP."),
        click.option("--tile", default="auto", show_default=True, callback=_tile,
                     help="Overlapping tiles of this size (result pixels), each fitted on its own and blended: for "
                          "images too large for memory. 'auto': as the preset says (fast denoising fits tiles of "
                          "at most 144 px, one per CPU thread at a time); 'none': the whole image in one fit."),
        click.option("--workers", type=click.IntRange(min=1),
                     help="Tiles fitted at once (default: one per CPU thread; one at a time on a GPU)."),
        click.option("--quiet", is_flag=True, help="No progress bar."),
    ]
    if "mask" in needs:
        opts.insert(1, click.option("--mask", required=True, type=click.Path(path_type=pathlib.Path),
                                    help="Mask PNG: white = known, black = missing."))
    if "scale" in needs:
        opts.insert(1, click.option("--scale", required=True, type=click.Choice(["2", "4", "8"]),
                                    callback=lambda c, p, v: int(v), help="Upscaling factor."))
    if "guide" in needs:
        opts.insert(1, click.option("--flash", "guide", required=True, type=click.Path(path_type=pathlib.Path),
                                    help="The flash photo (the network input)."))

    def decorate(f: Callable[..., Any]) -> Callable[..., Any]:
        for opt in reversed(opts):
            f = opt(f)
        return f

    return decorate


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.version_option(package_name="deepprior")
def cli() -> None:
    """Restore damaged images with the Deep Image Prior (no training data, no pretrained weights)."""


def _make_task_command(task: str) -> None:
    @cli.command(task, help=_TASK_HELP[task])
    @restore_options(get_preset(task, variant="paper").needs)
    def command(image: pathlib.Path, **kw: Any) -> None:
        run_restore(task, image, **kw)


for _task in TASKS:
    _make_task_command(_task)


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the CLI, turning user errors into one line on stderr and exit status 2."""
    from . import cli_bench, cli_make  # noqa: F401  (register bench, degrade, mask, demo)

    try:
        cli.main(args=argv, prog_name="deepprior", standalone_mode=False)
    except InputError as e:
        click.echo(f"deepprior: error: {e}", err=True)
        sys.exit(2)
    except (click.exceptions.Abort, KeyboardInterrupt):
        click.echo("deepprior: interrupted before anything was restored", err=True)
        sys.exit(130)
    except click.UsageError as e:  # a bad option or argument: one line, like every other input error
        if type(e).__name__ == "NoArgsIsHelpError":  # a bare command name: its help is the answer
            e.show()
            sys.exit(e.exit_code)
        where = e.ctx.command_path if e.ctx is not None else "deepprior"
        click.echo(f"deepprior: error: {e.format_message()} (see '{where} --help')", err=True)
        sys.exit(2)
    except click.ClickException as e:
        e.show()
        sys.exit(e.exit_code)
    except MemoryError:
        click.echo("deepprior: error: ran out of memory; crop or downscale the image, or use fewer channels",
                   err=True)
        sys.exit(2)
