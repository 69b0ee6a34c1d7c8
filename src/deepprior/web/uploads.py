"""What the page accepts: image files judged by their content, with a pixel limit checked before decoding.

The browser's file name and type are not trusted: Pillow reads the header to say what the file is, and the
pixel count there is checked before a single pixel is decoded, so a small file that unpacks into gigabytes (a
decompression bomb) is refused at no cost. The byte limit is the server's (``launch(max_file_size=...)``,
HTTP 413); it is checked here too for files that reach the page another way.
"""

from __future__ import annotations

import os
import pathlib
from dataclasses import dataclass

import numpy as np
from PIL import Image

from ..errors import InputError
from ..imaging.io import load_image
from ..imaging.masks import load_mask

#: Formats the page takes, by what Pillow reads in the file, not by its name.
FORMATS = {"PNG": "PNG", "JPEG": "JPEG", "MPO": "JPEG", "TIFF": "TIFF", "WEBP": "WebP", "BMP": "BMP"}


@dataclass(frozen=True)
class Limits:
    """The page's upload limits: bytes per file and pixels per image (width x height)."""

    max_bytes: int = 25 * 2**20
    max_pixels: int = 16_000_000

    def describe(self) -> str:
        size = f"{self.max_bytes / 2**20:g} MB" if self.max_bytes >= 2**20 else f"{self.max_bytes / 1024:.0f} KB"
        return f"up to {size} and {self.max_pixels / 1e6:.3g} megapixels"


def check_file(path: str | os.PathLike, limits: Limits, what: str = "image") -> str:
    """The file's format (PNG, JPEG, ...) after checking its size in bytes and, from the header only, in pixels.
    Raises :class:`InputError` with a message for the page."""
    path = pathlib.Path(path)
    size = path.stat().st_size
    if size > limits.max_bytes:
        raise InputError(f"the {what} is {size / 2**20:.1f} MB; the page takes files {limits.describe()}")
    try:
        with Image.open(path) as im:  # reads the header only
            fmt, (w, h) = im.format, im.size
    except Image.DecompressionBombError:  # Pillow's own header check, for the very largest
        raise InputError(f"the {what} has over {2 * (Image.MAX_IMAGE_PIXELS or 0) / 1e6:.0f} megapixels; the page "
                         f"takes images {limits.describe()}") from None
    except MemoryError:
        raise
    except Exception:  # not an image, or a damaged one: Pillow's plugins raise many kinds of error
        raise InputError(f"the {what} is not an image (PNG, JPEG, TIFF, WebP or BMP)") from None
    if fmt not in FORMATS:
        raise InputError(f"the {what} is a {fmt} file; the page takes PNG, JPEG, TIFF, WebP or BMP")
    if w * h > limits.max_pixels:
        raise InputError(f"the {what} is {w}x{h} px ({w * h / 1e6:.0f} megapixels); the page takes images "
                         f"{limits.describe()}")
    return FORMATS[fmt]


def read_image(path: str | os.PathLike, limits: Limits, what: str = "image") -> np.ndarray:
    """An uploaded image as (H, W, C) float in [0, 1], checked by :func:`check_file` first."""
    check_file(path, limits, what)
    try:
        return load_image(path)
    except InputError as e:
        raise InputError(_without_path(str(e), path, what)) from None


def read_mask(path: str | os.PathLike, limits: Limits) -> np.ndarray:
    """An uploaded mask (white known, black missing) as (H, W) bool, True = known."""
    check_file(path, limits, "mask")
    try:
        return load_mask(path)
    except InputError as e:
        raise InputError(_without_path(str(e), path, "mask")) from None


def _without_path(message: str, path: str | os.PathLike, what: str) -> str:
    """The core's message with the server's temporary path replaced by what the user uploaded."""
    return message.replace(f"{what} {path}", f"the {what}").replace(str(path), f"the {what}")
