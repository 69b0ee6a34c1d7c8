"""The one fitting loop and its phases: objective, stepper, monitor (schedule, scores, SSIM budget), the final
pick, and the loop's behaviour on tiny images."""

import threading

import numpy as np
import pytest
import torch

import deepprior
from deepprior import Problem
from deepprior.config import FitConfig, NetConfig
from deepprior.fitting import scores as scores_module
from deepprior.fitting.monitor import Monitor
from deepprior.fitting.objective import Objective, total_variation
from deepprior.fitting.stepper import Perturbation, Stepper
from deepprior.fitting.stopping import AutoStop, pick
from deepprior.fitting.tricks import BestSnapshot, OutputEMA
from deepprior.imaging import metrics
from deepprior.nets import build_net, make_input
from deepprior.operators import Identity, Mask
from helpers import SMALL, as_tensor, noisy, sabotaged_fit, smooth_image


def _setup(size=(32, 32), seed=0, device="cpu"):
    cfg = NetConfig(**SMALL)
    net = build_net("skip", cfg, 3, generator=torch.Generator().manual_seed(seed)).to(device)
    z = make_input(cfg, *size, generator=torch.Generator(device=device).manual_seed(seed),
                   device=torch.device(device))
    return net, z


def _fit(problem, cfg, seed=0, device="cpu", **kw):
    net, z = _setup(tuple(problem.observation.shape[-2:]), seed, device)
    return deepprior.fit(problem, net, z, cfg, generator=torch.Generator(device=device).manual_seed(seed), **kw)


# ---- the objective -------------------------------------------------------------------------------------------


def test_the_objective_averages_over_the_fitted_values_only():
    y = torch.rand(1, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    x = torch.rand(1, 3, 8, 8, generator=torch.Generator().manual_seed(1))
    known = (torch.arange(64).reshape(8, 8) % 3 != 0).float()
    held = torch.zeros(1, 1, 8, 8)
    held[..., :2, :] = 1
    problem = Problem(y * known, Mask(known), holdout=held)
    mse, objective = Objective(problem, FitConfig())(x)
    fitted = (known * (1 - held[0, 0])).bool().expand(3, 8, 8)
    expected = ((x[0] - y[0] * known)[fitted] ** 2).mean()
    assert mse.item() == pytest.approx(expected.item(), rel=1e-6) and objective is mse
    _, root = Objective(problem, FitConfig(loss="rmse"))(x)
    assert root.item() == pytest.approx(expected.sqrt().item(), rel=1e-6)
    _, with_tv = Objective(problem, FitConfig(tv_weight=0.5))(x)
    assert with_tv.item() == pytest.approx(expected.item() + 0.5 * total_variation(x).item(), rel=1e-6)


def test_the_perturbation_ramps_from_its_start():
    z = torch.zeros(1, 2, 4, 4)
    p = Perturbation(z, FitConfig(reg_noise_std=0.1, reg_noise_start=0.0, reg_noise_ramp=10),
                     torch.Generator().manual_seed(0))
    p.draw(5)
    assert p.std == pytest.approx(0.05) and p.std_now.item() == pytest.approx(0.05)
    assert torch.allclose(p.eager_input(), p.graph_input())  # one input, whichever way the step runs
    p.draw(20)
    assert p.std == pytest.approx(0.1)
    quiet = Perturbation(z, FitConfig(reg_noise_std=0.0), torch.Generator())
    quiet.draw(1)
    assert quiet.eager_input() is z


def test_a_step_returns_the_output_before_its_update_and_applies_it():
    net, z = _setup((16, 16))
    y = as_tensor(smooth_image(16, 16))
    cfg = FitConfig(reg_noise_std=0.0, precision="fp32", channels_last=False)
    stepper = Stepper(net, z, Objective(Problem(y, Identity()), cfg), cfg, torch.Generator())
    with torch.no_grad():
        before = net(z).clone()
    weights = [p.detach().clone() for p in net.parameters()]
    out, loss = stepper.step(1)
    assert torch.allclose(out, before, atol=1e-6) and not out.requires_grad
    assert loss.item() == pytest.approx(((before - y) ** 2).mean().item(), rel=1e-5)
    assert any(not torch.equal(w, p) for w, p in zip(weights, net.parameters()))


# ---- the monitor and the final pick --------------------------------------------------------------------------


def test_logged_steps_are_the_first_every_kth_the_last_and_every_saved_one():
    y = as_tensor(smooth_image(16, 16))
    cfg = FitConfig(iterations=23, log_every=10, save_every=7)
    net, z = _setup((16, 16))
    monitor = Monitor(Problem(y, Identity()), cfg, Stepper(net, z, Objective(Problem(y, Identity()), cfg), cfg,
                                                           torch.Generator()), OutputEMA(0.99), (), None, 0.0)
    assert [it for it in range(1, 24) if monitor.logs(it)] == [1, 7, 10, 14, 20, 21, 23]


def test_ssim_in_logged_rows_stays_within_its_share_of_the_run(monkeypatch):
    gt = smooth_image(32, 32)
    problem = Problem(as_tensor(noisy(gt)), Identity(), ground_truth=as_tensor(gt))
    cfg = FitConfig(iterations=30, log_every=5, stop="none")
    monkeypatch.setattr(scores_module, "SSIM_SHARE", 0.0)  # the first row's SSIM already spends the share
    rows = _fit(problem, cfg).history
    assert [("ssim_output" in r) for r in rows] == [True] + [False] * (len(rows) - 1)
    assert all("psnr_ema" in r and "mse_output" in r for r in rows)
    monkeypatch.setattr(scores_module, "SSIM_SHARE", 1e9)
    assert all("ssim_ema" in r for r in _fit(problem, cfg).history)


def test_the_pick_follows_best_by_the_rule_and_held_out_pixels():
    ema, snap = torch.full((1,), 7.0), BestSnapshot()
    snap.update(0.5, torch.full((1,), 3.0), 30)
    stopper = AutoStop(patience=300, rise=1.25, lag=100, min_gain_db=0.05, min_iterations=200)
    assert pick(FitConfig(best_by="loss"), stopper, snap, ema, 90)[1] == 30
    assert pick(FitConfig(), stopper, snap, ema, 90) == (ema, 90)  # no rule fired: still improving
    stopper.held_image, stopper.held_iteration = torch.full((1,), 5.0), 60
    assert pick(FitConfig(), stopper, snap, ema, 90)[1] == 60
    stopper.fired, stopper.image, stopper.iteration = "peak", torch.full((1,), 4.0), 40
    assert pick(FitConfig(), stopper, snap, ema, 90)[1] == 40


# ---- the loop ------------------------------------------------------------------------------------------------


def test_the_fit_brings_the_error_below_the_noise(device):
    gt = smooth_image(32, 32)
    y = noisy(gt)
    problem = Problem(as_tensor(y).to(device), Identity().to(device), ground_truth=as_tensor(gt).to(device))
    cfg = FitConfig(iterations=120, log_every=20, stop="none", loss="rmse", adam_betas=(0.85, 0.9))  # fast preset
    res = _fit(problem, cfg, device=device)
    ema = res.ema[0].permute(1, 2, 0).cpu().numpy()
    assert metrics.psnr(ema, gt) > metrics.psnr(y, gt) + 3
    assert [r["iteration"] for r in res.history] == [1, 20, 40, 60, 80, 100, 120]
    assert res.history[-1]["psnr_ema"] == pytest.approx(metrics.psnr(ema, gt), abs=1e-3)


def test_same_seed_same_fit_other_seed_differs():
    problem = Problem(as_tensor(noisy(smooth_image(32, 32))), Identity())
    cfg = FitConfig(iterations=15, log_every=5)
    a, b, c = _fit(problem, cfg, seed=3), _fit(problem, cfg, seed=3), _fit(problem, cfg, seed=4)
    assert torch.equal(a.output, b.output) and torch.equal(a.ema, b.ema)
    assert not torch.equal(a.output, c.output)


def test_a_callback_or_the_stop_event_ends_the_run_and_ctrl_c_keeps_the_result():
    problem = Problem(as_tensor(noisy(smooth_image(32, 32))), Identity())
    cfg = FitConfig(iterations=100, log_every=5)
    seen = []
    r = _fit(problem, cfg, callbacks=[lambda rec: seen.append(rec.row["iteration"]) or rec.row["iteration"] >= 20])
    assert (r.stopped_by, r.iterations, seen) == ("callback", 20, [1, 5, 10, 15, 20])
    stop = threading.Event()
    r = _fit(problem, cfg, cancel=stop, callbacks=[lambda rec: rec.row["iteration"] == 10 and stop.set()])
    assert (r.stopped_by, r.iterations) == ("interrupted", 10)

    def interrupt(rec):
        if rec.row["iteration"] == 10:
            raise KeyboardInterrupt

    r = _fit(problem, cfg, callbacks=[interrupt])
    assert (r.stopped_by, r.iterations) == ("interrupted", 10) and torch.isfinite(r.output).all()


def test_backtracking_recovers_from_a_blowup_in_the_loop():
    res = sabotaged_fit()
    assert len(res.events) == 1 and res.events[0].iteration == 60 and res.events[0].restored_iteration == 50
    losses = {row["iteration"]: row["loss"] for row in res.history if not row["event"]}
    assert losses[100] < 1.5 * losses[50]  # back on track after the restore
    assert [row["event"].split(",")[0] for row in res.history if row["event"]] == ["backtrack to 50"]


def test_the_discrepancy_stop_follows_the_noise_factor():
    """The loss is compared with factor x sigma^2: a factor far above 1 fires at the first check allowed."""
    problem = Problem(as_tensor(noisy(smooth_image())), Identity())
    kw = dict(noise_sigma=25 / 255, stop_min_iterations=20, iterations=400, log_every=10)
    at_once = _fit(problem, FitConfig(stop_noise_factor=50.0, **kw))
    assert (at_once.stopped_by, at_once.iterations) == ("discrepancy", 20)
    assert _fit(problem, FitConfig(stop_noise_factor=1.0, **kw)).iterations > 20


def test_kept_pixels_reach_callbacks_and_rows_but_not_the_fit():
    gt = smooth_image(32, 32)
    known = np.random.default_rng(3).random((32, 32)) > 0.5
    y = as_tensor(gt * known[..., None])
    op = Mask(torch.from_numpy(known.astype(np.float32)))
    cfg = FitConfig(iterations=20, log_every=10)
    seen = []
    kept = _fit(Problem(y, op, as_tensor(gt), keep_measured=True), cfg, callbacks=[lambda r: seen.append(r.ema)])
    plain = _fit(Problem(y, op, as_tensor(gt)), cfg)
    assert torch.equal(kept.output, plain.output)  # the same fit: FitResult holds the network's own images
    mask = torch.from_numpy(known).expand(1, 3, 32, 32)
    assert all(torch.equal(e[mask], y[mask]) for e in seen) and len(seen) == 3
    assert all(k["psnr_ema"] > p["psnr_ema"] for k, p in zip(kept.history, plain.history))
    assert [k["psnr_obs_ema"] for k in kept.history] == [p["psnr_obs_ema"] for p in plain.history]
    assert not Problem(y, Identity(), keep_measured=True).keeps_measured  # no pixel is measured as it is
