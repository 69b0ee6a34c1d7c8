"""``method="dip+cbm3d"``: the mean of DIP's denoised image and CBM3D's, CBM3D told the noise as the fit found it.

DIP and CBM3D err in partly different places, so their mean beats DIP alone, and CBM3D too on camera noise (on
white noise it is level with CBM3D: docs/stopping.md#dip--cbm3d, docs/benchmarks.md). CBM3D needs the noise
described: on camera noise one level is not enough (demosaicing correlates the noise, and the level that scores
best is about twice its std, which no user can choose), so it is told the noise's power spectrum, read from
what DIP's fit left out of the image: the input minus DIP's result. On white noise it is told the level the
stop used (given, or estimated). CBM3D runs on one thread here: with more, its sums land in varying order and
a seeded run would not give the same image twice.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from ..classical.methods import cbm3d, cbm3d_spectrum, noise_spectrum
from ..imaging.noise import estimate_noise_sigma
from .job import Job


def combine(job: Job, dip: np.ndarray) -> tuple[np.ndarray, dict[str, Any]]:
    """The combined image of ``job`` from DIP's returned image ``dip`` (the observation's size), and how it was
    made: the noise CBM3D was told and its seconds."""
    y = job.inputs.observation
    start = time.perf_counter()
    with np.errstate(divide="ignore", invalid="ignore"):  # a flat image: handled below, not warned about
        if job.fit.noise_model == "correlated":
            told: dict[str, Any] = {"cbm3d_noise": "spectrum of the input minus DIP's result"}
            other = cbm3d_spectrum(y, noise_spectrum(y - dip), threads=1)
        else:
            level = job_level(job)
            told = {"cbm3d_noise": "level", "cbm3d_sigma": level}
            other = cbm3d(y, level, threads=1)
    facts = {"name": job.fit.method, "dip_weight": 0.5, **told, "seconds": round(time.perf_counter() - start, 3)}
    if not np.isfinite(other).all():  # bm3d's colour transform divides by a channel's range: 0 on flat images
        return dip, {**facts, "dip_weight": 1.0, "why": "CBM3D gave no finite result (a flat image): DIP's alone"}
    return (0.5 * dip + 0.5 * other).astype(np.float32), facts


def job_level(job: Job) -> float:
    """The white noise's std on [0, 1]: the setting, else the whole image's finest-scale estimate (the plan's,
    recomputed from the input, so a plan rebuilt from a config, which keeps only the tiles' levels, agrees)."""
    if job.fit.noise_sigma is not None:
        return job.fit.noise_sigma
    return estimate_noise_sigma(job.inputs.observation)
