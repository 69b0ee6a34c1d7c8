"""What the loop hands out: a :class:`StepRecord` at each logged step, a :class:`FitResult` at the end."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import torch

from .tricks import BacktrackEvent


@dataclass
class StepRecord:
    """What a callback sees at a logged step.

    ``row`` is the history row (iteration, seconds, loss, lr, metrics, event). ``output`` and ``ema`` are the
    current images (1, C, H, W) as the run will return them (:meth:`Problem.present` applied), valid during
    the call only. ``save`` is true on ``save_every`` steps.
    """

    row: dict[str, float | int | str]
    output: torch.Tensor
    ema: torch.Tensor
    save: bool


#: A callback gets each logged step; returning True stops the run (``stopped_by = "callback"``).
Callback = Callable[[StepRecord], "bool | None"]


@dataclass
class FitResult:
    """The outcome of :func:`deepprior.fit`: the three candidate images, the history and why the run stopped.

    ``best`` is the snapshot chosen without a ground truth (``best_by``); ``stop_rule`` / ``stop_iteration``
    say whether and when the automatic rule fired (also when ``stop="none"`` let the run go on). The images are
    the network's own, before :meth:`Problem.present` (which the history's ground-truth scores and the
    callbacks' images already include). ``spread`` (with ``FitConfig.uncertainty``) is each value's moving
    variance over the last steps (:class:`~.tricks.OutputSpread`), shaped like the images.
    """

    output: torch.Tensor
    ema: torch.Tensor
    best: torch.Tensor
    best_iteration: int
    iterations: int
    seconds: float
    stopped_by: str
    precision: str
    channels_last: bool
    history: list[dict[str, float | int | str]] = field(default_factory=list)
    events: list[BacktrackEvent] = field(default_factory=list)
    stop_rule: str = ""
    stop_iteration: int = 0
    cuda_graph: bool = False
    cuda_graph_error: str = ""
    spread: torch.Tensor | None = None

    def image(self, which: str) -> torch.Tensor:
        """One of ``"output"``, ``"ema"``, ``"best"``."""
        return {"output": self.output, "ema": self.ema, "best": self.best}[which]
