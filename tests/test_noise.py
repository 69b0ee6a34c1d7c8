"""The noise estimates and the noise model: white noise keeps its per-tile wavelet level, camera-like noise is
told apart and read from the flattest blocks, a given level or model stands, and the stop uses the model's
factor."""

import numpy as np
import pytest
import torch

import deepprior
from deepprior import Problem
from deepprior.config import FitConfig
from deepprior.fitting.monitor import Monitor
from deepprior.fitting.objective import Objective
from deepprior.fitting.stepper import Stepper
from deepprior.fitting.tricks import OutputEMA
from deepprior.imaging.camera import camera_noise
from deepprior.imaging.noise import (CORRELATED_RATIO, estimate_noise, estimate_noise_sigma, flat_block_sigma,
                                    patch_noise_sigma)
from deepprior.nets import build_net, make_input
from deepprior.operators import Identity
from helpers import SMALL, as_tensor, holed, noisy, smooth_image


def test_the_two_estimates_agree_on_white_noise_and_part_on_camera_noise():
    gt = smooth_image(96, 96)
    white = noisy(gt, 20)
    assert flat_block_sigma(white) * 255 == pytest.approx(20, rel=0.15)
    assert estimate_noise(white).model == "white" and estimate_noise(white).ratio < CORRELATED_RATIO
    camera = camera_noise(gt, 15, seed=0)
    e = estimate_noise(camera)
    true = (camera - gt).std() * 255
    assert e.model == "correlated" and e.flat_blocks * 255 == pytest.approx(true, rel=0.25)
    assert e.wavelet * 255 < 0.6 * true  # the white-noise estimate misses most of it


def grating(n: int = 96) -> np.ndarray:
    """Two fine sinusoidal gratings (periods of 2-4 px): most of their power at the finest scale, in four
    directions of patch space."""
    yy, xx = np.mgrid[0:n, 0:n]
    t = 0.5 + 0.15 * np.sin(2 * np.pi * (xx / 2.3 + yy / 3.1)) + 0.15 * np.sin(2 * np.pi * (xx / 3.7 - yy / 2.1))
    return np.repeat(t[..., None], 3, axis=-1).astype(np.float32)


@pytest.mark.parametrize("sigma", [10, 20])
def test_the_patch_estimate_reads_white_noise_through_fine_texture(sigma):
    y = noisy(grating(), sigma)
    assert estimate_noise_sigma(y) * 255 > 3 * sigma  # the wavelet estimate takes the grating for noise
    assert patch_noise_sigma(y) * 255 == pytest.approx(sigma, rel=0.03)
    assert patch_noise_sigma(noisy(smooth_image(96, 96), sigma)) * 255 == pytest.approx(sigma, rel=0.03)


def test_the_patch_estimate_on_large_grey_and_tiny_images():
    assert patch_noise_sigma(noisy(smooth_image(900, 900), 20)) * 255 == pytest.approx(20, rel=0.02)  # a grid
    assert patch_noise_sigma(noisy(smooth_image(64, 64, c=1), 20)) * 255 == pytest.approx(20, rel=0.05)
    tiny = noisy(smooth_image(20, 20), 20)  # 256 patches of 75 values: too few, the wavelet estimate answers
    assert patch_noise_sigma(tiny) == estimate_noise_sigma(tiny)


def test_the_plan_resolves_the_model_and_each_tiles_level():
    gt = smooth_image(128, 128)
    white = deepprior.plan(noisy(gt, 20), "denoise", workers=2)
    assert white.fit.noise_model == "white" and len({t.noise_sigma for t in white.tiling.tiles}) == 2
    tiles = [noisy(gt, 20)[t.observed()] for t in white.tiling.tiles]
    assert [t.noise_sigma for t in white.tiling.tiles] == [estimate_noise_sigma(x) for x in tiles]  # as before
    camera = deepprior.plan(camera_noise(gt, 15, 0), "denoise", workers=2)
    assert camera.fit.noise_model == "correlated" and camera.noise is not None
    assert {t.noise_sigma for t in camera.tiling.tiles} == {camera.noise.flat_blocks} == {camera.noise_level}
    forced = deepprior.plan(camera_noise(gt, 15, 0), "denoise", workers=2, noise_model="white")
    assert forced.fit.noise_model == "white" and forced.noise_level == forced.noise.wavelet
    given = deepprior.plan(camera_noise(gt, 15, 0), "denoise", noise_sigma=0.05)
    assert (given.fit.noise_model, given.noise, given.noise_level) == ("white", None, 0.05)
    assert deepprior.plan(gt, "inpaint", mask=holed(128, 128)).noise_level is None


def test_the_stop_uses_the_models_factor():
    y = as_tensor(noisy(smooth_image(32, 32)))
    net = build_net("skip", deepprior.NetConfig(**SMALL), 3, generator=torch.Generator().manual_seed(0))
    z = make_input(deepprior.NetConfig(**SMALL), 32, 32, generator=torch.Generator(), device=torch.device("cpu"))

    def noise_var(**kw):
        cfg = FitConfig(noise_sigma=0.1, stop_noise_factor=1.02, stop_correlated_factor=1.5, **kw)
        p = Problem(y, Identity())
        return Monitor(p, cfg, Stepper(net, z, Objective(p, cfg), cfg, torch.Generator()), OutputEMA(0.99), (),
                       None, 0.0).stopper.noise_var

    assert noise_var(noise_model="white") == pytest.approx(1.02 * 0.01)
    assert noise_var(noise_model="correlated") == pytest.approx(1.5 * 0.01)


def test_the_report_says_what_it_assumed_of_the_noise():
    gt = smooth_image(64, 64)
    r = deepprior.restore(camera_noise(gt, 15, 0), "denoise", iterations=3, **SMALL)
    noise = r.metrics["noise"]
    assert noise["model"] == "correlated" and noise["estimated"] and noise["ratio"] >= CORRELATED_RATIO
    assert noise["sigma"] == noise["flat_blocks"] == r.metrics["per_tile"][0]["noise_sigma"]
    masked = deepprior.restore(gt, "inpaint", mask=holed(64, 64), iterations=2, **SMALL)
    assert masked.metrics["noise"] is None
