"""What happens at a logged step: undo a blow-up, snapshot, score, record, ask the callbacks and the stop rules.

Between logged steps the loop only updates the output's moving variance (on the device, no sync); a logged step
reads the loss (a sync point), so everything that needs a number runs here, every ``log_every`` steps.
"""

from __future__ import annotations

import threading
import time
from typing import Iterable

import torch

from ..config import FitConfig
from .problem import Problem
from .records import Callback, FitResult, StepRecord
from .scores import RowScores
from .stepper import Stepper
from .stopping import AutoStop, pick
from .tricks import Backtracker, BestSnapshot, OutputEMA, OutputSpread, OutputVariance

#: :meth:`Monitor.log`'s answer when it undid the step: the loop skips the rest of it.
UNDONE = "undone"
#: How a history row's ``event`` begins at the step where the automatic rule fired (what follows is the rule).
STOP_EVENT = "auto-stop rule"


class Monitor:
    """The loop's bookkeeping: backtracking, the best snapshot, the history, callbacks and the stop rules."""

    def __init__(self, problem: Problem, cfg: FitConfig, stepper: Stepper, ema: OutputEMA,
                 callbacks: Iterable[Callback], cancel: threading.Event | None, start: float) -> None:
        self.problem, self.cfg, self.stepper, self.ema, self.cancel = problem, cfg, stepper, ema, cancel
        self.callbacks, self.start = list(callbacks), start
        self.variance, self.best = OutputVariance(), BestSnapshot()
        self.spread = OutputSpread() if cfg.uncertainty else None
        self.backtracker = Backtracker(cfg.backtrack_factor, cfg.backtrack_lr_decay, cfg.backtrack_window)
        lag = round(1 / (1 - cfg.ema_weight)) if cfg.ema_weight > 0 else 0
        factor = cfg.stop_correlated_factor if cfg.noise_model == "correlated" else cfg.stop_noise_factor
        noise_var = factor * cfg.noise_sigma**2 if cfg.noise_sigma else None
        self.stopper = AutoStop(cfg.stop_patience, cfg.stop_rise, lag, cfg.stop_min_gain_db,
                                cfg.stop_min_iterations, noise_var, peak=cfg.stop_peak)
        self.scores = RowScores(problem, start)
        self.history: list[dict[str, float | int | str]] = []

    def track(self, out: torch.Tensor) -> None:
        """Every step, on the device: the moving variance the stop rules read, and each pixel's spread."""
        self.variance.update(out)
        if self.spread is not None:
            self.spread.update(out)

    def saves(self, it: int) -> bool:
        return self.cfg.save_every > 0 and it % self.cfg.save_every == 0

    def logs(self, it: int) -> bool:
        """Whether step ``it`` is logged: the first, every ``log_every``-th, the last and every saved one."""
        return it == 1 or it % self.cfg.log_every == 0 or it == self.cfg.iterations or self.saves(it)

    def log(self, it: int, out: torch.Tensor, loss: torch.Tensor, ema: torch.Tensor) -> str:
        """Record step ``it``. Returns "" to go on, :data:`UNDONE` when the step was a blow-up and was undone,
        or why the run stops ("callback", "interrupted" or a stop rule's name)."""
        cfg, step = self.cfg, self.stepper
        loss_value = loss.item()
        if cfg.backtrack and self.backtracker.is_blowup(loss_value):
            ev = self.backtracker.restore(loss_value, it, step.net, step.opt, self.ema, step.inputs)
            step.reset()  # the optimiser's state tensors and learning rate were replaced
            self.history.append({"iteration": it, "seconds": time.perf_counter() - self.start, "loss": loss_value,
                                 "lr": ev.lr, "event": f"backtrack to {ev.restored_iteration}, lr {ev.lr:.3g}"})
            return UNDONE
        if cfg.backtrack:
            self.backtracker.save(loss_value, it, step.net, step.opt, self.ema.value, step.inputs)
        self.best.update(loss_value, out, it)
        variance = float(self.variance.value) if self.variance.value is not None else float("nan")
        row = {"iteration": it, "seconds": time.perf_counter() - self.start, "loss": loss_value,
               "lr": step.opt.param_groups[0]["lr"], "event": "", "variance": variance}
        shown = (self.problem.present(out), self.problem.present(ema))  # once: scored and handed on
        row.update(self.scores((out, ema), shown))
        self.history.append(row)
        reason = self.stopper.decide(it, variance, row["psnr_obs_ema"], ema, loss_value,
                                     row.get("psnr_holdout_ema"))
        if reason:
            row["event"] = f"{STOP_EVENT}: {reason}"
        record = StepRecord(row, *shown, self.saves(it))
        if any([bool(cb(record)) for cb in self.callbacks]):
            return "callback"
        if self.cancel is not None and self.cancel.is_set():
            return "interrupted"
        return reason if reason and cfg.stop == "auto" else ""

    def result(self, out: torch.Tensor, it: int, stopped_by: str) -> FitResult:
        """The run's outcome after its last step ``it`` (whose output is ``out``)."""
        last = out.float().clone()  # a copy: under a graph ``out`` is the graph's own buffer
        ema = self.ema.value if self.ema.value is not None else last
        best, best_it = pick(self.cfg, self.stopper, self.best, ema, it)
        step = self.stepper
        return FitResult(
            output=last, ema=ema, best=best if best is not None else last, best_iteration=best_it or it,
            iterations=it, seconds=time.perf_counter() - self.start, stopped_by=stopped_by,
            precision=step.precision, channels_last=step.channels_last, history=self.history,
            events=self.backtracker.events, stop_rule=self.stopper.fired, stop_iteration=self.stopper.fired_at,
            cuda_graph=step.graph_captured, cuda_graph_error=step.graph_error,
            spread=None if self.spread is None or self.spread.value is None else self.spread.value.clone())
