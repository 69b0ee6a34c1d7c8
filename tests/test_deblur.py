"""Deblurring: the blur operator and its kernels, the deblur task through the plan and the command line, and
the classical deconvolutions it is compared with."""

import json

import numpy as np
import pytest
import torch

import deepprior
from deepprior.classical.methods import richardson_lucy, wiener
from deepprior.errors import InputError
from deepprior.imaging import metrics
from deepprior.imaging.degrade import blur_image
from deepprior.operators import Blur, check_kernel, gaussian_kernel, motion_kernel, parse_kernel
from deepprior.operators.blur import blur
from helpers import SMALL, assert_user_error, shapes_image, smooth_image


@pytest.mark.parametrize("kernel", [gaussian_kernel(1.2), motion_kernel(7, 30), motion_kernel(4, 90)])
def test_kernels_are_normalised_odd_and_keep_a_constant(kernel):
    assert kernel.shape[0] % 2 == 1 and kernel.shape[1] % 2 == 1 and kernel.min() >= 0
    assert kernel.sum() == pytest.approx(1.0, abs=1e-6)
    x = torch.full((1, 3, 20, 24), 0.4)
    assert torch.allclose(Blur(kernel)(x), x, atol=1e-6)  # mirrored borders: no dark frame


def test_the_blur_is_a_convolution_and_its_kernel_a_buffer(device):
    k = np.zeros((3, 3), np.float32)
    k[1, 2] = 1.0  # all the weight one pixel to the right of the centre
    x = torch.zeros(1, 1, 5, 5)
    x[0, 0, 2, 2] = 1.0
    y = Blur(k).to(device)(x.to(device))
    assert y[0, 0, 2, 3].item() == 1.0 and y.sum().item() == 1.0  # a convolution shifts the impulse that way
    assert "kernel" in dict(Blur(k).named_buffers())
    horizontal = motion_kernel(5, 0)
    assert horizontal[horizontal.shape[0] // 2].sum() == pytest.approx(1.0)  # a horizontal line
    assert np.allclose(motion_kernel(5, 90), horizontal.T, atol=1e-6)


def test_bad_kernels_are_refused():
    for spec in ("gaussian", "gaussian:-1", "motion:5", "box:3", "motion:0,10"):
        with pytest.raises(InputError) as e:
            parse_kernel(spec)
        assert e.value.setting == "kernel"
    for bad in (np.zeros((3, 3)), -np.ones((3, 3)), np.ones((3, 3, 3)), np.full((3, 3), np.nan)):
        with pytest.raises(InputError):
            check_kernel(bad)
    assert check_kernel(np.ones((2, 4))).shape == (3, 5)  # even sides padded, so the centre is a pixel


def test_deblurring_beats_the_blurred_input_and_the_job_keeps_its_kernel():
    gt = shapes_image(48)
    kernel = gaussian_kernel(1.5)
    y = blur_image(gt, kernel)
    r = deepprior.restore(y, "deblur", kernel=kernel, ground_truth=gt, iterations=200, log_every=50,
                          noise_sigma=1 / 255, **SMALL)
    assert r.metrics["best"]["gt"]["psnr"] > metrics.psnr(y, gt) + 1
    config = json.loads(json.dumps(r.config))
    assert np.allclose(config["kernel"], check_kernel(kernel))
    again = deepprior.plan_from_config(config, y, ground_truth=gt)
    assert np.array_equal(again.inputs.kernel, r.job.inputs.kernel)
    with pytest.raises(InputError, match="needs a kernel"):
        deepprior.plan(y, "deblur", **SMALL)
    with pytest.raises(InputError, match="too small for the"):
        deepprior.plan(y, "deblur", kernel=motion_kernel(40, 0), tile=24, **SMALL)


def test_the_classical_deconvolutions_sharpen_the_same_input():
    gt = shapes_image(64)
    kernel = gaussian_kernel(1.5)
    y = blur_image(gt, kernel)
    for method in (richardson_lucy, wiener):
        assert metrics.psnr(method(y, kernel), gt) > metrics.psnr(y, gt) + 0.5, method.__name__


def test_deblur_and_degrade_blur_from_the_command_line(run, tmp_path, clean_png, write_png):
    k = np.zeros((5, 5), np.uint8)
    k[2, :] = 255  # a horizontal motion, drawn
    write_png("k.png", k)
    assert run("degrade", clean_png, "--blur", "k.png", "--noise", "2", "-o", "b.png").code == 0
    res = run("deblur", "b.png", "--kernel", "k.png", "--gt", clean_png, "-o", "s.png", "--report", "rep",
              "--compare", "--iters", "3", "--channels-down", "8x2", "--channels-up", "8x2", "--channels-skip",
              "2x2", "--input-channels", "4", "--quiet")
    assert res.code == 0, res.err
    m = json.loads((tmp_path / "rep" / "metrics.json").read_text())
    assert set(m["compare"]) == {"richardson_lucy", "wiener"} and m["task"] == "deblur"
    cfg = json.loads((tmp_path / "rep" / "config.json").read_text())
    assert cfg["inputs"]["kernel_spec"] == "k.png" and len(cfg["kernel"]) == 5
    assert_user_error(run("deblur", "b.png", "--kernel", "box:3", "-o", "t.png"), "gaussian:SIGMA", "(--kernel)")
    assert_user_error(run("degrade", clean_png, "--blur", "gaussian:1", "--jpeg", "50", "-o", "x.png"),
                      "exactly one")


def test_the_blur_of_degrade_is_the_operator_of_deblur():
    gt = smooth_image(40, 40)
    k = motion_kernel(6, 20)
    x = torch.from_numpy(gt).permute(2, 0, 1)[None]
    expected = blur(x, torch.from_numpy(check_kernel(k)))[0].permute(1, 2, 0).numpy()
    np.testing.assert_allclose(blur_image(gt, k), np.clip(expected, 0, 1), atol=1e-6)
