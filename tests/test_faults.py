"""Faults injected into a run: NaN weights mid-fit (backtracking recovers), a write that fails for want of disk
space (one line, and the checkpoints stay so the run can be finished), an exception in a callback (it reaches
the caller; the page shows it as a failed run)."""

from __future__ import annotations

import errno

import numpy as np
import pytest
import torch

import deepprior
from deepprior.config import FitConfig, NetConfig
from deepprior.nets import build_net, make_input
from deepprior.operators import Identity
from helpers import SMALL, TINY, Sabotage, as_tensor, noisy, smooth_image


def test_nan_weights_mid_fit_are_undone_by_backtracking():
    gt = smooth_image(32, 32)
    y = as_tensor(noisy(gt))
    cfg = NetConfig(**SMALL)
    net = Sabotage(build_net("skip", cfg, 3, generator=torch.Generator().manual_seed(0)), at=60, nan=True)
    z = make_input(cfg, 32, 32, generator=torch.Generator().manual_seed(0), device=torch.device("cpu"))
    res = deepprior.fit(deepprior.Problem(y, Identity(), as_tensor(gt)), net, z,
                        FitConfig(iterations=120, log_every=10), generator=torch.Generator().manual_seed(0))
    assert [e.restored_iteration for e in res.events] == [50]
    assert torch.isfinite(res.output).all() and torch.isfinite(res.best).all()
    assert res.history[-1]["psnr_ema"] > res.history[0]["psnr_ema"] + 3  # and the fit went on improving


def test_a_full_disk_at_the_end_is_one_line_and_the_run_can_be_finished(run, tmp_path, noisy_png, monkeypatch):
    from PIL import Image

    real_save = Image.Image.save

    def no_space(self, fp, *a, **kw):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Image.Image, "save", no_space)
    res = run("denoise", noisy_png, "-o", "out.png", "--report", "rep", "--checkpoint-every", "1", *TINY)
    assert res.code == 2 and "No space left on device" in res.err and "Traceback" not in res.err
    assert (tmp_path / "rep" / "checkpoint" / "run.json").exists()  # the work is kept
    monkeypatch.setattr(Image.Image, "save", real_save)
    res = run("resume", "rep", "--quiet")
    assert res.code == 0, res.err
    assert Image.open(tmp_path / "out.png").size == (40, 36)


def test_an_exception_in_a_callback_reaches_the_caller_and_the_page_says_so():
    job = deepprior.plan(noisy(smooth_image(32, 32)), "denoise", iterations=20, log_every=5, **SMALL)

    def broken(record):
        raise RuntimeError("the caller's bug")

    with pytest.raises(RuntimeError, match="the caller's bug"):
        deepprior.run(job, callbacks=[broken])
    pytest.importorskip("pandas")
    from deepprior.web.live import LiveRun
    live = LiveRun(job)
    live._step = broken  # as if the page's own callback failed
    view = live.start().wait(60)
    assert view.done and view.error == "RuntimeError: the caller's bug" and "failed" in view.status()
    assert np.isfinite(live.canvas).all()
