"""Fitting options beyond the paper's: frozen random convolutions with a trained input (Deep Random
Projector), the square-root and total-variation loss terms, and torch.compile."""

import shutil

import pytest
import torch

import deepprior
from deepprior import Problem
from deepprior.config import FitConfig, NetConfig
from deepprior.imaging import metrics
from deepprior.nets import build_net, make_input
from deepprior.operators import Identity
from helpers import SMALL, noisy, smooth_image

DRP = dict(freeze_convs=True, input_norm=True, train_input=True, lr=0.1, loss="rmse", tv_weight=0.45,
           reg_noise_std=0.0, ema_weight=0.0)


def _setup(net_cfg, size=32):
    gt = smooth_image(size, size)
    y = torch.from_numpy(noisy(gt)).permute(2, 0, 1)[None]
    net = build_net("skip", net_cfg, 3, generator=torch.Generator().manual_seed(0))
    z = make_input(net_cfg, size, size, generator=torch.Generator().manual_seed(0), device=torch.device("cpu"))
    return gt, y, net, z


def test_frozen_convolutions_train_only_batch_norm_and_the_input():
    cfg = NetConfig(**{**SMALL, "freeze_convs": True, "input_norm": True})
    gt, y, net, z = _setup(cfg)
    convs = {n: p.detach().clone() for n, p in net.named_parameters() if not p.requires_grad}
    norms = {n: p.detach().clone() for n, p in net.named_parameters() if p.requires_grad}
    assert convs and norms
    assert all(isinstance(m, torch.nn.BatchNorm2d) for n, m in net.named_modules()
               if any(p.requires_grad for p in m.parameters(recurse=False)))
    z0 = z.clone()
    fit_cfg = FitConfig(iterations=40, log_every=10, train_input=True, lr=0.05, reg_noise_std=0.0, stop="none")
    res = deepprior.fit(Problem(y, Identity()), net, z, fit_cfg, generator=torch.Generator().manual_seed(0))
    params = dict(net.named_parameters())
    assert all(torch.equal(params[n], v) for n, v in convs.items())  # random weights stay as drawn
    assert any(not torch.equal(params[n], v) for n, v in norms.items())  # batch norm learnt
    assert torch.equal(z, z0)  # the caller's input is copied, not trained in place
    losses = [row["loss"] for row in res.history]
    assert losses[-1] < 0.5 * losses[0]


def test_random_projector_settings_denoise_through_the_api():
    gt = smooth_image(40, 40)
    y = noisy(gt)
    r = deepprior.restore(y, "denoise", ground_truth=gt, iterations=150, log_every=10,
                          channels_down=(32,), channels_up=(32,), channels_skip=(4,), input_channels=3, **DRP)
    assert r.image.shape == gt.shape
    assert metrics.psnr(r.image, gt) > metrics.psnr(y, gt) + 3
    assert r.config["fit"]["train_input"] and r.config["net"]["freeze_convs"]


def test_total_variation_smooths_the_fit():
    cfg = NetConfig(**SMALL)

    def tv_of_fit(weight):
        gt, y, net, z = _setup(cfg)
        fit_cfg = FitConfig(iterations=60, log_every=20, stop="none", tv_weight=weight, loss="rmse")
        out = deepprior.fit(Problem(y, Identity()), net, z, fit_cfg, generator=torch.Generator().manual_seed(0)).output
        return (out[..., 1:, :] - out[..., :-1, :]).abs().mean() + (out[..., 1:] - out[..., :-1]).abs().mean()

    assert tv_of_fit(2.0) < 0.8 * tv_of_fit(0.0)


def test_backtracking_restores_a_trained_input():
    from deepprior.fitting.tricks import Backtracker, OutputEMA

    net = torch.nn.Conv2d(1, 1, 1)
    z = torch.zeros(1, 1, 2, 2, requires_grad=True)
    opt = torch.optim.Adam([*net.parameters(), z], lr=0.1)
    bt = Backtracker(10**0.5, 0.5, 200)
    bt.save(1.0, 10, net, opt, None, (z,))
    with torch.no_grad():
        z.add_(5.0)
    bt.restore(100.0, 20, net, opt, OutputEMA(0.99), (z,))
    assert torch.equal(z, torch.zeros_like(z))


@pytest.mark.slow
def test_compiled_network_gives_the_same_fit():
    if shutil.which("cc") is None and shutil.which("gcc") is None:
        pytest.skip("torch.compile on the CPU needs a C compiler")
    gt, y, net, z = _setup(NetConfig(channels_down=(8,), channels_up=(8,), channels_skip=(2,), input_channels=4))
    state = {k: v.clone() for k, v in net.state_dict().items()}
    kw = dict(iterations=6, log_every=3, stop="none", precision="fp32", channels_last=False)
    eager = deepprior.fit(Problem(y, Identity()), net, z, FitConfig(**kw), generator=torch.Generator().manual_seed(0))
    net.load_state_dict(state)
    compiled = deepprior.fit(Problem(y, Identity()), net, z, FitConfig(**kw, compile=True),
                             generator=torch.Generator().manual_seed(0))
    assert torch.allclose(eager.output, compiled.output, atol=1e-4)


def test_input_noise_ramp_starts_from_its_start_factor():
    """A ramp from 0 over many steps starts as a run without perturbation and differs from the constant one."""

    def run(iterations=1, **fit):  # the output of the last step's forward pass
        cfg = NetConfig(**SMALL)
        _, y, net, z = _setup(cfg)
        fit_cfg = FitConfig(iterations=iterations, log_every=10, stop="none", precision="fp32", **fit)
        return deepprior.fit(Problem(y, Identity()), net, z, fit_cfg, generator=torch.Generator().manual_seed(0)).output

    quiet = run(reg_noise_std=0.0)
    assert torch.allclose(run(reg_noise_std=0.1, reg_noise_start=0.0, reg_noise_ramp=10**6), quiet, atol=1e-4)
    assert not torch.allclose(run(reg_noise_std=0.1), quiet, atol=1e-3)
    half = run(reg_noise_std=0.1, reg_noise_start=0.5, reg_noise_ramp=10**6)  # as a constant std of 0.05
    assert torch.allclose(half, run(reg_noise_std=0.05), atol=1e-4)
    assert torch.equal(run(20, reg_noise_std=0.1, reg_noise_start=1.0, reg_noise_ramp=50),
                       run(20, reg_noise_std=0.1))


def test_adam_betas_reach_the_optimiser_and_bad_ones_are_refused():
    """Other betas give another fit; with (almost) no step they change nothing, so it is the optimiser's steps
    they reach."""

    def run(**fit):
        cfg = NetConfig(**SMALL)
        _, y, net, z = _setup(cfg)
        fit_cfg = FitConfig(iterations=12, log_every=4, stop="none", precision="fp32", **fit)
        return deepprior.fit(Problem(y, Identity()), net, z, fit_cfg, generator=torch.Generator().manual_seed(0)).output

    default = run()
    assert not torch.allclose(run(adam_betas=(0.85, 0.95)), default, atol=1e-4)
    assert torch.allclose(run(adam_betas=(0.85, 0.95), lr=1e-9), run(lr=1e-9), atol=1e-6)  # betas act on steps
