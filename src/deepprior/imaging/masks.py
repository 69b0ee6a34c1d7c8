"""Inpainting masks: generate, validate, load and save.

A mask is a 2-D ``bool`` array of shape ``(H, W)``: ``True`` marks a known pixel, ``False`` a missing one.
On disk it is an 8-bit PNG with white (255) for known and black (0) for missing. Generators take
``size=(W, H)`` (Pillow's order) and a ``seed``; each builds its own ``numpy.random.default_rng(seed)``.
"""

from __future__ import annotations

import numbers
import pathlib

import numpy as np
from PIL import Image, ImageDraw, ImageFont, UnidentifiedImageError

from ..errors import InputError
from .io import atomic_path, upright


def _is_int(v) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def _check_size(size) -> tuple[int, int]:
    try:
        w, h = size
    except (TypeError, ValueError):
        raise InputError(f"mask size must be (width, height); got {size!r}") from None
    for v in (w, h):
        if not _is_int(v) or v <= 0:
            raise InputError(f"mask size must be two positive integers (width, height); got {size!r}")
    return int(w), int(h)


def text_mask(size, text: str, *, font_size: int | None = None, lines: int | None = None, seed: int = 0) -> np.ndarray:
    """Mask with lines of text drawn as missing strokes, like the Deep Image Prior "kate" mask.

    Parameters
    ----------
    size : (int, int)
        Image size as ``(W, H)``.
    text : str
        Words to draw. Without ``"\\n"`` the words are repeated and wrapped so each line spans most of the
        width; with ``"\\n"`` each given line is drawn as is, one per row, cycling if ``lines`` asks for more.
    font_size : int, optional
        Font size in pixels; default ``max(8, round(H / 12))``.
    lines : int, optional
        Number of text rows, spread evenly over the height; default as many as fit with a gap between rows
        (or the number of explicit lines).
    seed : int
        Seed for the horizontal offset and starting word of each row.

    Returns
    -------
    numpy.ndarray
        ``(H, W)`` bool mask, ``False`` under the text.
    """
    w, h = _check_size(size)
    if not isinstance(text, str) or not text.strip():
        raise InputError("mask text is empty; give some words to draw")
    if font_size is None:
        font_size = max(8, round(h / 12))
    if not _is_int(font_size) or font_size < 1:
        raise InputError(f"font size must be a positive integer; got {font_size!r}")
    if font_size > h:
        raise InputError(f"font size {font_size} is larger than the image height {h}; use a smaller font size")
    if lines is not None and (not _is_int(lines) or lines < 1):
        raise InputError(f"number of text lines must be a positive integer; got {lines!r}")

    font = ImageFont.load_default(size=int(font_size))
    # Top offset of the glyph box, so rows are placed by their visible ink rather than the font's ascent.
    _, top, _, bottom = font.getbbox("Ag")
    line_h = max(1, bottom - top)
    explicit = text.split("\n") if "\n" in text else None
    if lines is None:
        lines = len(explicit) if explicit else max(1, h // (2 * line_h))

    rng = np.random.default_rng(seed)
    img = Image.new("L", (w, h), 255)
    draw = ImageDraw.Draw(img)
    draw.fontmode = "1"  # no anti-aliasing: strokes come out pure 0/255, so the mask needs no threshold choice
    words = text.split()
    nxt = int(rng.integers(len(words)))  # wrapping continues the word stream from a random start
    pitch = h / lines
    for i in range(lines):
        x = int(rng.integers(0, max(1, w // 8) + 1))
        if explicit:
            row = explicit[i % len(explicit)]
        else:
            row = words[nxt % len(words)]
            nxt += 1
            # Add words while they fit; a lone word wider than the image is still drawn (clipped).
            while font.getlength(row + " " + words[nxt % len(words)]) <= w - x:
                row += " " + words[nxt % len(words)]
                nxt += 1
        y = round(i * pitch + (pitch - line_h) / 2) - top
        draw.text((x, y), row, fill=0, font=font)
    return np.asarray(img) >= 128


def holes_mask(size, *, count: int = 5, shape: str = "blobs", max_fraction: float = 0.25, seed: int = 0) -> np.ndarray:
    """Mask with ``count`` random holes.

    Parameters
    ----------
    size : (int, int)
        Image size as ``(W, H)``.
    count : int
        Number of holes (they may overlap).
    shape : {"blobs", "rects"}
        ``"blobs"``: randomly rotated ellipses; ``"rects"``: axis-aligned rectangles.
    max_fraction : float
        Largest extent of one hole relative to the image side, in ``(0, 1]``.
    seed : int
        Seed for hole sizes, positions and angles.

    Returns
    -------
    numpy.ndarray
        ``(H, W)`` bool mask, ``False`` inside the holes.
    """
    w, h = _check_size(size)
    if shape not in ("blobs", "rects"):
        raise InputError(f"unknown hole shape {shape!r}; use 'blobs' or 'rects'")
    if not _is_int(count) or count < 1:
        raise InputError(f"hole count must be an integer >= 1; got {count!r}")
    if isinstance(max_fraction, bool) or not isinstance(max_fraction, numbers.Real) or not 0 < max_fraction <= 1:
        raise InputError(f"max hole fraction must be in (0, 1]; got {max_fraction!r}")

    rng = np.random.default_rng(seed)
    known = np.ones((h, w), dtype=bool)
    yy, xx = np.mgrid[0:h, 0:w]
    for _ in range(count):
        if shape == "rects":
            hw = int(rng.integers(1, max(1, int(max_fraction * w)) + 1))
            hh = int(rng.integers(1, max(1, int(max_fraction * h)) + 1))
            x0, y0 = int(rng.integers(0, w - hw + 1)), int(rng.integers(0, h - hh + 1))
            known[y0:y0 + hh, x0:x0 + hw] = False
        else:
            # Semi-axes from the shorter side, so a rotated ellipse never exceeds the cap in either direction.
            r_max = max(1.0, max_fraction * min(w, h) / 2)
            a, b = rng.uniform(1.0, r_max, size=2)
            cx, cy = int(rng.integers(w)), int(rng.integers(h))
            t = rng.uniform(0, np.pi)
            u = (xx - cx) * np.cos(t) + (yy - cy) * np.sin(t)
            v = -(xx - cx) * np.sin(t) + (yy - cy) * np.cos(t)
            known &= (u / a) ** 2 + (v / b) ** 2 > 1  # the centre pixel is always inside, so no hole is empty
    return known


def drop_mask(size, fraction: float, *, seed: int = 0) -> np.ndarray:
    """``(H, W)`` bool mask with each pixel missing independently with probability ``0 <= fraction < 1``."""
    w, h = _check_size(size)
    if isinstance(fraction, bool) or not isinstance(fraction, numbers.Real) or not 0 <= fraction < 1:
        raise InputError(f"drop fraction must be in [0, 1); got {fraction!r}")
    return np.random.default_rng(seed).random((h, w)) >= fraction


def holdout_mask(known: np.ndarray, fraction: float, *, seed: int = 0, stream: int = 1) -> np.ndarray:
    """``fraction`` of the ``known`` pixels, drawn at random, to leave out of a fit and judge it by.

    ``known`` is an ``(H, W)`` bool array (all True for an observation without a mask). The draw has a random
    stream of its own (the seed's child ``stream``: 1 for ``holdout``, 2 for the uncertainty's calibration), so
    it does not repeat the pattern of a :func:`drop_mask` made with the same seed. Returns an ``(H, W)`` bool
    array, True = held out; none when ``fraction`` of the known pixels rounds to 0.
    """
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(stream,)))
    idx = np.flatnonzero(known)
    held = np.zeros(known.shape, dtype=bool)
    held.flat[rng.choice(idx, size=int(round(fraction * idx.size)), replace=False)] = True
    return held


def mask_from_array(arr) -> np.ndarray:
    """Validate a loaded mask array and return it as an ``(H, W)`` bool mask.

    Accepts ``uint8`` or ``bool`` arrays, 2-D or 3-D with 1 or 3 equal channels, holding only the levels
    0/1 or 0/255 (a single level, all-known or all-missing, is fine). Anything else raises
    :class:`~deepprior.errors.InputError`.
    """
    arr = np.asarray(arr)
    if arr.dtype != np.uint8 and arr.dtype != np.bool_:
        raise InputError(f"mask must be 8-bit or boolean; got dtype {arr.dtype} — save it as an 8-bit greyscale PNG")
    if arr.ndim == 3 and arr.shape[2] in (1, 3):
        if arr.shape[2] == 3 and not ((arr[..., 0] == arr[..., 1]).all() and (arr[..., 0] == arr[..., 2]).all()):
            raise InputError("mask RGB channels differ; save it as black-and-white greyscale")
        arr = arr[..., 0]
    if arr.ndim != 2:
        raise InputError(f"mask must be greyscale (H, W) or RGB (H, W, 3); got shape {arr.shape}")
    if arr.size == 0:
        raise InputError(f"mask is empty (shape {arr.shape}); give a non-empty mask")
    if arr.dtype == np.bool_:
        return arr.copy()
    levels = set(np.unique(arr).tolist())
    if not (levels <= {0, 1} or levels <= {0, 255}):
        raise InputError(
            f"mask must be binary (0/255 or 0/1); found {len(levels)} distinct values — threshold it first"
        )
    return arr > 0


def load_mask(path) -> np.ndarray:
    """Read a mask image (modes ``1``, ``L``, ``RGB``, ``P``) and return it as an ``(H, W)`` bool mask."""
    try:
        with Image.open(path) as im:
            im.load()
            im = upright(im)  # as the image it goes with is read
    except (OSError, ValueError, SyntaxError, UnidentifiedImageError, Image.DecompressionBombError) as e:
        raise InputError(f"cannot read mask {path}: {e}") from None  # SyntaxError: Pillow's broken PNG
    except MemoryError:
        raise
    except Exception as e:  # Pillow's plugins raise TypeError, KeyError, struct.error... on damaged files
        raise InputError(f"cannot read mask {path}: the file is damaged ({type(e).__name__} in the decoder)") \
            from None
    if im.mode.startswith("I") or im.mode == "F":
        raise InputError(f"mask {path} has mode {im.mode} (16/32-bit); save it as an 8-bit greyscale PNG")
    if "A" in im.mode:
        raise InputError(f"mask {path} has mode {im.mode} with alpha; save it as greyscale without transparency")
    if im.mode in ("1", "P"):
        # "1" becomes 0/255 and a palette becomes its colours, so both land in the checks below.
        im = im.convert("L" if im.mode == "1" else "RGB")
    if im.mode not in ("L", "RGB"):
        raise InputError(f"mask {path} has unsupported mode {im.mode}; save it as an 8-bit greyscale PNG")
    return mask_from_array(np.asarray(im))


def save_mask(mask, path) -> None:
    """Write ``mask`` as an 8-bit greyscale PNG (255 known, 0 missing), atomically; PNG names only, since a
    lossy format would no longer be binary."""
    m = mask_from_array(mask)
    if pathlib.Path(path).suffix.lower() != ".png":
        raise InputError(f"masks are written as PNG; give {path} a .png name")
    try:
        with atomic_path(path) as tmp:
            Image.fromarray(np.where(m, 255, 0).astype(np.uint8)).save(tmp, format="PNG")
    except OSError as e:
        raise InputError(f"cannot write mask {path}: {e}") from None


def missing_fraction(mask) -> float:
    """Fraction of pixels that are missing (``False``) in ``mask``."""
    return float(1.0 - mask_from_array(mask).mean())
