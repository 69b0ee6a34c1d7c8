"""deepprior: restore damaged images with the Deep Image Prior (Ulyanov, Vedaldi, Lempitsky, CVPR 2018).

An untrained convolutional network is fitted to the one corrupted image; its structure alone is the prior.
Start with :func:`restore` (:func:`restore_whole` never tiles); the command line (``deepprior --help``) is a
thin layer over it.
"""

from .api import Restoration, restore, restore_whole
from .config import FitConfig, NetConfig
from .errors import InputError
from .fit import FitResult, StepRecord, fit
from .presets import PRESETS, get_preset

__version__ = "0.1.0"

__all__ = ["restore", "restore_whole", "Restoration", "fit", "FitResult", "StepRecord", "FitConfig", "NetConfig",
           "InputError", "PRESETS", "get_preset", "__version__"]
