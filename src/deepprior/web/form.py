"""The page's form as a :class:`~deepprior.Job`: the task chosen, the mask painted, the corruption simulated.

No gradio here, so the form's logic is tested without a browser. The mask is always the editor's paint: a
painted, uploaded or generated mask becomes red paint on a layer over the image (red = missing), so whatever
made it, the user sees it and can paint or erase more before the run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import InputError
from ..imaging import masks
from ..imaging.degrade import add_noise, blur_image, centre_crop_multiple, downscale_image, jpeg_roundtrip
from ..imaging.io import to_uint8
from ..jobs import Job, plan
from ..jobs.tasks import MASK_TASKS
from ..operators import parse_kernel

#: (label, value) of the task menu; super-resolution is one entry per scale.
TASKS = (("Denoise", "denoise"), ("JPEG artifact removal", "dejpeg"), ("Text / region inpainting", "inpaint"),
         ("Hole filling", "fill"), ("Pixel-drop reconstruction", "reconstruct"),
         ("Super-resolution x2", "superres:2"), ("Super-resolution x4", "superres:4"),
         ("Super-resolution x8", "superres:8"), ("Deblurring", "deblur"))
#: The paint that marks a missing pixel (fully opaque in the editor's layer).
MISSING_RGBA = (255, 0, 0, 255)


def split_task(choice: str) -> tuple[str, int | None]:
    """``"superres:4"`` -> ("superres", 4); other tasks have no scale."""
    task, _, scale = choice.partition(":")
    return task, int(scale) if scale else None


@dataclass(frozen=True)
class Request:
    """What the form asks for, read from its widgets once."""

    task: str
    preset: str = "fast"
    steps: str = "auto"
    seed: int = 0
    device: str = "auto"
    simulate: bool = False
    sigma: float = 25.0
    quality: int = 10
    kernel: str = "gaussian:1.6"
    uncertainty: bool = False

    def settings(self) -> dict[str, Any]:
        """``steps``: "auto" stops by itself (the preset's bound); a number runs exactly that many steps. The
        uncertainty box asks for the one-fit map (``uncertainty=1``, nearly free)."""
        extra = {"uncertainty": 1} if self.uncertainty else {}
        text = str(self.steps).strip().lower()
        if text in ("", "auto"):
            return {"stop": "auto", **extra}
        try:
            n = int(float(text))
        except ValueError:
            raise InputError(f"steps must be auto or a number of steps, not {self.steps!r}") from None
        if n < 1 or n > 100_000:
            raise InputError(f"steps must be between 1 and 100000, not {n}")
        return {"iterations": n, "stop": "none", **extra}

    def seed_value(self) -> int:
        try:
            seed = int(self.seed)
        except (TypeError, ValueError):
            raise InputError(f"the seed must be a whole number, not {self.seed!r}") from None
        if not 0 <= seed < 2**63:
            raise InputError(f"the seed must be between 0 and 2^63 - 1, not {seed}")
        return seed


def editor_value(image: np.ndarray, known: np.ndarray | None = None) -> dict[str, Any]:
    """The editor's value for ``image`` (float, (H, W, C)) with the missing pixels of ``known`` painted."""
    rgb = to_uint8(image)
    rgb = np.repeat(rgb, 3, axis=2) if rgb.shape[2] == 1 else rgb
    layer = np.zeros(rgb.shape[:2] + (4,), np.uint8)
    if known is not None:
        layer[~known] = MISSING_RGBA
    return {"background": rgb, "layers": [layer], "composite": None}


def painted_known(value: dict[str, Any] | None, shape: tuple[int, int]) -> np.ndarray | None:
    """The mask the editor's layers paint (True = known), or None when nothing is painted. A pixel is missing
    where any layer has paint (alpha > 0)."""
    if not value or not value.get("layers"):
        return None
    missing = np.zeros(shape, bool)
    for layer in value["layers"]:
        if layer is None:
            continue
        layer = np.asarray(layer)
        if layer.shape[:2] != shape:
            raise InputError(f"the painted mask is {layer.shape[1]}x{layer.shape[0]}, the image "
                             f"{shape[1]}x{shape[0]}; clear the mask and paint it again")
        if layer.ndim == 3 and layer.shape[2] == 4:
            missing |= layer[..., 3] > 0
    return ~missing if missing.any() else None


def make_mask(kind: str, shape: tuple[int, int], *, text: str = "", font_size: int | None = None,
              holes: int = 5, drop: float = 50.0, seed: int = 0) -> np.ndarray:
    """A generated mask (True = known) of the image's size: words of text, random holes, or N % dropped."""
    size = (shape[1], shape[0])
    if kind == "text":
        return masks.text_mask(size, text or "deep image prior", font_size=font_size or None, seed=seed)
    if kind == "holes":
        return masks.holes_mask(size, count=int(holes), seed=seed)
    if kind == "drop":
        if not 0 < drop < 100:
            raise InputError(f"the share of pixels to drop must be between 0 and 100 %, not {drop}")
        return masks.drop_mask(size, drop / 100.0, seed=seed)
    raise InputError(f"unknown kind of mask {kind!r}; use text, holes or drop")


def simulate(clean: np.ndarray, task: str, scale: int | None, req: Request) -> tuple[np.ndarray, np.ndarray]:
    """The corrupted input a clean image gives for the task, and the ground truth to score against."""
    seed = req.seed_value()
    if task == "denoise":
        return add_noise(clean, req.sigma, seed), clean
    if task == "dejpeg":
        return jpeg_roundtrip(clean, int(req.quality)), clean
    if task == "superres":
        gt = centre_crop_multiple(clean, scale)
        return downscale_image(gt, scale), gt
    if task == "deblur":
        return add_noise(blur_image(clean, parse_kernel(req.kernel)), req.sigma, seed), clean
    return clean, clean  # the mask tasks: the fit never sees the masked pixels


def build_job(image: np.ndarray, req: Request, known: np.ndarray | None) -> Job:
    """Plan the run the form describes (every check of :func:`deepprior.plan` happens here, before the fit)."""
    task, scale = split_task(req.task)
    if task in MASK_TASKS and known is None:
        raise InputError("paint the missing pixels on the image (red = missing), or upload or make a mask")
    observed, gt = simulate(image, task, scale, req) if req.simulate else (image, None)
    return plan(observed, task, mask=known if task in MASK_TASKS else None, scale=scale,
                kernel=parse_kernel(req.kernel) if task == "deblur" else None, ground_truth=gt,
                preset=req.preset, seed=req.seed_value(), device=req.device, **req.settings())
