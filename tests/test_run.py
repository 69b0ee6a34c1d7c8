"""deepprior.run and restore: one result schema for whole and tiled runs, tiles side by side, interruptions,
and restored error below corrupted error for every task family."""

import threading

import numpy as np
import pytest

import deepprior
from deepprior.imaging import metrics
from deepprior.imaging.degrade import downscale_image
from deepprior.imaging.masks import drop_mask
from deepprior.jobs import runner
from helpers import SMALL, noisy, smooth_image


def test_whole_and_tiled_runs_share_one_schema_and_a_tile_covering_the_image_is_the_whole_run():
    gt = smooth_image(64, 64)
    y = noisy(gt)
    kw = dict(ground_truth=gt, iterations=20, log_every=10, workers=1, **SMALL)
    whole = deepprior.restore(y, "denoise", tile=None, **kw)
    tiled = deepprior.restore(y, "denoise", tile=40, **kw)
    covering = deepprior.restore(y, "denoise", tile=64, **kw)
    assert set(whole.metrics) == set(tiled.metrics) == set(covering.metrics)
    for m in (whole.metrics, tiled.metrics):
        assert set(m["per_tile"][0]) >= {"tile", "y", "x", "height", "width", "iterations", "stopped_by",
                                         "stop_rule", "best_iteration", "noise_sigma"}
        assert {"observation", "gt"} <= set(m["best"]) and m["table"]["ema_vs_gt"] == m["ema"]["gt"]["psnr"]
    assert (whole.metrics["tiles"], whole.metrics["tile"], tiled.metrics["tiles"]) == (1, None, 4)
    assert whole.metrics["stop_rule"] is None and whole.metrics["best_iteration"] == 20
    assert np.array_equal(whole.image, covering.image)  # one tile blends to itself, exactly
    assert {r["tile"] for r in whole.history} == {0} and {r["tile"] for r in tiled.history} == {0, 1, 2, 3}
    assert whole.metrics["oracle_psnr"] == max(max(r["psnr_output"], r["psnr_ema"]) for r in whole.history)


def test_denoising_beats_the_noisy_input(device):
    gt = smooth_image()
    y = noisy(gt)
    r = deepprior.restore(y, "denoise", ground_truth=gt, iterations=150, log_every=25, device=device, **SMALL)
    assert r.metrics["device"].startswith(device)
    assert r.image.shape == gt.shape
    assert metrics.psnr(r.image, gt) > metrics.psnr(y, gt) + 3
    assert r.metrics["input"]["gt"]["psnr"] == pytest.approx(metrics.psnr(metrics.quantize(y), gt), abs=1e-6)


@pytest.mark.parametrize("task,c,net", [
    ("inpaint", 3, {}),
    ("reconstruct", 1, {}),
    ("fill", 3, {"channels_skip": (0, 0), "input": "meshgrid"}),
])
def test_mask_tasks_beat_the_corrupted_input(task, c, net):
    gt = smooth_image(c=c)
    h, w = gt.shape[:2]
    if task == "fill":
        known = np.ones((h, w), bool)
        known[16:28, 12:26] = False
    else:
        known = drop_mask((w, h), 0.5, seed=1)
    observed = gt * known[..., None]
    r = deepprior.restore(observed, task, mask=known, ground_truth=gt, iterations=120, log_every=20, lr=0.01,
                          **{**SMALL, **net})
    missing = ~known
    assert metrics.mse(r.image, gt, missing) < 0.25 * metrics.mse(observed, gt, missing)
    assert r.metrics["output"]["observation"]["psnr"] > 20  # fits the known pixels
    assert np.array_equal(r.image[known], observed[known]) and r.metrics["kept_measured"]  # the fast preset


def test_kept_pixels_leave_the_scores_against_the_input_to_the_network_itself():
    gt = smooth_image(40, 40)
    known = np.random.default_rng(3).random((40, 40)) > 0.5
    obs = gt * known[..., None]
    kw = dict(mask=known, ground_truth=gt, preset="paper", iterations=30, log_every=10, **SMALL)
    plain = deepprior.restore(obs, "reconstruct", **kw)
    kept = deepprior.restore(obs, "reconstruct", keep_measured=True, **kw)
    assert kept.metrics["ema"]["observation"] == plain.metrics["ema"]["observation"]
    for k in ("output", "ema", "best"):
        np.testing.assert_array_equal(getattr(kept, k)[~known], getattr(plain, k)[~known])
        assert kept.metrics[k]["gt"]["psnr"] > plain.metrics[k]["gt"]["psnr"]
    # In tiles the blend takes the known pixels from the input too (a weighted mean of equal values).
    tiled = deepprior.restore(obs, "reconstruct", keep_measured=True, tile=24, **kw)
    np.testing.assert_allclose(tiled.image[known], obs[known], atol=1e-6)
    assert tiled.metrics["ema"]["observation"]["psnr"] < 60  # judged on the network's own blend, not the input


def test_superres_beats_bicubic_whole_and_in_tiles_with_a_larger_ground_truth():
    yy, xx = np.mgrid[0:65, 0:65]
    hr = np.zeros((65, 65, 3), np.float32) + 0.2
    hr[(xx > 10) & (xx < 40) & (yy > 8) & (yy < 30)] = [0.9, 0.3, 0.2]
    hr[((xx - 40) ** 2 + (yy - 42) ** 2) < 15**2] = [0.2, 0.7, 0.9]
    lr = downscale_image(hr[:64, :64], 2)  # the centre 64 px, as ``degrade`` crops
    kw = dict(scale=2, ground_truth=hr, iterations=300, log_every=100, result="output",
              channels_down=(32,) * 3, channels_up=(32,) * 3, channels_skip=(4,) * 3, input_channels=8)
    r = deepprior.restore(lr, "superres", **kw)
    m = r.metrics
    assert r.image.shape == (64, 64, 3) and m["output"]["gt"]["psnr"] > m["bicubic"]["gt"]["psnr"] + 1.5
    assert m["output"]["gt"]["psnr_y"] > m["bicubic"]["gt"]["psnr_y"] + 1.5
    tiled = deepprior.restore(lr, "superres", tile=40, overlap=8, **{**kw, "iterations": 30})
    assert tiled.image.shape == (64, 64, 3) and tiled.metrics["tiles"] == 4  # the 65 px truth cropped once


def test_parallel_tiles_denoise_reproducibly_and_stream_tagged_rows():
    gt = smooth_image(72, 64)
    rows, done = [], []
    kw = dict(tile=(40, 64), overlap=8, workers=2, ground_truth=gt, iterations=120, log_every=20,
              result="output", stop="none", **SMALL)
    job = deepprior.plan(noisy(gt), "denoise", **kw)
    a = deepprior.run(job, callbacks=[lambda rec: rows.append(dict(rec.row))],
                      on_tile=lambda o: done.append((o.tile.index, o.images["output"].shape)))
    b = deepprior.restore(noisy(gt), "denoise", **{**kw, "workers": 8})  # no more workers than tiles: still 2
    assert b.metrics["workers"] == 2 and np.array_equal(a.image, b.image)  # which worker ran which: no matter
    assert metrics.psnr(a.image, gt) > metrics.psnr(noisy(gt), gt) + 3
    assert (a.metrics["tile"], a.metrics["tiles"], a.metrics["stopped_by"]) == ([40, 64], 2, "tiles")
    assert {r["tile"] for r in rows} == {0, 1} and len(rows) == 2 * 7
    assert done == [(0, (40, 64, 3)), (1, (40, 64, 3))]  # each tile as it finished, its image still there
    curve = a.metrics["curve"]  # the stitched image's, timed from the start of the run
    assert [r["iteration"] for r in curve] == [1, 20, 40, 60, 80, 100, 120]
    assert all(x["seconds"] <= y["seconds"] for x, y in zip(curve, curve[1:]))
    assert a.metrics["oracle_psnr"] == max(max(r["psnr_output"], r["psnr_ema"]) for r in curve)
    # The curve blends 8-bit snapshots of the tiles, the result blends them before rounding: a hair apart.
    assert curve[-1]["psnr_output"] == pytest.approx(a.metrics["output"]["gt"]["psnr"], abs=0.02)


@pytest.mark.parametrize("workers", [1, 2])
def test_a_stop_request_keeps_the_tiles_done_and_the_input_elsewhere(workers):
    y = noisy(smooth_image(72, 64))
    stop = threading.Event()

    def request(rec):  # stop once the first tile has started
        stop.set()

    job = deepprior.plan(y, "denoise", tile=40, overlap=8, workers=workers, iterations=30, log_every=10, **SMALL)
    r = deepprior.run(job, callbacks=[request], cancel=stop)
    m = r.metrics
    assert m["stopped_by"] == "interrupted" and m["tiles"] == 4
    skipped = [t for t in m["per_tile"] if t["stopped_by"] == "skipped"]
    assert 1 <= len(skipped) <= 4 - workers and m["per_tile"][-1]["stopped_by"] == "skipped"
    assert np.allclose(r.image[-5:, -5:], y[-5:, -5:])  # its corner is in no other tile: the input is kept


def test_ctrl_c_between_tiles_keeps_what_was_done(monkeypatch):
    y = noisy(smooth_image(72, 64))
    real_wait = runner.wait

    def interrupted_wait(pending, **kw):  # Ctrl-C once the first tiles are done
        done, rest = real_wait(pending, **kw)
        if done:
            raise KeyboardInterrupt
        return done, rest

    monkeypatch.setattr(runner, "wait", interrupted_wait)
    r = deepprior.restore(y, "denoise", tile=40, overlap=8, workers=2, iterations=30, log_every=10, **SMALL)
    tiles = r.metrics["per_tile"]
    assert r.metrics["stopped_by"] == "interrupted" and 30 in (tiles[0]["iterations"], tiles[1]["iterations"])
    # The tiles after it were skipped, or (started as a worker came free) stopped at their next logged step.
    assert all(t["stopped_by"] in ("skipped", "interrupted") and t["iterations"] < 30 for t in tiles[2:])


def test_ctrl_c_keeps_the_last_step_and_raises_only_before_the_first(monkeypatch):
    from deepprior.fitting.stepper import Stepper

    def interrupt(rec):
        raise KeyboardInterrupt

    job = deepprior.plan(noisy(smooth_image(32, 32)), "denoise", iterations=5, **SMALL)
    r = deepprior.run(job, callbacks=[interrupt])  # at step 1's log: its image is kept
    assert (r.metrics["stopped_by"], r.metrics["iterations"]) == ("interrupted", 1)

    def no_step(self, it):
        raise KeyboardInterrupt

    monkeypatch.setattr(Stepper, "step", no_step)
    with pytest.raises(KeyboardInterrupt):
        deepprior.run(job)
