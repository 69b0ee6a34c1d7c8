"""The default denoising method: DIP's result averaged with CBM3D's, CBM3D told the noise as DIP's fit found it."""

from __future__ import annotations

import threading
import warnings

import numpy as np
import pytest

import deepprior
from deepprior.classical.methods import cbm3d, cbm3d_spectrum, noise_spectrum
from deepprior.imaging import metrics
from deepprior.imaging.camera import camera_noise
from deepprior.imaging.noise import patch_noise_sigma
from deepprior.jobs.combine import DIP_WEIGHT
from deepprior.jobs.compare import compare_classical
from helpers import SMALL, noisy, smooth_image

FEW = dict(SMALL, iterations=60, stop="none", tile=None)


def test_noise_spectrum_holds_the_residual_power_per_channel():
    """Parseval: the spectrum's mean over frequencies is H * W times each channel's variance; a white residual
    has a flat spectrum, one blurred across pixels puts its power at low frequencies."""
    rng = np.random.default_rng(0)
    white = rng.normal(0, [0.05, 0.1, 0.2], (64, 48, 3))
    spec = noise_spectrum(white)
    assert spec.shape == (64, 48, 3)
    np.testing.assert_allclose(spec.mean(axis=(0, 1)), 64 * 48 * white.var(axis=(0, 1)), rtol=1e-9)
    blurred = white + np.roll(white, 1, 0) + np.roll(white, 1, 1) + np.roll(white, (1, 1), (0, 1))
    low = noise_spectrum(blurred)[..., 0]
    assert low[:3, :3].mean() > 4 * low[24:40, 16:32].mean()
    flat = spec[..., 0]
    assert flat[:3, :3].mean() < 2 * flat[24:40, 16:32].mean()


def test_camera_noise_returns_the_mean_of_dip_and_cbm3d_told_the_spectrum():
    gt = smooth_image(64, 64)
    y = camera_noise(gt, 15, seed=1)
    r = deepprior.restore(y, "denoise", ground_truth=gt, **FEW)
    m = r.metrics
    assert r.result == m["result"] == "combined" and m["noise"]["model"] == "correlated"
    assert m["method"]["name"] == "dip+cbm3d" and m["method"]["applied"] and m["method"]["dip_result"] == "best"
    expected_cbm3d = cbm3d_spectrum(y, noise_spectrum(y - r.best), threads=1)
    assert m["method"]["dip_weight"] == DIP_WEIGHT["correlated"] == 0.5
    np.testing.assert_array_equal(r.image, (0.5 * r.best + 0.5 * expected_cbm3d).astype(np.float32))
    assert m["combined"]["gt"]["psnr"] > m["best"]["gt"]["psnr"] > m["input"]["gt"]["psnr"]
    alone = deepprior.restore(y, "denoise", ground_truth=gt, method="dip", **FEW)
    assert alone.result == "best" and "method" not in alone.metrics and "combined" not in alone.metrics
    np.testing.assert_array_equal(alone.image, r.best)  # the fit is the same; only what is returned differs


def test_white_noise_on_a_grey_image_gives_cbm3d_the_level():
    gt = smooth_image(48, 48, c=1)
    y = noisy(gt, 25, seed=2)
    r = deepprior.restore(y, "denoise", ground_truth=gt, **FEW)
    facts = r.metrics["method"]
    assert r.image.shape == (48, 48, 1) and facts["cbm3d_noise"] == "level" and facts["cbm3d_level"] == "patch"
    assert facts["cbm3d_sigma"] == patch_noise_sigma(y)  # not the wavelet level the stop reads
    w = facts["dip_weight"]
    assert w == DIP_WEIGHT["white"] == 0.3  # CBM3D weighs more on white noise
    np.testing.assert_array_equal(r.image, (w * r.best + (1 - w) * cbm3d(y, facts["cbm3d_sigma"], threads=1))
                                  .astype(np.float32))
    assert metrics.psnr(r.image, gt) > metrics.psnr(y, gt) + 3


def test_the_comparison_shows_the_cbm3d_the_default_mixes_in_and_a_given_level_stands():
    gt = smooth_image(48, 48)
    y = noisy(gt, 20, seed=3)
    job = deepprior.plan(y, "denoise", ground_truth=gt, **FEW)
    r = deepprior.run(job)
    compare_classical(job, r)
    assert r.metrics["compare"]["cbm3d"]["sigma"] == r.metrics["method"]["cbm3d_sigma"] == patch_noise_sigma(y)
    given = deepprior.restore(y, "denoise", noise_sigma=20 / 255, **FEW).metrics["method"]
    assert given["cbm3d_level"] == "given" and given["cbm3d_sigma"] == 20 / 255


def test_an_interrupted_run_returns_dip_alone():
    gt = smooth_image(48, 48)
    y = noisy(gt, 25)
    cancel = threading.Event()

    def stop_at_20(record):
        if record.row["iteration"] >= 20:
            cancel.set()
        return False

    r = deepprior.restore(y, "denoise", callbacks=[stop_at_20], cancel=cancel, **FEW)
    assert r.metrics["interrupted"] and r.result == "best"
    assert r.metrics["method"] == {"name": "dip+cbm3d", "applied": False, "why": "interrupted"}


def test_method_is_for_denoising_and_the_paper_preset_is_dip_alone():
    gt = smooth_image(48, 48)
    mask = np.ones((48, 48), bool)
    mask[10:20, 10:20] = False
    with pytest.raises(deepprior.InputError, match="method 'dip\\+cbm3d' is for denoising"):
        deepprior.plan(gt, "inpaint", mask=mask, method="dip+cbm3d")
    with pytest.raises(deepprior.InputError, match="method"):
        deepprior.plan(gt, "denoise", method="cbm3d")
    assert deepprior.plan(gt, "denoise", preset="paper").fit.method == "dip"
    assert deepprior.plan(gt, "denoise").fit.method == "dip+cbm3d"


def test_one_thread_cbm3d_gives_the_same_image_every_time():
    """bm3d's threads sum in varying order (outputs differ by ~1e-7 on small images); a seeded run must not."""
    y = np.random.default_rng(0).random((48, 48, 3), dtype=np.float32)
    spectrum = noise_spectrum(y - 0.5)
    for make in (lambda: cbm3d(y, 0.1, threads=1), lambda: cbm3d_spectrum(y, spectrum, threads=1)):
        first = make()
        assert all(np.array_equal(first, make()) for _ in range(3))


def test_a_flat_image_where_cbm3d_fails_returns_dip_alone():
    """bm3d's colour transform divides by each channel's range, which is 0 on a flat image: no NaN comes back."""
    flat = np.full((40, 40, 3), 0.5, np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nor a warning from inside bm3d
        r = deepprior.restore(flat, "denoise", noise_sigma=5 / 255, **FEW)
    assert np.isfinite(r.image).all() and r.metrics["method"]["dip_weight"] == 1.0
    np.testing.assert_array_equal(r.image, r.best)
