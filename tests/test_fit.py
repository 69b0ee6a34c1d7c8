"""Behaviour of the one fitting loop on tiny images, through the public API."""

import dataclasses

import numpy as np
import pytest
import torch

import deepprior
from deepprior import metrics
from deepprior.errors import InputError
from deepprior.masks import drop_mask
from helpers import SMALL, smooth_image


def _noisy(gt, sigma=25, seed=0):
    return np.clip(gt + np.random.default_rng(seed).normal(0, sigma / 255, gt.shape), 0, 1).astype(np.float32)


def test_denoise_beats_the_noisy_input():
    gt = smooth_image()
    noisy = _noisy(gt)
    r = deepprior.restore(noisy, "denoise", ground_truth=gt, iterations=150, log_every=25, **SMALL)
    assert r.image.shape == gt.shape
    assert metrics.psnr(r.image, gt) > metrics.psnr(noisy, gt) + 3
    m = r.metrics
    assert m["table"]["ema_vs_gt"] == pytest.approx(m["ema"]["gt"]["psnr"])
    assert m["input"]["gt"]["psnr"] == pytest.approx(metrics.psnr(metrics.quantize(noisy), gt), abs=1e-6)
    assert [row["iteration"] for row in r.history] == [1, 25, 50, 75, 100, 125, 150]


@pytest.mark.parametrize("task,c,net", [
    ("inpaint", 3, {}),
    ("reconstruct", 1, {}),
    ("fill", 3, {"channels_skip": (0, 0), "input": "meshgrid"}),
])
def test_mask_tasks_beat_the_corrupted_input(task, c, net):
    gt = smooth_image(c=c)
    h, w = gt.shape[:2]
    if task == "fill":
        known = np.ones((h, w), bool)
        known[16:28, 12:26] = False
    else:
        known = drop_mask((w, h), 0.5, seed=1)
    observed = gt * known[..., None]
    r = deepprior.restore(observed, task, mask=known, ground_truth=gt, iterations=120, log_every=20,
                          lr=0.01, **{**SMALL, **net})
    assert r.image.shape == gt.shape
    missing = ~known
    err_in = metrics.mse(observed, gt, missing)
    err_out = metrics.mse(r.image, gt, missing)
    assert err_out < 0.25 * err_in, (err_out, err_in)
    assert r.metrics["output"]["observation"]["psnr"] > 20  # fits the known pixels


def test_same_seed_same_result_other_seed_differs():
    noisy = _noisy(smooth_image(32, 32))
    kw = dict(iterations=15, log_every=5, **SMALL)
    a = deepprior.restore(noisy, "denoise", seed=3, **kw)
    b = deepprior.restore(noisy, "denoise", seed=3, **kw)
    c = deepprior.restore(noisy, "denoise", seed=4, **kw)
    assert np.array_equal(a.output, b.output) and np.array_equal(a.ema, b.ema)
    assert not np.array_equal(a.output, c.output)


def test_callback_stops_and_interrupt_keeps_result():
    noisy = _noisy(smooth_image(32, 32))
    seen = []
    r = deepprior.restore(noisy, "denoise", iterations=100, log_every=5, callbacks=[
        lambda rec: seen.append(rec.row["iteration"]) or rec.row["iteration"] >= 20], **SMALL)
    assert r.metrics["stopped_by"] == "callback" and r.metrics["iterations"] == 20 and seen == [1, 5, 10, 15, 20]

    def interrupt(rec):
        if rec.row["iteration"] == 10:
            raise KeyboardInterrupt

    r = deepprior.restore(noisy, "denoise", iterations=100, log_every=5, callbacks=[interrupt], **SMALL)
    assert r.metrics["stopped_by"] == "interrupted" and r.metrics["iterations"] == 10
    assert r.image.shape == noisy.shape and np.isfinite(r.image).all()


class _Sabotage(torch.nn.Module):
    """Wraps a net and wrecks its weights once, at a given forward call (a simulated bad update)."""

    def __init__(self, net, at):
        super().__init__()
        self.net, self.at, self.calls = net, at, 0

    def forward(self, z):
        self.calls += 1
        if self.calls == self.at:
            with torch.no_grad():
                for p in self.net.parameters():
                    p.add_(torch.randn(p.shape, generator=torch.Generator().manual_seed(0)) * 5)
        return self.net(z)


def sabotaged_fit():
    """100 steps of a denoising fit whose weights are wrecked at step 60 (logged every 10 steps)."""
    from deepprior.config import FitConfig, NetConfig
    from deepprior.nets import build_net, make_input
    from deepprior.operators import Identity

    gt = smooth_image(32, 32)
    y = torch.from_numpy(_noisy(gt)).permute(2, 0, 1)[None]
    cfg = NetConfig(**SMALL)
    net = _Sabotage(build_net("skip", cfg, 3, generator=torch.Generator().manual_seed(0)), at=60)
    z = make_input(cfg, 32, 32, generator=torch.Generator().manual_seed(0), device=torch.device("cpu"))
    fit_cfg = FitConfig(iterations=100, log_every=10, backtrack_window=1000)
    return deepprior.fit(y, Identity(), net, z, fit_cfg, generator=torch.Generator().manual_seed(0))


def test_backtracking_recovers_from_a_blowup_in_the_loop():
    res = sabotaged_fit()
    assert len(res.events) == 1 and res.events[0].iteration == 60 and res.events[0].restored_iteration == 50
    losses = {row["iteration"]: row["loss"] for row in res.history if not row["event"]}
    assert losses[100] < 1.5 * losses[50]  # back on track after the restore
    assert any(row["event"] for row in res.history)


def test_bad_api_input():
    img = smooth_image(48, 48)
    with pytest.raises(InputError, match="needs a mask"):
        deepprior.restore(img, "inpaint", **SMALL)
    with pytest.raises(InputError, match="mask is 40x48 but the image is 48x48"):
        deepprior.restore(img, "inpaint", mask=np.ones((48, 40), bool), **SMALL)
    with pytest.raises(InputError, match="unknown settings"):
        deepprior.restore(img, "denoise", iters=3)
    with pytest.raises(InputError, match="unknown task"):
        deepprior.restore(img, "deblur")
    with pytest.raises(InputError, match=r"\[0, 1\]"):
        deepprior.restore(img * 3, "denoise", **SMALL)


def test_flop_and_memory_estimates():
    from deepprior.costs import estimate_memory, estimate_step_flops
    from deepprior.config import NetConfig

    flops = estimate_step_flops(NetConfig(), 3, 512, 512)
    assert 400e9 < flops < 520e9  # the paper's network: about 460 GFLOP per step at 512 px
    assert estimate_step_flops(NetConfig(), 3, 256, 256) == pytest.approx(flops / 4)
    mem = estimate_memory(NetConfig(), 4000, 3000, "bf16")
    assert mem > 24 * 2**30  # a 12-megapixel photo does not fit a 24 GiB machine with the paper's net
    assert estimate_memory(NetConfig(), 256, 256, "fp32") < 2**30


def test_step_time_is_timed_on_a_proxy_and_scaled_by_pixels(monkeypatch):
    import importlib
    import types

    from deepprior.config import FitConfig, NetConfig
    from deepprior.costs import time_step

    net = NetConfig(channels_down=(8, 8), channels_up=(8, 8), channels_skip=(2, 2), input_channels=4)
    cpu = torch.device("cpu")
    assert time_step(net, FitConfig(), 3, 40, 48, cpu) > 0  # a real run of four steps
    seen = {}

    def fake_fit(y, op, model, z, cfg, generator):  # 1 s per step on the proxy
        seen.update(shape=tuple(y.shape), iterations=cfg.iterations)
        return types.SimpleNamespace(history=[{"iteration": 1, "seconds": 1.0}], seconds=4.0)

    monkeypatch.setattr(importlib.import_module("deepprior.fit"), "fit", fake_fit)
    assert time_step(net, FitConfig(), 3, 480, 960, cpu, proxy=48) == pytest.approx(200.0)
    assert seen == {"shape": (1, 3, 48, 48), "iterations": 4}


def test_tiled_restore_covers_the_image_and_denoises():
    from deepprior.tiling import default_overlap, restore_tiled, tile_starts

    assert tile_starts(100, 48, 16) == [0, 26, 52] and tile_starts(40, 48, 16) == [0]
    assert (default_overlap(512), default_overlap(100, 4), default_overlap(16, 4)) == (64, 12, 4)
    gt = smooth_image(80, 72)
    noisy = _noisy(gt)
    r = restore_tiled(noisy, "denoise", tile=48, overlap=16, ground_truth=gt, iterations=150, log_every=50,
                      result="output",
                      **SMALL)
    assert r.image.shape == gt.shape and len(r.metrics["tiles"]) == 4
    assert metrics.psnr(r.image, gt) > metrics.psnr(noisy, gt) + 3
    assert {row["tile"] for row in r.history} == {0, 1, 2, 3}


def test_fast_and_paper_presets():
    from deepprior.presets import get_preset

    paper, fast = get_preset("denoise", variant="paper"), get_preset("denoise")
    assert paper.net.channels_down == (128,) * 5 and fast.net.channels_down == (16, 32, 64, 64)  # 4 scales
    assert fast.net.channels_skip == (4,) * 4
    assert paper.fit.loss == "mse" and fast.fit == dataclasses.replace(paper.fit, loss="rmse", ema_warmup=True,
                                                                      adam_betas=(0.85, 0.9), stop_noise_factor=1.02)
    assert paper.fit.adam_betas == (0.9, 0.999) and get_preset("inpaint").fit.adam_betas == (0.9, 0.999)
    assert fast.source.startswith("fast:")
    inpaint = get_preset("inpaint")  # fit settings and net settings both change
    assert inpaint.net.channels_skip == (16, 32, 64, 64, 64) and (inpaint.fit.loss, inpaint.fit.lr) == ("rmse", 0.02)
    fill = get_preset("fill")  # the network stays
    assert fill.net == get_preset("fill", variant="paper").net and fill.fit.loss == "rmse"
    assert get_preset("reconstruct").net.channels_down == (16, 32, 64, 64, 64)
    assert (inpaint.fit.iterations, get_preset("inpaint", variant="paper").fit.iterations) == (1500, 6000)
    recon = get_preset("reconstruct").fit
    assert (recon.iterations, recon.lr, recon.adam_betas, recon.holdout) == (3000, 0.02, (0.85, 0.9), 0.0)
    assert all(get_preset(t, variant=v).fit.holdout == 0 for t in ("inpaint", "fill", "reconstruct")
               for v in ("fast", "paper"))  # held-out pixels are opt-in (--holdout)
    # Noise-free masks: the fast presets return the known pixels as measured; the paper returns its net's output.
    assert all(get_preset(t).fit.keep_measured and not get_preset(t, variant="paper").fit.keep_measured
               for t in ("inpaint", "fill", "reconstruct"))
    assert not get_preset("denoise").fit.keep_measured
    assert get_preset("flash") == get_preset("flash", variant="paper")  # no measured fast variant yet
    assert get_preset("superres", scale=8).fit.reg_noise_std == 0.05
    with pytest.raises(InputError, match="unknown preset"):
        get_preset("denoise", variant="turbo")
    r = deepprior.restore(smooth_image(64, 64), "denoise", preset="paper", iterations=1)
    assert r.config["preset"] == "paper" and tuple(r.config["net"]["channels_down"]) == (128,) * 5


def test_ssim_in_logged_rows_stays_within_its_share_of_the_run(monkeypatch):
    import importlib

    fit_module = importlib.import_module("deepprior.fit")
    gt = smooth_image(32, 32)
    kw = dict(iterations=30, log_every=5, ground_truth=gt, tile=None, **SMALL)
    monkeypatch.setattr(fit_module, "SSIM_SHARE", 0.0)  # the first row's SSIM already spends the share
    rows = [r for r in deepprior.restore(_noisy(gt), "denoise", **kw).history if "psnr_output" in r]
    assert [("ssim_output" in r) for r in rows] == [True] + [False] * (len(rows) - 1)
    assert all("psnr_ema" in r and "mse_output" in r for r in rows)
    monkeypatch.setattr(fit_module, "SSIM_SHARE", 1e9)
    rows = [r for r in deepprior.restore(_noisy(gt), "denoise", **kw).history if "psnr_output" in r]
    assert all("ssim_ema" in r for r in rows) and rows[-1]["iteration"] == 30


def test_stop_noise_factor_moves_the_discrepancy_stop():
    """The loss is compared with factor x sigma^2: a factor far above 1 fires at the first check allowed, 1 later."""
    gt = smooth_image()
    noisy = _noisy(gt)
    kw = dict(noise_sigma=25 / 255, stop_min_iterations=20, iterations=400, log_every=10, **SMALL)
    at_once = deepprior.restore(noisy, "denoise", stop_noise_factor=50.0, **kw).metrics
    assert at_once["stopped_by"] == "discrepancy" and at_once["iterations"] == 20  # the first check allowed
    plain = deepprior.restore(noisy, "denoise", stop_noise_factor=1.0, **kw).metrics
    assert plain["iterations"] > 20
    with pytest.raises(InputError, match="stop noise factor"):
        deepprior.restore(noisy, "denoise", stop_noise_factor=0.0, **kw)
