"""Tiles fitted side by side: the automatic plan, parallel workers, the stitched curve, Ctrl-C."""

import numpy as np
import pytest

import deepprior
from deepprior import metrics, tiling
from deepprior.api import tile_plan
from deepprior.errors import InputError
from deepprior.presets import get_preset
from helpers import SMALL, smooth_image


def _noisy(gt, sigma=25, seed=0):
    return np.clip(gt + np.random.default_rng(seed).normal(0, sigma / 255, gt.shape), 0, 1).astype(np.float32)


def test_the_automatic_plan_gives_each_worker_a_tile_of_useful_size():
    # At most 144 px a side, as even as the image allows: 256 px -> 2 x 2 tiles of 136 with 16 px overlap.
    assert tiling.plan_tiles(256, 256, 144, 16) == (136, 136)
    assert tiling.plan_tiles(300, 100, 144, 16) == (111, 100)
    # One worker fits a 128 px image whole; two split it across its longer side (72 + 72 - 16 = 128).
    assert tiling.plan_tiles(128, 128, 144, 16, min_tiles=1) == (128, 128)
    assert tiling.plan_tiles(128, 128, 144, 16, min_tiles=2) == (72, 128)
    assert tiling.plan_tiles(96, 140, 144, 16, min_tiles=2) == (96, 78)
    # Never below min_side: a small image stays whole whatever the worker count.
    assert tiling.plan_tiles(100, 100, 144, 16, min_tiles=8) == (100, 100)
    # Super-resolution plans in result pixels, in multiples of the scale.
    th, tw = tiling.plan_tiles(256, 512, 144, 16, scale=4)
    assert th % 4 == 0 and tw % 4 == 0


def test_tile_plan_follows_the_preset_and_the_caller():
    assert get_preset("denoise").tile == 144 and get_preset("denoise", variant="paper").tile is None
    assert get_preset("inpaint").tile is None  # measured: tiles cost text inpainting steps (README, Speed)
    assert tile_plan(128, 128, "denoise", workers=2) == ((72, 128), 16)
    assert tile_plan(128, 128, "denoise", workers=1) is None
    assert tile_plan(128, 128, "denoise", workers=2, preset="paper") is None
    assert tile_plan(128, 128, "inpaint", workers=2) is None
    assert tile_plan(128, 128, "denoise", tile=None) is None
    assert tile_plan(100, 100, "inpaint", tile=32) == ((32, 32), 4)
    assert tile_plan(100, 100, "superres", tile=[64, 48], overlap=8, scale=4) == ((64, 48), 8)
    with pytest.raises(InputError, match="tile must be"):
        tile_plan(100, 100, "denoise", tile="big")


def test_auto_tiles_an_image_too_big_for_free_memory_and_fits_whole_on_a_gpu(monkeypatch):
    import torch

    from deepprior import api
    from deepprior.costs import estimate_memory

    net, fit_cfg = api.build_configs("inpaint", preset="paper")
    free = estimate_memory(net, 1000, 1000, "bf16") * 2  # room for a 1000 px fit, not for a 4000 x 3000 one
    monkeypatch.setattr(api, "available_memory", lambda device: free)
    assert tile_plan(800, 800, "inpaint", workers=1, net=net, precision="bf16") is None
    (th, tw), overlap = tile_plan(3000, 4000, "inpaint", workers=1, net=net, precision="bf16")
    assert 900 <= min(th, tw) and max(th, tw) <= 1500 and overlap == 16  # even tiles of at most the fitting side
    assert estimate_memory(net, th, tw, "bf16") <= api.MEMORY_SHARE * free
    # Two workers side by side share the memory: smaller tiles; one fit of the whole image still gets it all.
    (th2, _), _ = tile_plan(3000, 4000, "inpaint", workers=2, net=net, precision="bf16")
    assert th2 < th
    assert tile_plan(1000, 1000, "inpaint", workers=2, net=net, precision="bf16") is None
    # Not even a 64 px tile fits: no plan, and the memory check will refuse with its message.
    monkeypatch.setattr(api, "available_memory", lambda device: 1)
    assert tile_plan(3000, 4000, "inpaint", workers=1, net=net, precision="bf16") is None
    # On a GPU the fast denoising preset fits the whole image when it fits in memory (steps there are
    # launch-bound, so small tiles would not be cheaper).
    fast, _ = api.build_configs("denoise")
    monkeypatch.setattr(api, "resolve_device", lambda device: torch.device("cuda"))
    monkeypatch.setattr(api, "available_memory", lambda device: 80 * 2**30)
    assert tile_plan(512, 512, "denoise", device="cuda", net=fast, precision="bf16") is None


def test_restore_tiles_on_its_own_when_memory_is_short(monkeypatch):
    from deepprior import api
    from deepprior.config import NetConfig
    from deepprior.costs import estimate_memory

    small = NetConfig(**{**SMALL, "channels_skip": (4, 4)})
    free = estimate_memory(small, 64, 64, "fp32") / api.MEMORY_SHARE * 1.01  # a 64 px tile fits, 96 px does not
    monkeypatch.setattr(api, "available_memory", lambda device: free)
    gt = smooth_image(96, 96)
    mask = np.ones((96, 96), bool)
    mask[40:50, 20:70] = False
    r = deepprior.restore(gt * mask[..., None], "inpaint", mask=mask, iterations=10, precision="fp32", workers=1,
                          check_memory=False, **SMALL)
    assert "tiles" not in r.metrics  # check_memory=False: the caller takes the risk, nothing is planned
    r = deepprior.restore(gt * mask[..., None], "inpaint", mask=mask, iterations=10, precision="fp32", workers=1,
                          **SMALL)
    assert max(r.metrics["tile"]) <= 64 and len(r.metrics["tiles"]) == 4 and r.image.shape == gt.shape


def test_parallel_tiles_denoise_reproducibly_and_stream_tagged_rows():
    gt = smooth_image(72, 64)
    noisy = _noisy(gt)
    rows = []
    kw = dict(tile=(40, 64), overlap=8, workers=2, ground_truth=gt, iterations=120, log_every=20,
              result="output", stop="none", **SMALL)
    a = deepprior.restore(noisy, "denoise", callbacks=[lambda rec: rows.append(dict(rec.row))], **kw)
    b = deepprior.restore(noisy, "denoise", **{**kw, "workers": 8})  # no more workers than tiles: still 2
    assert a.image.shape == gt.shape and a.fit is None and b.metrics["workers"] == 2
    assert np.array_equal(a.image, b.image)  # which worker ran which tile does not matter
    assert metrics.psnr(a.image, gt) > metrics.psnr(noisy, gt) + 3
    m = a.metrics
    assert (m["workers"], m["tile"], len(m["tiles"])) == (2, [40, 64], 2)
    assert {r["tile"] for r in rows} == {0, 1} and len(rows) == 2 * 7
    # The stitched image's curve: one row per logged step, timed from the start, and the oracle over it.
    curve = m["curve"]
    assert [r["iteration"] for r in curve] == [1, 20, 40, 60, 80, 100, 120]
    assert all(x["seconds"] <= y["seconds"] for x, y in zip(curve, curve[1:]))
    assert m["oracle_psnr"] == max(max(r["psnr_output"], r["psnr_ema"]) for r in curve)
    # The curve blends 8-bit snapshots of the tiles, the result blends them before rounding: a hair apart.
    assert curve[-1]["psnr_output"] == pytest.approx(m["output"]["gt"]["psnr"], abs=0.02)


def test_ctrl_c_keeps_the_tiles_done_and_the_input_elsewhere(monkeypatch):
    gt = smooth_image(72, 64)
    noisy = _noisy(gt)
    real_wait = tiling.wait
    calls = []

    def interrupted_wait(pending, **kw):  # Ctrl-C once the first tile is done
        done, rest = real_wait(pending, **kw)
        calls.append(len(done))
        if sum(calls) >= 1:
            raise KeyboardInterrupt
        return done, rest

    monkeypatch.setattr(tiling, "wait", interrupted_wait)
    r = deepprior.restore(noisy, "denoise", tile=40, overlap=8, workers=1, iterations=30, log_every=10,
                          stop="none", **SMALL)
    m = r.metrics
    assert m["stopped_by"] == "interrupted" and len(m["tiles"]) == 4
    skipped = [t for t in m["tiles"] if t["stopped_by"] == "skipped"]
    assert skipped and len(skipped) < 4
    assert m["tiles"][-1]["stopped_by"] == "skipped"  # its corner is in no other tile: the input is kept there
    assert np.allclose(r.image[-5:, -5:], noisy[-5:, -5:])
