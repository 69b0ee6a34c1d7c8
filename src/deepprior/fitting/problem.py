"""What one fit restores, and how its images are handed back."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..operators import Operator


@dataclass
class Problem:
    """The observation ``y`` of an unknown image ``x`` through an operator: ``y = A(x)`` (plus noise).

    Attributes
    ----------
    observation : torch.Tensor
        ``y``, (1, C, h, w), on the device the fit runs on.
    operator : Operator
        ``A``, on the same device; its ``known`` buffer (if any) selects the values the loss compares.
    ground_truth : torch.Tensor, optional
        The clean image (1, C, H, W); only scored in the history, never used for fitting or selection.
    holdout : torch.Tensor, optional
        1 where a measured value is left out of the loss and scored instead (``FitConfig.holdout``),
        broadcastable to the observation.
    calibration : torch.Tensor, optional
        1 where a measured value is left out of the loss and of every decision, to calibrate the uncertainty map
        afterwards (``FitConfig.uncertainty``); broadcastable to the observation.
    keep_measured : bool
        Hand the measured pixels back as they were measured (``FitConfig.keep_measured``).
    """

    observation: torch.Tensor
    operator: Operator
    ground_truth: torch.Tensor | None = None
    holdout: torch.Tensor | None = None
    keep_measured: bool = False
    calibration: torch.Tensor | None = None

    @property
    def left_out(self) -> torch.Tensor | None:
        """1 for every measured value the loss does not see (held out or kept for calibration)."""
        parts = [m for m in (self.holdout, self.calibration) if m is not None]
        return None if not parts else parts[0] if len(parts) == 1 else torch.maximum(parts[0], parts[1])

    @property
    def keeps_measured(self) -> bool:
        """Whether :meth:`present` changes anything: only an operator that observes pixels as they are has
        measured pixels to keep."""
        return self.keep_measured and self.operator.keeps_pixels

    def present(self, image: torch.Tensor) -> torch.Tensor:
        """An image as the user gets it: the measured pixels from the observation where the problem keeps them,
        the network's everywhere else. The one place ``keep_measured`` is applied: the loop's rows and callbacks
        and the run's returned images all come through here."""
        return self.operator.keep_measured(image, self.observation) if self.keeps_measured else image
