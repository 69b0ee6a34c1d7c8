"""Camera-like noise: its level at mid-grey, signal-dependent and spatially correlated as demosaicing makes it,
seeded; and ``degrade --camera-noise``."""

import numpy as np
import pytest

from deepprior.imaging.camera import bayer_channels, camera_noise, linear_to_srgb, srgb_to_linear
from deepprior.imaging.noise import estimate_noise_sigma
from helpers import pixels, smooth_image


@pytest.mark.parametrize("level", [8, 15])
def test_the_level_is_the_noise_std_at_mid_grey_and_the_noise_is_correlated(level):
    flat = np.full((96, 96, 3), 0.5, np.float32)
    d = (camera_noise(flat, level, seed=1, jpeg=None) - flat) * 255
    assert d.std() == pytest.approx(level, rel=0.12)
    right = np.corrcoef(d[:, :-1, 1].ravel(), d[:, 1:, 1].ravel())[0, 1]
    assert right > 0.2  # demosaicing spreads each photosite's noise to its neighbours
    assert estimate_noise_sigma(flat + d / 255) * 255 < 0.5 * level  # what a white-noise estimator misses


def test_shot_noise_grows_with_the_light_and_the_jpeg_smooths():
    dark, bright = np.full((64, 64, 3), 0.1, np.float32), np.full((64, 64, 3), 0.6, np.float32)
    lin = [((camera_noise(x, 15, 0, jpeg=None) - x)).std() for x in (dark, bright)]
    assert lin[0] != pytest.approx(lin[1], rel=0.05)  # signal-dependent, in sRGB too
    raw = camera_noise(bright, 15, 0, jpeg=None)
    assert (camera_noise(bright, 15, 0) - bright).std() < (raw - bright).std()


def test_seeded_greyscale_and_the_tone_curve():
    img = smooth_image(32, 32)
    assert np.array_equal(camera_noise(img, 10, 3), camera_noise(img, 10, 3))
    assert not np.array_equal(camera_noise(img, 10, 3), camera_noise(img, 10, 4))
    grey = camera_noise(img[..., :1], 10, 0, jpeg=None)
    assert grey.shape == (32, 32, 1) and grey.std() > 0
    x = np.linspace(0, 1, 11)
    np.testing.assert_allclose(linear_to_srgb(srgb_to_linear(x)), x, atol=1e-9)
    cfa = bayer_channels(4, 4)
    assert cfa.tolist()[:2] == [[0, 1, 0, 1], [1, 2, 1, 2]]  # RGGB


def test_degrade_camera_noise(run, tmp_path, clean_png):
    assert run("degrade", clean_png, "--camera-noise", "15", "-o", "a.png").code == 0
    assert run("degrade", clean_png, "--camera-noise", "15", "-o", "b.png").code == 0
    a, clean = pixels(tmp_path / "a.png").astype(int), pixels(clean_png).astype(int)
    assert np.array_equal(a, pixels(tmp_path / "b.png")) and 5 < (a - clean).std() < 20
