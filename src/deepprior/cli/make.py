"""Commands that make inputs: ``degrade`` (simulate a corruption with a known ground truth) and ``mask``
(the mask creator)."""

from __future__ import annotations

import pathlib

import click
import numpy as np

from ..errors import InputError
from ..imaging import masks
from ..imaging.camera import camera_noise as camera_noise_image
from ..imaging.degrade import add_noise, blur_image, centre_crop_multiple, downscale_image, jpeg_roundtrip
from ..imaging.io import load_image, read_kernel, save_image
from .options import Finite
from .paths import check_output_path


@click.command()
@click.argument("clean", type=click.Path(path_type=pathlib.Path))
@click.option("-o", "--output", required=True, type=click.Path(path_type=pathlib.Path), help="Corrupted image.")
@click.option("--noise", type=Finite(min=0, min_open=True),
              help="White Gaussian noise of this std on the 0-255 scale (after --blur, when both are given).")
@click.option("--camera-noise", type=Finite(0, 100, min_open=True), metavar="LEVEL",
              help="Noise as a camera records it, of about LEVEL std (0-255 scale) at mid-grey: shot and read noise "
                   "on a Bayer mosaic, demosaiced (so spatially correlated), the sRGB tone curve and a JPEG at "
                   "quality 90.")
@click.option("--blur", metavar="gaussian:SIGMA | motion:LENGTH,ANGLE | FILE",
              help="Blur with this kernel, the operator deblur inverts (add --noise for a noisy blurred image).")
@click.option("--drop", type=Finite(0, 1, max_open=True), help="Fraction of pixels to drop (Bernoulli).")
@click.option("--mask", type=click.Path(path_type=pathlib.Path), help="Apply an existing mask (black = missing).")
@click.option("--downscale", type=click.Choice(["2", "4", "8"]),
              help="Make a low-resolution input with the Lanczos-2 operator superres uses (after centre-cropping "
                   "to a multiple of the factor).")
@click.option("--jpeg", type=click.IntRange(1, 100), help="Compress as JPEG at this quality (1-100).")
@click.option("--mask-out", type=click.Path(path_type=pathlib.Path), help="Where --drop writes its mask.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the noise or the drop.")
@click.option("--overwrite", is_flag=True, help="Replace existing outputs.")
def degrade(clean: pathlib.Path, output: pathlib.Path, noise: float | None, camera_noise: float | None,
            blur: str | None, drop: float | None, mask: pathlib.Path | None, downscale: str | None,
            jpeg: int | None, mask_out: pathlib.Path | None, seed: int, overwrite: bool) -> None:
    """Simulate a corruption of CLEAN with a known ground truth.

    Exactly one of --noise, --camera-noise, --blur (which may take --noise too), --drop, --mask, --downscale,
    --jpeg.
    """
    given = [v is not None for v in (noise, camera_noise, blur, drop, mask, downscale, jpeg)]
    if sum(given) != 1 and not (blur is not None and noise is not None and sum(given) == 2):
        raise InputError("give exactly one of --noise SIGMA, --camera-noise LEVEL, --blur KERNEL (with or without "
                         "--noise), --drop FRACTION, --mask MASK, --downscale F or --jpeg QUALITY")
    if drop is not None and mask_out is None:
        raise InputError("--drop needs --mask-out MASK.png: restoring needs the mask of dropped pixels")
    if drop is None and mask_out is not None:
        raise InputError("--mask-out goes with --drop only (it writes the mask of the dropped pixels)")
    kernel = read_kernel(blur)
    check_output_path(output, [clean, mask], overwrite=overwrite)
    if mask_out is not None:
        check_output_path(mask_out, [clean, mask, output], overwrite=overwrite)
    img = load_image(clean)
    h, w = img.shape[:2]
    if kernel is not None:
        out = blur_image(img, kernel)
        save_image(out if noise is None else add_noise(out, noise, seed), output)
    elif noise is not None:
        save_image(add_noise(img, noise, seed), output)
    elif camera_noise is not None:
        save_image(camera_noise_image(img, camera_noise, seed), output)
    elif downscale is not None:
        f = int(downscale)
        hr = centre_crop_multiple(img, f)
        if hr.shape[0] < f * 8 or hr.shape[1] < f * 8:
            raise InputError(f"{clean} is too small to downscale by {f}")
        save_image(downscale_image(hr, f), output)
        if hr.shape != img.shape:
            click.echo(f"centre-cropped {w}x{h} to {hr.shape[1]}x{hr.shape[0]} (a multiple of {f}); superres "
                       f"--gt crops the same way")
    elif jpeg is not None:
        save_image(jpeg_roundtrip(img, jpeg), output)
    else:
        known = masks.drop_mask((w, h), drop, seed=seed) if drop is not None else masks.load_mask(mask)
        if known.shape != (h, w):
            raise InputError(f"mask is {known.shape[1]}x{known.shape[0]} but {clean} is {w}x{h}")
        if mask_out is not None:
            masks.save_mask(known, mask_out)
        save_image(img * known[..., None], output)
        click.echo(f"{masks.missing_fraction(known):.1%} of pixels missing")
    click.echo(f"wrote {output}" + (f" and {mask_out}" if mask_out else ""))


def _size(ctx: click.Context, param: click.Parameter, value: str | None) -> tuple[int, int] | None:
    if value is None:
        return None
    try:
        w, h = (int(v) for v in value.lower().split("x"))
    except ValueError:
        raise click.BadParameter(f"expected WxH like 512x384, got {value!r}") from None
    return w, h


def _mask_size(size: tuple[int, int] | None, like: pathlib.Path | None) -> tuple[int, int]:
    if (size is None) == (like is None):
        raise InputError("give the mask size as --size WxH or --like IMAGE (one of them)")
    if like is not None:
        h, w = load_image(like).shape[:2]
        return w, h
    return size  # type: ignore[return-value]


def _mask_command(f):  # shared options of the mask creators
    f = click.option("--overwrite", is_flag=True, help="Replace an existing mask.")(f)
    f = click.option("--seed", type=int, default=0, show_default=True, help="Seed of the placement.")(f)
    f = click.option("--like", type=click.Path(path_type=pathlib.Path), help="Take the size from this image.")(f)
    f = click.option("--size", callback=_size, help="Mask size WxH.")(f)
    f = click.option("-o", "--output", required=True, type=click.Path(path_type=pathlib.Path))(f)
    return f


def _write_mask(known: np.ndarray, output: pathlib.Path, inputs: list, overwrite: bool) -> None:
    check_output_path(output, inputs, overwrite=overwrite)
    masks.save_mask(known, output)
    click.echo(f"wrote {output} ({masks.missing_fraction(known):.1%} missing)")


@click.group()
def mask() -> None:
    """Make masks: white = known, black = missing."""


@mask.command("text")
@click.argument("text")
@_mask_command
@click.option("--font-size", type=click.IntRange(min=4), help="Font size in px (default: height / 12).")
@click.option("--lines", type=click.IntRange(min=1), help="Number of text lines (default: as many as fit).")
def mask_text(text: str, output: pathlib.Path, size, like, seed: int, overwrite: bool, font_size, lines) -> None:
    """TEXT written over the image area, in several lines."""
    wh = _mask_size(size, like)
    _write_mask(masks.text_mask(wh, text, font_size=font_size, lines=lines, seed=seed), output, [like], overwrite)


@mask.command("holes")
@_mask_command
@click.option("--count", type=click.IntRange(min=1), default=5, show_default=True, help="Number of holes.")
@click.option("--shape", type=click.Choice(["blobs", "rects"]), default="blobs", show_default=True)
@click.option("--max-fraction", type=Finite(0, 1, min_open=True), default=0.25, show_default=True,
              help="Largest hole extent as a fraction of the image side.")
def mask_holes(output, size, like, seed, overwrite, count, shape, max_fraction) -> None:
    """Random holes (blobs or rectangles)."""
    wh = _mask_size(size, like)
    known = masks.holes_mask(wh, count=count, shape=shape, max_fraction=max_fraction, seed=seed)
    _write_mask(known, output, [like], overwrite)


@mask.command("drop")
@_mask_command
@click.option("--fraction", type=Finite(0, 1, max_open=True), required=True,
              help="Fraction of pixels missing.")
def mask_drop(output, size, like, seed, overwrite, fraction) -> None:
    """Bernoulli pixel drop: each pixel missing with probability FRACTION."""
    _write_mask(masks.drop_mask(_mask_size(size, like), fraction, seed=seed), output, [like], overwrite)
