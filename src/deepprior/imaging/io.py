"""Reading and writing images, atomic file writes, and array/tensor conversion.

Images are float32 arrays in [0, 1] of shape (H, W, C), C = 3 (RGB) or 1 (greyscale).
:func:`load_image` applies this policy to Pillow modes:

- ``RGB`` is used as is; ``RGBX``, ``CMYK``, ``YCbCr``, ``LAB`` and ``HSV`` are converted to RGB.
- ``L`` gives one channel, so greyscale images are restored as greyscale; ``1`` (bilevel) is read as ``L``.
- ``P`` (palette) is converted to RGB. A palette with transparency is treated like RGBA below.
- ``RGBA``, ``LA`` and ``PA``: a fully opaque alpha (all 255) is dropped; any transparent pixel is refused,
  because what lies behind it is undefined; flatten it onto a background first.
- 16- and 32-bit modes (``I;16*``, ``I``, ``F``) and 16-bit colour files (48-bit PNG, 16-bit RGB TIFF, which
  Pillow would open as 8-bit RGB) are refused: silently dropping to 8 bits would lose data.
- Sides shorter than :data:`MIN_SIDE` px are refused: the network downsamples several times.

EXIF orientation is applied, as viewers apply it, so a portrait phone photo is restored upright; masks and
reference images are read the same way (:func:`exif_orientation` says whether a file has one). The written
image carries no orientation tag: its pixels are upright.
"""

from __future__ import annotations

import contextlib
import json
import os
import pathlib
import tempfile
import warnings
from collections.abc import Iterator

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from ..errors import InputError
from ..operators import parse_kernel

MIN_SIDE = 8
FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".tif": "TIFF", ".tiff": "TIFF", ".bmp": "BMP",
           ".webp": "WEBP"}
ORIENTATION = 0x0112  # the EXIF tag
_TO_RGB = {"RGBX", "CMYK", "YCbCr", "LAB", "HSV"}
_WITH_ALPHA = {"RGBA": "RGB", "PA": "RGB", "LA": "L"}


#: Our own limit on the pixels of an input, below Pillow's decompression-bomb warning (89 megapixels), checked
#: from the file's header before a pixel is decoded; ``load_image(max_pixels=...)`` (``--max-megapixels``).
MAX_PIXELS = 80_000_000


def load_image(path: str | os.PathLike, max_pixels: int | None = MAX_PIXELS) -> np.ndarray:
    """Read an image file as float32 in [0, 1], shape (H, W, C) with C in {1, 3}.

    Parameters
    ----------
    path : str or path-like
        The image file; any format Pillow reads (one frame: an animation or multi-page file is refused).
    max_pixels : int or None
        Refuse images of more pixels, from the header, before decoding (None: Pillow's own limit only).

    Returns
    -------
    numpy.ndarray
        float32 array of shape (H, W, 3) or (H, W, 1); see the module docstring for the mode policy.

    Raises
    ------
    InputError
        If the file cannot be read, has an unsupported mode or transparency, or is too small.
    """
    path = pathlib.Path(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # ours is the message that counts
            im = Image.open(path)
        with im:
            _check_pixels(im, path, max_pixels)
            frames = getattr(im, "n_frames", 1)
            if frames > 1:  # an animation or a multi-page TIFF: which frame is meant is not ours to guess
                raise InputError(f"{path} holds {frames} frames ({im.format}); deepprior restores one image: "
                                 f"save the frame you want as a PNG first")
            if _sixteen_bit_colour(im):  # Pillow would read it as 8-bit RGB without a word
                raise InputError(f"{path}: 16-bit images are not supported yet; convert to 8-bit first, "
                                 f"e.g. `magick {path.name} -depth 8 out.png`")
            # open() is lazy; load() inside the try so truncated files are reported here too.
            im.load()
            im = upright(im)
            if min(im.size) < MIN_SIDE:
                raise InputError(f"image {path} is {im.width}x{im.height}; "
                                 f"it must be at least {MIN_SIDE} px on each side")
            arr = np.asarray(_normalise_mode(im, path), dtype=np.float32) / 255.0
    except InputError:
        raise
    except UnidentifiedImageError:
        # Pillow's own message repeats the path; say what it means instead.
        raise InputError(f"cannot read image {path}: not an image format Pillow can read") from None
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise InputError(f"cannot read image {path}: {reason}") from None
    except MemoryError:
        raise
    except Exception as exc:  # Pillow's plugins raise TypeError, KeyError, struct.error... on damaged files
        raise InputError(f"cannot read image {path}: the file is damaged ({type(exc).__name__} in the decoder)") \
            from None
    return arr[:, :, None] if arr.ndim == 2 else arr


def _check_pixels(im: Image.Image, path: pathlib.Path, max_pixels: int | None) -> None:
    w, h = im.size
    if max_pixels is not None and w * h > max_pixels:
        copies = 4 * len(im.getbands()) * w * h * 10  # float32, the input, results and blending sums of a run
        raise InputError(f"{path} is {w}x{h} ({w * h / 1e6:.0f} megapixels), over the limit of "
                         f"{max_pixels / 1e6:g}; a run would hold about {copies / 2**30:.0f} GiB of images "
                         f"besides its fits and take hours per 10 megapixels on a CPU: crop or downscale it, or "
                         f"raise the limit (--max-megapixels)", setting="max_pixels")


def upright(im: Image.Image) -> Image.Image:
    """``im`` turned as its EXIF orientation tag says (itself when it has none)."""
    return ImageOps.exif_transpose(im) if im.getexif().get(ORIENTATION, 1) != 1 else im


def exif_orientation(path: str | os.PathLike) -> int:
    """The file's EXIF orientation (1: upright or no tag; 6: to be turned 90 degrees clockwise; ...)."""
    try:
        with Image.open(path) as im:
            return int(im.getexif().get(ORIENTATION, 1))
    except Exception:  # an unreadable file says so when it is loaded
        return 1


def _sixteen_bit_colour(im: Image.Image) -> bool:
    """A 16-bit-per-channel colour file (48-bit PNG, 16-bit TIFF), which Pillow opens as 8-bit "RGB"; its raw
    mode, read from the header before decoding, says so ("RGB;16B")."""
    return im.mode in ("RGB", "RGBA") and any(";16" in str(getattr(t, "args", "")) for t in im.tile)


def _normalise_mode(im: Image.Image, path: pathlib.Path) -> Image.Image:
    mode = im.mode
    if mode.startswith("I") or mode == "F":
        raise InputError(f"{path}: 16-bit images are not supported yet; convert to 8-bit first, "
                         f"e.g. `magick {path.name} -depth 8 out.png`")
    if mode == "P" and "transparency" in im.info:
        im, mode = im.convert("RGBA"), "RGBA"
    if mode in _WITH_ALPHA:
        alpha = np.asarray(im.getchannel(im.getbands()[-1]))
        if alpha.min() < 255:
            raise InputError(f"{path} has transparent pixels; flatten it onto a background first")
        return im.convert(_WITH_ALPHA[mode])
    if mode in ("RGB", "L"):
        return im
    if mode == "1":
        return im.convert("L")
    if mode == "P" or mode in _TO_RGB:
        return im.convert("RGB")
    raise InputError(f"{path} has unsupported image mode {mode}; convert it to 8-bit RGB or greyscale first")


def to_uint8(img: np.ndarray) -> np.ndarray:
    """Clip to [0, 1] and round to uint8; NaN (a diverged fit) becomes 0 rather than an undefined cast."""
    img = np.nan_to_num(np.asarray(img, dtype=np.float32), nan=0.0)
    return np.round(np.clip(img, 0.0, 1.0) * 255.0).astype(np.uint8)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[pathlib.Path]:
    """Yield a temporary path next to ``path``; on success rename it over ``path``, on failure delete it.

    The temporary file lives in the same directory so that :func:`os.replace` is a rename on one file
    system, and a reader never sees a half-written file. Parent directories are created.
    """
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.", suffix=path.suffix,
                                     delete=False) as f:
        tmp = pathlib.Path(f.name)
    try:
        yield tmp
        # mkstemp creates files 0600; give the result the permissions a plain open() would. Reading the
        # umask means setting it briefly, which is fine in this single-threaded CLI.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (temporary file, then rename)."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` as UTF-8 to ``path`` atomically (temporary file, then rename)."""
    atomic_write_bytes(path, text.encode("utf-8"))


def append_json_line(path: str | os.PathLike, record: dict) -> None:
    """Append ``record`` as one JSON line and sync it to disk, so a process killed at any moment leaves every
    line it wrote before (the batch's manifest, a bench run's rows)."""
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as f:
        f.write(json.dumps(record, default=str) + "\n")
        f.flush()
        os.fsync(f.fileno())


def read_json_lines(path: str | os.PathLike) -> Iterator[dict]:
    """The records of a JSON-lines file written by :func:`append_json_line`, in order; a line a kill cut short
    (or anything but an object) is skipped, a missing file has none."""
    path = pathlib.Path(path)
    if not path.is_file():
        return
    for line in path.read_text().splitlines():
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(rec, dict):
            yield rec


def _format_for(path: pathlib.Path) -> str:
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise InputError(f"cannot write {path}: unknown image extension {path.suffix!r}; "
                         f"use one of {', '.join(sorted(FORMATS))}")
    return fmt


def save_image(img: np.ndarray, path: str | os.PathLike) -> None:
    """Save a float image in [0, 1] as 8 bits per channel, atomically.

    Parameters
    ----------
    img : numpy.ndarray
        Shape (H, W), (H, W, 1) or (H, W, 3); values outside [0, 1] are clipped.
    path : str or path-like
        Target file; the format follows the extension (png, jpg/jpeg, tif/tiff, bmp, webp).

    Raises
    ------
    InputError
        If the extension is unknown or the file cannot be written.
    """
    path = pathlib.Path(path)
    fmt = _format_for(path)
    img = np.asarray(img)
    if img.ndim == 3 and img.shape[2] == 1:
        img = img[:, :, 0]
    if not (img.ndim == 2 or (img.ndim == 3 and img.shape[2] == 3)):
        raise ValueError(f"expected an (H, W), (H, W, 1) or (H, W, 3) image, got shape {img.shape}")
    # Restored detail should survive saving: JPEG at 95 without chroma subsampling, WebP lossless
    # (its lossy default, quality 80, would add the kind of artefacts the restoration removed).
    options = {"JPEG": {"quality": 95, "subsampling": 0}, "WEBP": {"lossless": True}}.get(fmt, {})
    try:
        with atomic_path(path) as tmp:
            Image.fromarray(to_uint8(img)).save(tmp, format=fmt, **options)
    except OSError as exc:
        raise InputError(f"cannot write image {path}: {exc.strerror or exc}") from None


def to_tensor(img: np.ndarray, device: torch.device | str | None = None,
              dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Convert an (H, W, C) or (H, W) array to a (1, C, H, W) tensor on ``device``."""
    img = np.asarray(img)
    if img.ndim == 2:
        img = img[:, :, None]
    return torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1)))[None].to(device=device, dtype=dtype)


def from_tensor(t: torch.Tensor) -> np.ndarray:
    """Convert a (1, C, H, W) or (C, H, W) tensor to an (H, W, C) float32 array on the CPU."""
    t = t.detach().float().cpu()
    if t.ndim == 4:
        if t.shape[0] != 1:
            raise ValueError(f"expected a batch of one image, got shape {tuple(t.shape)}")
        t = t[0]
    return t.permute(1, 2, 0).contiguous().numpy()


def available_memory(device: torch.device | str) -> int:
    """Bytes free for new allocations on ``device``: free GPU memory for CUDA, MemAvailable otherwise."""
    device = torch.device(device)
    if device.type == "cuda":
        return int(torch.cuda.mem_get_info(device)[0])
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    # No /proc (macOS, BSD): free physical pages, which undercounts reclaimable cache but errs safe.
    return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


def as_image(a: np.ndarray, what: str) -> np.ndarray:
    """Check an image array and return it as (H, W, C) float32 in [0, 1]: (H, W) or (H, W, 1 or 3), uint8
    (scaled by 1/255) or float already in [0, 1]."""
    a = np.asarray(a)
    if a.ndim == 2:
        a = a[..., None]
    if a.ndim != 3 or a.shape[2] not in (1, 3):
        raise InputError(f"{what} must be (H, W), (H, W, 1) or (H, W, 3); got shape {a.shape}")
    if a.dtype == np.uint8:
        return a.astype(np.float32) / 255.0
    if not np.issubdtype(a.dtype, np.floating):
        raise InputError(f"{what} must be uint8 or float in [0, 1]; got {a.dtype}")
    if a.size and (np.isnan(a).any() or a.min() < -1e-6 or a.max() > 1 + 1e-6):
        raise InputError(f"{what} values must lie in [0, 1]")
    return a.astype(np.float32)


def load_kernel(path: str | os.PathLike) -> np.ndarray:
    """A blur kernel drawn as an image (greyscale, any bit depth; colour is averaged): its values as weights,
    not yet normalised."""
    path = pathlib.Path(path)
    try:
        with Image.open(path) as im:
            im.load()
            arr = np.asarray(im.convert("F") if im.mode not in ("RGB", "RGBA") else im.convert("RGB"), np.float32)
    except (OSError, ValueError, UnidentifiedImageError) as exc:
        raise InputError(f"cannot read blur kernel {path}: {exc}", setting="kernel") from None
    return arr.mean(-1) if arr.ndim == 3 else arr


def read_kernel(spec: str | None) -> np.ndarray | None:
    """A ``--kernel`` value: a kernel image when it names a file, else ``gaussian:SIGMA`` / ``motion:L,A``."""
    if spec is None:
        return None
    return load_kernel(spec) if pathlib.Path(spec).is_file() else parse_kernel(spec)
