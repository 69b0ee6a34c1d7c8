"""Shared fixtures: tiny images and masks written with numpy + Pillow into ``tmp_path``, the device(s) to test
on, and an in-process runner of the command line."""

import os

import numpy as np
import pytest
import torch
from PIL import Image

from helpers import Result

#: Tiny image size (W, H): big enough for a 2-scale network, small enough for a fit of a few steps.
SIZE = (40, 36)

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])

# Under pytest-xdist (`make test` runs one worker per core) each worker's torch takes its share of the cores:
# two workers of two threads each on two cores ran an in-process fit 4.5x slower than alone (10 s -> 47 s).
if os.environ.get("PYTEST_XDIST_WORKER_COUNT"):
    torch.set_num_threads(max(1, (os.cpu_count() or 1) // int(os.environ["PYTEST_XDIST_WORKER_COUNT"])))


@pytest.fixture(params=DEVICES)
def device(request):
    """Each device a test should pass on: the CPU, and CUDA where present."""
    return request.param


@pytest.fixture
def write_png(tmp_path):
    """``write_png(name, array, mode=None)`` saves ``array`` (uint8/uint16) as ``tmp_path / name``."""

    def write(name, array, mode=None):
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.asarray(array), mode=mode).save(path)
        return path

    return write


@pytest.fixture
def clean_rgb():
    """A smooth 36x40 RGB uint8 image (gradients), the ground truth of the tiny runs."""
    w, h = SIZE
    yy, xx = np.mgrid[0:h, 0:w]
    img = np.stack([xx * 255 / (w - 1), yy * 255 / (h - 1), (xx + yy) * 255 / (w + h - 2)], axis=-1)
    return np.round(img).astype(np.uint8)


@pytest.fixture
def clean_png(write_png, clean_rgb):
    return write_png("clean.png", clean_rgb)


@pytest.fixture
def noisy_png(write_png, clean_rgb):
    """``clean_rgb`` plus Gaussian noise (sigma 25 on the 0-255 scale)."""
    noise = np.random.default_rng(0).normal(0, 25, clean_rgb.shape)
    return write_png("noisy.png", np.clip(clean_rgb + noise, 0, 255).round().astype(np.uint8))


@pytest.fixture
def grey_png(write_png, clean_rgb):
    """A mode "L" (one channel) PNG of the tiny size."""
    return write_png("grey.png", clean_rgb[..., 0])


@pytest.fixture
def mask_png(write_png):
    """A 0/255 mask of the tiny size with a black (missing) 10x8 rectangle."""
    w, h = SIZE
    m = np.full((h, w), 255, np.uint8)
    m[10:18, 12:22] = 0
    return write_png("mask.png", m)


@pytest.fixture
def one_torch_thread():
    """Tiny fits gain nothing from threads, and OpenMP threads stall for seconds on a busy machine."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture
def run(capsys, monkeypatch, tmp_path, one_torch_thread):
    """``run(*args)`` calls the CLI's ``main(argv)`` in-process (cwd = tmp_path): exit code, stdout, stderr."""
    from deepprior.cli import main

    monkeypatch.chdir(tmp_path)

    def call(*args):
        try:
            main([str(a) for a in args])
            code = 0
        except SystemExit as e:
            code = e.code
        out, err = capsys.readouterr()
        return Result(code, out, err)

    return call
