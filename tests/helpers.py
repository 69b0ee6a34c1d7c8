"""Helpers shared by the tests: tiny synthetic images, a small network, a sabotaged fit, and the CLI runner's
assertions."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

#: Two scales of 16 channels: fast enough for dozens of steps on 48 px images.
SMALL = dict(channels_down=(16, 16), channels_up=(16, 16), channels_skip=(4, 4), input_channels=8)
#: The same, tinier still, as command-line options (with 3 steps and no progress bar).
TINY = ["--iters", "3", "--log-every", "1", "--channels-down", "8x2", "--channels-up", "8x2",
        "--channels-skip", "2x2", "--input-channels", "4", "--quiet"]


def smooth_image(h: int = 48, w: int = 40, c: int = 3, seed: int = 0) -> np.ndarray:
    """A smooth colour image with a few soft shapes, in [0, 1]."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    img = np.stack([0.3 + 0.4 * xx, 0.3 + 0.4 * yy, 0.5 + 0.2 * np.sin(4 * xx)], -1)[..., :c]
    for _ in range(3):
        cy, cx, r = rng.uniform(0.2, 0.8), rng.uniform(0.2, 0.8), rng.uniform(0.1, 0.2)
        img += 0.2 * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / r**2)[..., None]
    return np.clip(img, 0, 1).astype(np.float32)


def shapes_image(n: int = 64) -> np.ndarray:
    """Flat shapes with sharp edges (a rectangle, a disc, a wedge) on grey: what blur and downscaling destroy."""
    yy, xx = np.mgrid[0:n, 0:n] * (64 / n)
    img = np.zeros((n, n, 3), np.float32) + 0.2
    img[(xx > 10) & (xx < 40) & (yy > 8) & (yy < 30)] = [0.9, 0.3, 0.2]
    img[((xx - 40) ** 2 + (yy - 42) ** 2) < 15**2] = [0.2, 0.7, 0.9]
    img[(xx + yy > 70) & (xx - yy < 5) & (yy < 55)] = [0.95, 0.9, 0.3]
    return img


def noisy(gt: np.ndarray, sigma: float = 25, seed: int = 0) -> np.ndarray:
    """``gt`` plus Gaussian noise of std ``sigma`` on the 0-255 scale, clipped."""
    return np.clip(gt + np.random.default_rng(seed).normal(0, sigma / 255, gt.shape), 0, 1).astype(np.float32)


def as_tensor(img: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(img)).permute(2, 0, 1)[None]


class Sabotage(torch.nn.Module):
    """Wraps a net and wrecks its weights once, at a given forward call (a simulated bad update): large noise
    added, or (``nan=True``) every weight NaN."""

    def __init__(self, net: torch.nn.Module, at: int, nan: bool = False) -> None:
        super().__init__()
        self.net, self.at, self.calls, self.nan = net, at, 0, nan

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        if self.calls == self.at:
            with torch.no_grad():
                for p in self.net.parameters():
                    if self.nan:
                        p.fill_(float("nan"))
                    else:
                        p.add_(torch.randn(p.shape, generator=torch.Generator().manual_seed(0)) * 5)
        return self.net(z)


def sabotaged_fit():
    """100 steps of a denoising fit whose weights are wrecked at step 60 (logged every 10 steps)."""
    import deepprior
    from deepprior.config import FitConfig, NetConfig
    from deepprior.nets import build_net, make_input
    from deepprior.operators import Identity

    y = as_tensor(noisy(smooth_image(32, 32)))
    cfg = NetConfig(**SMALL)
    net = Sabotage(build_net("skip", cfg, 3, generator=torch.Generator().manual_seed(0)), at=60)
    z = make_input(cfg, 32, 32, generator=torch.Generator().manual_seed(0), device=torch.device("cpu"))
    fit_cfg = FitConfig(iterations=100, log_every=10, backtrack_window=1000)
    return deepprior.fit(deepprior.Problem(y, Identity()), net, z, fit_cfg, generator=torch.Generator().manual_seed(0))


@dataclass
class Result:
    """A CLI call: exit code, stdout, stderr."""

    code: int
    out: str
    err: str


def files_under(folder) -> set[str]:
    """Every file and folder below ``folder``, as relative POSIX paths (to prove a run wrote nothing)."""
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*")}


def assert_user_error(res: Result, *words: str) -> None:
    """Exit status 2, exactly one ``deepprior: error:`` line on stderr naming ``words``, nothing on stdout."""
    assert res.code == 2, (res.code, res.err)
    lines = res.err.strip().splitlines()
    assert len(lines) == 1, res.err
    assert lines[0].startswith("deepprior: error: "), res.err
    assert "Traceback" not in res.err
    for w in words:
        assert w.lower() in lines[0].lower(), (w, lines[0])
    assert res.out == ""


def image_info(path) -> tuple[tuple[int, int], str]:
    with Image.open(path) as im:
        return im.size, im.mode


def pixels(path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im)


def holed(h: int, w: int) -> np.ndarray:
    """A mask (True = known) with one small hole: a mask task's smallest valid mask (an all-known one is
    refused)."""
    known = np.ones((h, w), bool)
    known[h // 4:h // 4 + 4, w // 4:w // 4 + 4] = False
    return known


def stop_signals_default() -> None:
    """A ``preexec_fn``: the child starts with SIGINT and SIGHUP at their defaults, as a terminal starts a
    command. The CLI keeps a stop signal that it was started with ignored (docs/robustness.md), and a suite
    launched in the background (``nohup make test &``) passes both on ignored, so a test that sends one must
    not inherit that."""
    import signal

    for sig in (signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, signal.SIG_DFL)
