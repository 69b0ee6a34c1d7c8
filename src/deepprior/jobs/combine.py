"""``method="dip+cbm3d"``: a weighted mean of DIP's denoised image and CBM3D's, CBM3D told the noise as the fit
found it.

DIP and CBM3D err in partly different places, so the mix beats DIP alone, and CBM3D too by a little (0.04-0.18 dB
on camera noise, 0.1 dB on white noise, on crops: docs/stopping.md#dip--cbm3d, docs/benchmarks.md). CBM3D needs
the noise described: on camera noise one level is not enough (demosaicing correlates the noise, and the level that
scores best is about twice its std, which no user can choose), so it is told the noise's power spectrum, read from
what DIP's fit left out of the image: the input minus DIP's result. On white noise it is told the level given,
else the patch estimate of the whole image (:func:`~deepprior.imaging.noise.patch_noise_sigma`), which texture
does not push up: on the whole baboon at sigma 25 CBM3D scored 25.84 dB told it (25.7) against 25.68 told the
wavelet estimate (27.4) the stop reads (docs/stopping.md#the-level-cbm3d-is-told). CBM3D runs on one thread
here: with more, its sums land in varying order and a seeded run would not give the same image twice.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from ..classical.methods import cbm3d, cbm3d_spectrum, noise_spectrum
from ..imaging.noise import patch_noise_sigma
from .job import Job

#: DIP's share of the combined image, by the noise the fit found. White noise: DIP alone is 0.8-1 dB under CBM3D
#: and their errors correlate (0.76-0.87 per image), so CBM3D should weigh more; on 128 px crops of the 9 images
#: 0.3 scored 0.10 dB above the even mean at sigma 25 and 0.11 at sigma 50, and the best weight per image
#: (chosen with the ground truth) only 0.04 and 0.03 more (docs/stopping.md#the-weight-on-white-noise).
#: Camera noise: the even mean, which scored 0.04-0.18 dB above CBM3D at its best sigma; no other weight measured.
DIP_WEIGHT = {"white": 0.3, "correlated": 0.5}
#: Where the white-noise level CBM3D is told comes from when none is given (a bench row records it, so rows made
#: with another estimate are fitted again).
LEVEL_ESTIMATE = "patch"


def combine(job: Job, dip: np.ndarray) -> tuple[np.ndarray, np.ndarray | None, dict[str, Any]]:
    """The combined image of ``job`` from DIP's returned image ``dip`` (the observation's size), CBM3D's image
    (None where it gave none), and how they were made: the noise CBM3D was told and its seconds."""
    y = job.inputs.observation
    start = time.perf_counter()
    model = "correlated" if job.fit.noise_model == "correlated" else "white"
    with np.errstate(divide="ignore", invalid="ignore"):  # a flat image: handled below, not warned about
        if model == "correlated":
            told: dict[str, Any] = {"cbm3d_noise": "spectrum of the input minus DIP's result"}
            other = cbm3d_spectrum(y, noise_spectrum(y - dip), threads=1)
        else:
            level = job_level(job)
            told = {"cbm3d_noise": "level", "cbm3d_sigma": level,
                    "cbm3d_level": "given" if job.fit.noise_sigma is not None else LEVEL_ESTIMATE}
            other = cbm3d(y, level, threads=1)
    w = DIP_WEIGHT[model]
    facts = {"name": job.fit.method, "dip_weight": w, **told, "seconds": round(time.perf_counter() - start, 3)}
    if not np.isfinite(other).all():  # bm3d's colour transform divides by a channel's range: 0 on flat images
        return dip, None, {**facts, "dip_weight": 1.0,
                           "why": "CBM3D gave no finite result (a flat image): DIP's alone"}
    return (w * dip + (1 - w) * other).astype(np.float32), other, facts


def job_level(job: Job) -> float:
    """The white noise's std on [0, 1] that CBM3D is told: the setting, else the whole image's patch estimate."""
    if job.fit.noise_sigma is not None:
        return job.fit.noise_sigma
    return patch_noise_sigma(job.inputs.observation)
