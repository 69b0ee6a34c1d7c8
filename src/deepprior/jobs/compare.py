"""The classical comparison of a finished run (``--compare``, the page's checkbox): the task's classical methods
on the same input, scored like the run, added to its metrics."""

from __future__ import annotations

import numpy as np

from ..classical.compare import run_classical
from .combine import job_level
from .job import Job
from .result import Restoration


def compare_classical(job: Job, result: Restoration) -> list[tuple[str, np.ndarray]]:
    """Run the task's classical methods on the job's input; their scores go into ``result.metrics["compare"]``
    and their images are returned as (name, image) panels for the comparison figure."""
    inputs = job.inputs
    # On white noise the level the combination tells CBM3D (the patch estimate, unless given), so the CBM3D
    # shown beside the result is the one mixed into it; correlated noise keeps the flat-block level.
    white = job.noise_level is not None and job.fit.noise_model != "correlated"
    classical = run_classical(job.task.classical, inputs.observation, mask=inputs.mask, scale=job.scale,
                              sigma=job_level(job) if white else job.noise_level, kernel=inputs.kernel,
                              ground_truth=result.ground_truth, psnr_y=job.scale is not None)
    result.metrics["compare"] = {k: {n: v for n, v in e.items() if n != "image"} for k, e in classical.items()}
    return [(k, e["image"]) for k, e in classical.items()]
