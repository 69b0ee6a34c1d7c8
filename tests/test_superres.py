"""Super-resolution: the Lanczos-2 operator and the degrade/superres pairing (DIP against bicubic: test_run)."""

import math

import numpy as np
import pytest
import torch

from deepprior.errors import InputError
from deepprior.imaging import metrics
from deepprior.imaging.degrade import centre_crop_multiple, downscale_image
from deepprior.operators import Downsample, lanczos_downsample, lanczos_kernel


def _paper_kernel_2d(factor: int) -> np.ndarray:
    """The reference code's get_kernel(factor, 'lanczos', phase=0.5, kernel_width=4f+1, support=2)."""
    width, support = 4 * factor + 1, 2
    kernel = np.zeros([width - 1, width - 1])
    center = (width + 1) / 2.0
    for i in range(1, kernel.shape[0] + 1):
        for j in range(1, kernel.shape[1] + 1):
            di, dj = abs(i + 0.5 - center) / factor, abs(j + 0.5 - center) / factor
            val = 1.0
            for d in (di, dj):
                if d != 0:
                    val *= support * math.sin(math.pi * d) * math.sin(math.pi * d / support) / (math.pi**2 * d * d)
            kernel[i - 1][j - 1] = val
    return kernel / kernel.sum()


@pytest.mark.parametrize("factor", [2, 4, 8])
def test_separable_kernel_equals_the_papers_2d_kernel(factor):
    k = lanczos_kernel(factor).double().numpy()
    assert k.shape == (4 * factor,)
    np.testing.assert_allclose(np.outer(k, k), _paper_kernel_2d(factor), atol=1e-7)


@pytest.mark.parametrize("factor", [2, 4, 8])
@pytest.mark.parametrize("lr_size", [(5, 7), (9, 4), (16, 16)])
def test_downsampler_shape_and_constant_exactness(factor, lr_size):
    h, w = lr_size
    x = torch.full((1, 3, h * factor, w * factor), 0.37)
    y = Downsample(factor)(x)
    assert y.shape == (1, 3, h, w)
    assert torch.allclose(y, torch.full_like(y, 0.37), atol=1e-6)


def test_downsampler_matches_a_dense_2d_convolution():
    factor = 4
    g = torch.Generator().manual_seed(0)
    x = torch.rand(1, 2, 32, 24, generator=g)
    k2 = torch.from_numpy(_paper_kernel_2d(factor)).float()
    pad = (k2.shape[0] - factor) // 2
    xp = torch.nn.functional.pad(x, (pad,) * 4, mode="replicate")
    dense = torch.nn.functional.conv2d(xp, k2.expand(2, 1, *k2.shape), stride=factor, groups=2)
    assert torch.allclose(lanczos_downsample(x, factor), dense, atol=1e-6)


def test_downsampler_refuses_sizes_and_factors():
    with pytest.raises(InputError, match="multiple of 4"):
        Downsample(4)(torch.rand(1, 3, 30, 32))
    with pytest.raises(InputError, match="factor"):
        Downsample(5)


def test_centre_crop_and_degrade_pairing():
    hr = np.random.default_rng(0).random((37, 50, 3)).astype(np.float32)
    cropped = centre_crop_multiple(hr, 4)
    assert cropped.shape == (36, 48, 3)
    assert np.array_equal(cropped, hr[0:36, 1:49])
    lr = downscale_image(cropped, 4)
    assert lr.shape == (9, 12, 3) and lr.min() >= 0 and lr.max() <= 1
    op = Downsample(4)
    same = op(torch.from_numpy(cropped).permute(2, 0, 1)[None]).clamp(0, 1)[0].permute(1, 2, 0).numpy()
    np.testing.assert_allclose(lr, same, atol=1e-6)


def test_psnr_y_protocol():
    a = np.zeros((20, 20, 3))
    b = a.copy()
    b[:4] = 1.0  # differences only inside the 4 px border are ignored
    assert metrics.psnr_y(a, b) == float("inf")
    b[10, 10] = [1.0, 0.0, 0.0]  # one pixel: luma error 0.299 * 219 / 255
    expected = -10 * math.log10((0.299 * 219 / 255) ** 2 / 144)
    assert metrics.psnr_y(a, b) == pytest.approx(expected)
