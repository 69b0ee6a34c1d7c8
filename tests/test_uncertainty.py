"""The uncertainty map: its parts on synthetic numbers, then whole runs (a map where pixels were invented, free on
noisy tasks, the mean of K fits), the report's files and the command line's refusals."""

import json

import numpy as np
import pytest
import torch

import deepprior
from deepprior.errors import InputError
from deepprior.fitting.tricks import OutputSpread
from deepprior.jobs import get_task
from deepprior.jobs.uncertainty import DISAGREEMENT_FACTOR, Calibration, calibrated_std, disagreement_std, evaluate
from helpers import SMALL, noisy, smooth_image

FAST = dict(SMALL, log_every=10, tile=None)


def test_the_spread_is_the_variance_of_the_last_block_of_outputs():
    spread = OutputSpread(window=10)
    assert spread.value is None
    for i in range(24):
        x = torch.zeros(1, 1, 2, 2)
        # One pixel alternates between -a and a, the rest stay put; a is 5 in the first block, 0.5 after.
        x[0, 0, 0, 0] = (-1) ** i * (5.0 if i < 10 else 0.5)
        spread.update(x)
        if i == 4:  # a first block not yet complete: its own variance
            assert float(spread.value[0, 0, 0, 0]) == pytest.approx(np.var([5, -5, 5, -5, 5]), rel=1e-5)
    v = spread.value[0, 0]  # steps 21-24 are too few to replace the block of steps 11-20
    assert float(v[0, 0]) == pytest.approx(0.25, rel=1e-5) and float(v.flatten()[1:].abs().max()) == 0.0


def test_a_perfect_map_scores_one_and_a_map_twice_too_large_a_quarter():
    rng = np.random.default_rng(0)
    truth = rng.random((40, 40, 3)).astype(np.float32)
    err = rng.normal(0, 1, (40, 40, 1)) * np.linspace(0.01, 0.1, 40)[:, None, None]
    image = (truth + err).astype(np.float32)
    exact = np.abs(err[..., 0]).astype(np.float32)
    ev = evaluate(exact, image, truth)
    assert ev["spearman"] > 0.999 and ev["calibration_ratio"] == pytest.approx(1, rel=1e-4)
    assert ev["uce"] == pytest.approx(0, abs=1e-9) and len(ev["bins"]) == 10
    twice = evaluate(2 * exact, image, truth)
    assert twice["calibration_ratio"] == pytest.approx(0.25, rel=1e-4) and twice["uce"] > 0
    assert twice["spearman_7x7"] == pytest.approx(ev["spearman_7x7"])  # a scale changes no rank


def test_calibration_uses_left_out_values_on_clean_tasks_and_the_factor_on_noisy_ones():
    var = np.full((4, 4, 3), 0.01, np.float32)
    std, facts = calibrated_std(get_task("denoise"), var, Calibration(), fits=1)
    assert facts["calibrated_by"] == "task factor" and std.shape == (4, 4) and std.dtype == np.float32
    assert std[0, 0] == pytest.approx((0.01 * facts["factor"]) ** 0.5, rel=1e-5)
    # The left-out values erred 4x more (in variance) than the map predicted there: the map grows by that.
    std, facts = calibrated_std(get_task("inpaint"), var, Calibration(10, 10 * 0.04, 10 * 0.01), fits=1)
    assert facts["held_scale"] == pytest.approx(4) and facts["calibration_values"] == 10
    assert std[0, 0] == pytest.approx((0.01 * 4 * facts["factor"]) ** 0.5, rel=1e-5)


def test_the_disagreement_map_is_the_factor_times_the_smoothed_square_difference():
    a = np.zeros((24, 24, 3), np.float32)
    b = a.copy()
    b[..., 0] = 0.06  # one channel of three differs by 0.06 everywhere: a mean square of 0.0012
    std, facts = disagreement_std(a, b, fits=1)
    assert std.shape == (24, 24) and std.dtype == np.float32 and facts["calibrated_by"] == "task factor"
    np.testing.assert_allclose(std, (DISAGREEMENT_FACTOR * 0.0012) ** 0.5, rtol=1e-5)
    b[:, 12:] = 0  # they agree on the right half: the map falls there, smoothly
    std, _ = disagreement_std(a, b, fits=1)
    assert std[:, 0].min() > std[:, 11].min() > std[:, 12].max() > std[:, 23].max() >= 0


def test_the_combined_denoising_maps_where_dip_and_cbm3d_disagree_and_is_judged_on_its_image(one_torch_thread):
    gt = smooth_image(32, 32)
    y = noisy(gt)
    r = deepprior.restore(y, "denoise", ground_truth=gt, iterations=60, stop="none", uncertainty=1, **FAST)
    u = r.metrics["uncertainty"]
    assert r.result == "combined" and u["method"] == "disagreement of DIP and CBM3D"
    dip = getattr(r, r.metrics["method"]["dip_result"])
    w = r.metrics["method"]["dip_weight"]
    other = (r.image - w * dip) / (1 - w)  # the image is the weighted mean of the two
    np.testing.assert_allclose(r.uncertainty, disagreement_std(dip, other, 1)[0], atol=2e-4)
    assert u["evaluation"]["mse"] == pytest.approx(np.mean((r.image.astype(np.float64) - gt) ** 2), rel=1e-6)
    alone = deepprior.restore(y, "denoise", ground_truth=gt, iterations=60, stop="none", uncertainty=1,
                              method="dip", **FAST)
    assert alone.metrics["uncertainty"]["method"] == "output spread"


def hole_case(n: int = 48):
    gt = smooth_image(n, n)
    known = np.ones((n, n), bool)
    known[12:36, 12:36] = False  # one 24 px hole: its middle is 12 px from any measured pixel
    return gt, known


def test_an_inpainting_map_is_zero_on_kept_pixels_and_highest_in_the_middle_of_a_hole(one_torch_thread):
    gt, known = hole_case()
    r = deepprior.restore(gt * known[..., None], "inpaint", mask=known, ground_truth=gt, uncertainty=1,
                          iterations=300, stop="none", **FAST)
    u = r.uncertainty
    assert u.shape == (48, 48) and u.dtype == np.float32 and np.isfinite(u).all()
    assert (u[known] == 0).all()  # kept pixels are measured exactly
    middle, rim = u[18:30, 18:30].mean(), u[~known].mean()
    assert middle > rim > 0
    m = r.metrics["uncertainty"]
    assert m["calibrated_by"] == "left-out measured values" and m["calibration_values"] > 0
    assert m["evaluation"]["missing"]["pixels"] == int((~known).sum())
    assert r.metrics["holdout_pixels"] == 0  # calibration values are not the validation stop's


def test_on_noisy_tasks_the_map_is_free_the_image_is_the_same_as_without_it(one_torch_thread):
    gt = smooth_image(32, 32)
    y = noisy(gt)
    plain = deepprior.restore(y, "denoise", ground_truth=gt, iterations=60, stop="none", **FAST)
    mapped = deepprior.restore(y, "denoise", ground_truth=gt, iterations=60, stop="none", uncertainty=1, **FAST)
    assert np.array_equal(plain.image, mapped.image)
    assert plain.uncertainty is None and "uncertainty" not in plain.metrics
    assert mapped.uncertainty.shape == (32, 32) and (mapped.uncertainty > 0).all()


def test_k_fits_return_the_mean_of_the_seeded_fits_and_their_spread_joins_the_map(one_torch_thread):
    gt = smooth_image(32, 32)
    y = noisy(gt)
    one = [deepprior.restore(y, "denoise", seed=s, iterations=40, stop="none", **FAST).image for s in (3, 4)]
    two = deepprior.restore(y, "denoise", seed=3, iterations=40, stop="none", uncertainty=2, **FAST)
    np.testing.assert_allclose(two.image, (one[0] + one[1]) / 2, atol=1e-6)
    assert [f["seed"] for f in two.metrics["fits"]] == [3, 4] and two.metrics["iterations"] == 80
    alone = deepprior.restore(y, "denoise", seed=3, iterations=40, stop="none", uncertainty=1, **FAST)
    assert two.uncertainty.mean() > 0 and not np.allclose(two.uncertainty, alone.uncertainty)
    assert {row["fit"] for row in two.history} == {0, 1}


def test_a_tiled_run_has_one_map_of_the_whole_image(one_torch_thread):
    gt = smooth_image(48, 64)
    r = deepprior.restore(noisy(gt), "denoise", ground_truth=gt, iterations=20, stop="none", uncertainty=1,
                          **dict(FAST, tile=32, overlap=8))
    assert r.metrics["tiles"] > 1 and r.uncertainty.shape == (48, 64) and np.isfinite(r.uncertainty).all()


@pytest.mark.parametrize("k", [-1, 17])
def test_a_bad_number_of_fits_is_refused(k):
    with pytest.raises(InputError, match="uncertainty"):
        deepprior.plan(smooth_image(32, 32), "denoise", uncertainty=k)


def test_the_command_writes_the_map_and_its_evaluation_into_the_report(run, write_png, tmp_path):
    gt, known = hole_case()
    write_png("gt.png", np.round(gt * 255).astype(np.uint8))
    write_png("in.png", np.round(gt * known[..., None] * 255).astype(np.uint8))
    write_png("mask.png", (known * 255).astype(np.uint8))
    res = run("inpaint", "in.png", "--mask", "mask.png", "--gt", "gt.png", "-o", "out.png", "--report", "rep",
              "--uncertainty", "1", "--iters", "40", "--channels-down", "8x2", "--channels-up", "8x2",
              "--channels-skip", "2x2", "--input-channels", "4", "--quiet")
    assert res.code == 0, res.err
    rep = tmp_path / "rep"
    u = np.load(rep / "uncertainty.npy")
    assert u.shape == (48, 48) and u.dtype == np.float32
    for name in ("uncertainty.png", "reliability.png", "comparison.png"):
        assert (rep / name).stat().st_size > 1000
    metrics = json.loads((rep / "metrics.json").read_text())
    assert {"spearman_7x7", "calibration_ratio", "uce"} <= set(metrics["uncertainty"]["evaluation"])
    assert "uncertainty (output spread)" in res.out


def test_the_command_refuses_a_map_without_a_report_before_fitting(run, noisy_png, tmp_path):
    res = run("denoise", noisy_png, "-o", "out.png", "--uncertainty", "1", "--quiet")
    assert res.code == 2 and "give --report" in res.err and len(res.err.strip().splitlines()) == 1
    assert not (tmp_path / "out.png").exists()


def test_a_cancel_in_a_later_fit_keeps_the_whole_fits_before_it(one_torch_thread):
    import threading

    gt = smooth_image(32, 32)
    y = noisy(gt)
    cancel = threading.Event()

    def stop_in_the_third(rec):
        if rec.row["fit"] == 2 and rec.row["iteration"] >= 20:
            cancel.set()

    job = deepprior.plan(y, "denoise", seed=0, iterations=40, stop="none", uncertainty=3, method="dip", **FAST)
    r = deepprior.run(job, callbacks=[stop_in_the_third], cancel=cancel)
    assert [f["averaged"] for f in r.metrics["fits"]] == [True, True, False]
    assert r.metrics["uncertainty"]["fits"] == 2 and r.metrics["interrupted"] is True
    one = [deepprior.restore(y, "denoise", seed=s, iterations=40, stop="none", method="dip", **FAST).image
           for s in (0, 1)]
    np.testing.assert_allclose(r.image, (one[0] + one[1]) / 2, atol=1e-6)
