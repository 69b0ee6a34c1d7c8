"""Classical results on the same input, shown beside DIP's in every report (what a user would get instead)."""

from __future__ import annotations

import numpy as np
from PIL import Image


def bicubic_upsample(img: np.ndarray, factor: int) -> np.ndarray:
    """Bicubic upsampling (Pillow, a = -0.5, as MATLAB's ``imresize``) of an (h, w, C) image in [0, 1].

    Each channel is resized in 32-bit float, so no 8-bit rounding happens before scoring.
    """
    h, w, c = img.shape
    size = (w * factor, h * factor)
    chans = [np.asarray(Image.fromarray(img[..., i].astype(np.float32), mode="F").resize(size, Image.BICUBIC))
             for i in range(c)]
    return np.clip(np.stack(chans, -1), 0.0, 1.0).astype(np.float32)
