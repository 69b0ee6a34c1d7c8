"""What a run costs before it starts: FLOPs and memory per step, seconds timed on a proxy, the run's estimate."""

import importlib
import types

import pytest
import torch

import deepprior
from deepprior.config import FitConfig, NetConfig
from deepprior.jobs.costs import estimate_memory, estimate_step_flops, time_step
from helpers import SMALL, noisy, smooth_image

costs = importlib.import_module("deepprior.jobs.costs")


def test_the_estimates_say_what_was_measured():
    """The counts against what is known of the paper's network (460 GFLOP per step at 512 px; a 12 MP photo does
    not fit a 24 GiB machine), and the thin network's against the paper's."""
    assert 400e9 < estimate_step_flops(NetConfig(), 3, 512, 512) < 520e9
    assert estimate_memory(NetConfig(), 4000, 3000, "bf16") > 24 * 2**30
    thin = NetConfig(channels_down=(16, 32, 64, 64), channels_up=(16, 32, 64, 64), channels_skip=(4,) * 4)
    assert estimate_step_flops(thin, 3, 128, 128) < estimate_step_flops(NetConfig(), 3, 128, 128) / 10
    assert estimate_memory(thin, 512, 512, "bf16") < estimate_memory(NetConfig(), 512, 512, "bf16") / 2


def test_step_time_is_timed_on_a_proxy_and_scaled_by_pixels(monkeypatch):
    net = NetConfig(channels_down=(8, 8), channels_up=(8, 8), channels_skip=(2, 2), input_channels=4)
    seen = {}

    def fake_fit(problem, model, z, cfg, generator):  # 1 s per step on the proxy
        seen.update(shape=tuple(problem.observation.shape), iterations=cfg.iterations, stop=cfg.stop)
        return types.SimpleNamespace(history=[{"iteration": 1, "seconds": 1.0}], seconds=4.0)

    monkeypatch.setattr(costs, "fit", fake_fit)
    assert time_step(net, FitConfig(), 3, 480, 960, torch.device("cpu"), proxy=48) == pytest.approx(200.0)
    assert seen == {"shape": (1, 3, 48, 48), "iterations": 4, "stop": "none"}


def test_a_jobs_estimate_counts_its_tiles_and_the_fits_at_once(monkeypatch):
    monkeypatch.setattr(costs, "time_step", lambda *a, **k: 1.0)
    y = noisy(smooth_image(64, 64))
    one = deepprior.plan(y, "denoise", tile=None, iterations=10, **SMALL).estimate()
    four = deepprior.plan(y, "denoise", tile=40, workers=1, iterations=10, **SMALL).estimate()
    pairs = deepprior.plan(y, "denoise", tile=40, workers=2, iterations=10, **SMALL).estimate()
    assert (one.seconds, four.seconds, pairs.seconds) == (10.0, 40.0, 20.0)
    assert four.flops < one.flops and four.memory < one.memory  # per fit: a 40 px tile against the whole 64 px
