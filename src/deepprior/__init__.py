"""deepprior: restore damaged images with the Deep Image Prior (Ulyanov, Vedaldi, Lempitsky, CVPR 2018).

An untrained convolutional network is fitted to the one corrupted image; its structure alone is the prior.
:func:`plan` resolves a restoration into a :class:`Job` (or raises :class:`InputError`), :func:`run` executes
it and returns a :class:`Restoration`; :func:`restore` does both. The command line (``deepprior --help``) is
a front end over them.

Examples
--------
>>> import numpy as np, deepprior
>>> noisy = np.random.default_rng(0).random((48, 48, 3), dtype=np.float32)
>>> r = deepprior.restore(noisy, "denoise", iterations=2, channels_down=(8, 8), channels_up=(8, 8),
...                       channels_skip=(2, 2), input_channels=4)
>>> r.image.shape, r.result, r.metrics["tiles"]
((48, 48, 3), 'combined', 1)
"""

from .config import FitConfig, NetConfig
from .errors import InputError
from .fitting import FitResult, Problem, StepRecord, fit
from .imaging.io import load_image, save_image
from .imaging.masks import load_mask, save_mask
from .jobs import (PRESETS, TASKS, Job, Restoration, TilePlan, get_preset, plan, plan_from_config, restore,
                   run)
from .version import __version__

__all__ = ["plan", "plan_from_config", "run", "restore", "Job", "Restoration", "TilePlan", "fit", "Problem",
           "FitResult", "StepRecord", "FitConfig", "NetConfig", "InputError", "PRESETS", "TASKS", "get_preset",
           "load_image", "save_image", "load_mask", "save_mask", "__version__"]
