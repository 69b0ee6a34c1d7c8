"""Held-out pixels: left out of the loss, scored at each logged step, and the stop that reads them."""

import numpy as np
import pytest
import torch

import deepprior
from deepprior import Problem, fit
from deepprior.config import FitConfig, NetConfig
from deepprior.errors import InputError
from deepprior.fitting.stopping import AutoStop
from deepprior.imaging import metrics
from deepprior.imaging.masks import drop_mask, holdout_mask
from deepprior.nets import build_net, make_input
from deepprior.operators import Mask
from helpers import SMALL, smooth_image


def test_holdout_mask_draws_its_fraction_of_the_known_pixels_only_and_is_seeded():
    known = drop_mask((40, 30), 0.5, seed=3)
    held = holdout_mask(known, 0.1, seed=3)
    assert held.shape == known.shape and held.dtype == bool
    assert not (held & ~known).any()  # only measured pixels can be held out
    assert held.sum() == round(0.1 * known.sum())
    assert np.array_equal(held, holdout_mask(known, 0.1, seed=3))
    assert not np.array_equal(held, holdout_mask(known, 0.1, seed=4))
    assert not holdout_mask(known, 0.0005, seed=0).any()  # 0.3 pixels: rounds to none


def test_autostop_validation_fires_after_patience_and_picks_the_best_held_out_ema():
    # the held-out score peaks at step 1000 while the fit of the other pixels keeps improving
    stop = AutoStop(patience=300, rise=1.25, lag=100, min_gain_db=0.05, min_iterations=200, peak=False)
    fired = None
    for it in range(25, 3001, 25):
        held = 30 - abs(it - 1000) / 100
        if stop.decide(it, 1.0 / it, 0.02 * it, torch.full((1,), float(it)), held_db=held):
            fired = it
            break
    assert stop.fired == "validation" and fired == 1300
    assert stop.iteration == 1000 and stop.image.item() == 1000.0 and stop.held_db == 30


def test_autostop_other_rules_return_the_best_held_out_ema_too():
    stop = AutoStop(patience=300, rise=1.25, lag=100, min_gain_db=0.05, min_iterations=200, noise_var=1.0)
    for it in range(25, 3001, 25):
        # the loss reaches the noise level at step 800, after the held-out score peaked at 600
        if stop.decide(it, 1.0, 10.0 + 0.01 * it, torch.full((1,), float(it)), loss=2.0 - it / 800,
                       held_db=30 - abs(it - 600) / 100):
            break
    assert stop.fired == "discrepancy" and stop.fired_at == 825 and stop.image.item() == 600.0


def _fit(obs, known, held, iterations=30):
    cfg = NetConfig(**SMALL)
    net = build_net("skip", cfg, 3, generator=torch.Generator().manual_seed(0))
    z = make_input(cfg, 32, 32, generator=torch.Generator().manual_seed(0), device=torch.device("cpu"))
    y = torch.from_numpy(obs).permute(2, 0, 1)[None]
    h = None if held is None else torch.from_numpy(held.astype(np.float32))[None, None]
    problem = Problem(y, Mask(torch.from_numpy(known.astype(np.float32))), holdout=h)
    return fit(problem, net, z, FitConfig(iterations=iterations, log_every=10, precision="fp32"),
               generator=torch.Generator().manual_seed(1))


def test_held_out_values_never_reach_the_fit_but_are_scored():
    gt = smooth_image(32, 32)
    known = drop_mask((32, 32), 0.5, seed=0)
    held = holdout_mask(known, 0.2, seed=0)
    obs = gt * known[..., None]
    other = obs.copy()
    other[held] = 1.0  # change only the held-out values
    a, b = _fit(obs, known, held), _fit(other, known, held)
    assert torch.equal(a.output, b.output)  # the same fit: the loss never saw them
    assert [r["loss"] for r in a.history] == [r["loss"] for r in b.history]
    ema = a.ema[0].permute(1, 2, 0).numpy()
    for run, seen in ((a, obs), (b, other)):  # but they are scored, against the values given
        assert run.history[-1]["psnr_holdout_ema"] == pytest.approx(metrics.psnr(ema, seen, held[..., None]
                                                                                 .repeat(3, -1)), abs=1e-4)
    assert a.history[-1]["psnr_holdout_ema"] > b.history[-1]["psnr_holdout_ema"] + 1
    plain = _fit(obs, known, None)
    assert not torch.equal(a.output, plain.output) and "psnr_holdout_ema" not in plain.history[-1]


def test_restore_with_holdout_returns_the_held_pixels_as_measured():
    gt = smooth_image(48, 48)
    known = drop_mask((48, 48), 0.5, seed=1)
    obs = gt * known[..., None]
    r = deepprior.restore(obs, "reconstruct", mask=known, ground_truth=gt, iterations=60, log_every=10,
                          holdout=0.1, channels_down=(16, 16), channels_up=(16, 16), channels_skip=(4, 4),
                          input_channels=8)
    held = holdout_mask(known, 0.1, seed=0)
    assert r.metrics["holdout_pixels"] == held.sum() > 0
    assert np.allclose(r.image[held], obs[held], atol=1 / 255)  # keep_measured (fast preset) covers them
    rows = [row for row in r.history if "psnr_holdout_ema" in row]
    best = max(rows, key=lambda row: row["psnr_holdout_ema"])
    assert r.metrics["best_iteration"] == best["iteration"]  # the pick is the best held-out EMA


@pytest.mark.parametrize("bad", [-0.1, 0.5, 1.0])
def test_bad_holdout_fractions_are_refused(bad):
    with pytest.raises(InputError, match="holdout"):
        FitConfig(holdout=bad)
