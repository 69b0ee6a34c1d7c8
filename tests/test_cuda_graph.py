"""The fit loop's CUDA-graph path: its bookkeeping on the CPU through an eager stand-in for the graph (so CI,
which has no GPU, checks it), and the real graph where a GPU is present."""

import importlib

import numpy as np
import pytest
import torch

import deepprior
from deepprior.fitting.cuda_graph import WARMUP_STEPS
from helpers import SMALL, noisy as _noisy, sabotaged_fit, smooth_image

stepper_module = importlib.import_module("deepprior.fitting.stepper")
precision_module = importlib.import_module("deepprior.fitting.precision")


class EagerGraph:
    """Does what a replay of the captured step does (forward, loss, backward, update), without CUDA."""

    instances: list["EagerGraph"] = []

    def __init__(self, compute, opt):
        self.compute, self.opt, self.captures, self.resets, self.steps = compute, opt, 0, 0, 0
        EagerGraph.instances.append(self)

    def step(self):
        self.steps += 1
        self.captures = int(self.steps > WARMUP_STEPS)
        self.opt.zero_grad(set_to_none=True)
        out, loss, objective = self.compute()
        objective.backward()
        self.opt.step()
        return out.detach(), loss.detach()

    def reset(self):
        self.resets += 1


@pytest.fixture
def eager_graph(monkeypatch):
    EagerGraph.instances.clear()
    # Where the plan decides whether a graph is supported, and where the stepper builds one.
    monkeypatch.setattr(precision_module, "graph_supported", lambda *a: True)
    monkeypatch.setattr(stepper_module, "graph_supported", lambda *a: True)
    monkeypatch.setattr(stepper_module, "GraphedStep", EagerGraph)
    return EagerGraph.instances


@pytest.mark.parametrize("extra", [{}, {"reg_noise_ramp": 20, "reg_noise_start": 0.5, "loss": "rmse"},
                                   {"tv_weight": 0.1, "reg_noise_std": 0.0}])
def test_graph_path_computes_what_the_eager_loop_computes(eager_graph, extra):
    noisy = _noisy(smooth_image(32, 32))
    kw = dict(iterations=30, log_every=5, seed=2, tile=None, **SMALL, **extra)
    graphed = deepprior.restore(noisy, "denoise", **kw)
    (g,) = eager_graph
    assert g.steps == 30 and graphed.metrics["cuda_graph"]
    eager = deepprior.restore(noisy, "denoise", cuda_graph=False, **kw)
    assert not eager.metrics["cuda_graph"]
    # Same arithmetic in the same order; only Adam's step counter lives in a tensor (capturable) in one of them.
    np.testing.assert_allclose(graphed.output, eager.output, atol=1e-5)
    np.testing.assert_allclose(graphed.ema, eager.ema, atol=1e-5)
    assert [r["iteration"] for r in graphed.history] == [r["iteration"] for r in eager.history]


def test_a_tiled_run_reports_whether_its_tiles_ran_as_graphs(eager_graph):
    r = deepprior.restore(_noisy(smooth_image(64, 64)), "denoise", iterations=6, tile=40, workers=1, **SMALL)
    assert len(eager_graph) == r.metrics["tiles"] == 4
    assert r.metrics["cuda_graph"] is True and r.metrics["cuda_graph_error"] is None


def test_graph_path_backtracks_and_captures_again(eager_graph):
    res = sabotaged_fit()
    (g,) = eager_graph
    assert g.resets == 1 and res.cuda_graph
    assert len(res.events) == 1 and res.events[0].restored_iteration == 50
    losses = {row["iteration"]: row["loss"] for row in res.history if not row["event"]}
    assert losses[100] < 1.5 * losses[50]


def test_a_refused_capture_falls_back_to_eager_steps(eager_graph, monkeypatch):
    def refuse(self):
        raise RuntimeError("operation not permitted when stream is capturing")

    monkeypatch.setattr(EagerGraph, "step", refuse)
    noisy = _noisy(smooth_image(32, 32))
    kw = dict(iterations=20, log_every=5, seed=2, tile=None, **SMALL)
    r = deepprior.restore(noisy, "denoise", **kw)
    eager = deepprior.restore(noisy, "denoise", cuda_graph=False, **kw)
    assert r.metrics["cuda_graph"] is False and r.metrics["iterations"] == 20
    assert r.metrics["cuda_graph_error"] == "operation not permitted when stream is capturing"
    assert not any(row["event"] for row in r.history)
    np.testing.assert_allclose(r.output, eager.output, atol=1e-5)


def test_the_cli_says_when_a_capture_was_refused(eager_graph, monkeypatch, tmp_path, capsys):
    from PIL import Image

    from deepprior.cli import main

    def refuse(self):
        raise RuntimeError("CUDA error: operation failed due to a previous error during capture")

    monkeypatch.setattr(EagerGraph, "step", refuse)
    Image.fromarray((_noisy(smooth_image(32, 32)) * 255).astype(np.uint8)).save(tmp_path / "in.png")
    main(["denoise", str(tmp_path / "in.png"), "-o", str(tmp_path / "out.png"), "--iters", "5", "--quiet",
          "--tile", "none", "--channels-down", "16,16", "--channels-up", "16,16", "--channels-skip", "4,4",
          "--input-channels", "8"])
    err = capsys.readouterr().err
    assert "note: CUDA refused to capture the step as a graph (CUDA error: operation failed" in err
    assert (tmp_path / "out.png").exists()
    # A tiled run reports it too (the first error of its tiles).
    r = deepprior.restore(_noisy(smooth_image(64, 64)), "denoise", iterations=5, tile=40, workers=1, **SMALL)
    assert r.metrics["cuda_graph"] is False and r.metrics["cuda_graph_error"].startswith("CUDA error: operation")


def test_cpu_ignores_the_option():
    r = deepprior.restore(_noisy(smooth_image(32, 32)), "denoise", iterations=5, cuda_graph=True, tile=None,
                          **SMALL)
    assert r.metrics["cuda_graph"] is False


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_real_graph_matches_eager_on_cuda():
    noisy = _noisy(smooth_image(64, 64))
    kw = dict(iterations=60, log_every=10, seed=1, tile=None, device="cuda", precision="fp32", **SMALL)
    graphed = deepprior.restore(noisy, "denoise", cuda_graph=True, **kw)
    eager = deepprior.restore(noisy, "denoise", cuda_graph=False, **kw)
    assert graphed.metrics["cuda_graph"] and not eager.metrics["cuda_graph"]
    # cuDNN may pick other kernels under capture: equal up to float32 rounding carried through 60 updates.
    assert np.abs(graphed.output - eager.output).max() < 2e-2
    assert abs(graphed.metrics["output"]["observation"]["psnr"]
               - eager.metrics["output"]["observation"]["psnr"]) < 0.2
    again = deepprior.restore(noisy, "denoise", cuda_graph=True, **kw)
    assert np.abs(again.output - graphed.output).max() < 2e-2
