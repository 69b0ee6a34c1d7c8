"""The restore commands end to end on tiny images and 3-step fits: the files each writes, the settings that
reach config.json, tiles, the estimate printed before a run, the classical comparison, the demo."""

import csv
import json

import numpy as np
import pytest
from PIL import Image

from conftest import SIZE
import torch

from deepprior.config import FitConfig, NetConfig, from_dict, replace
from deepprior.fitting import resolve_execution
from deepprior.jobs.presets import get_preset
from deepprior.report import REPORT_FILES
from helpers import TINY, assert_user_error, image_info


def test_denoise_with_gt_and_report(run, tmp_path, noisy_png, clean_png):
    res = run("denoise", noisy_png, "-o", "out.png", "--gt", clean_png, "--report", "rep", *TINY)
    assert res.code == 0, res.err
    assert "wrote out.png" in res.out and "PSNR vs ground truth" in res.out
    assert image_info(tmp_path / "out.png") == (SIZE, "RGB")
    rep = tmp_path / "rep"
    assert sorted(p.name for p in rep.iterdir()) == sorted(REPORT_FILES)
    for plot in ("curves.png", "comparison.png"):
        with Image.open(rep / plot) as im:
            im.verify()

    m = json.loads((rep / "metrics.json").read_text())
    assert m["task"] == "denoise" and m["iterations"] == 3 and m["device"] == "cpu" and m["seed"] == 0
    assert m["result"] == "combined" and m["method"]["dip_result"] == "best" and m["seconds"] >= 0
    w = m["method"]["dip_weight"]  # the fixture's noise reads as white or camera-like: either share is named
    named = f"{w:g} x DIP's result" if w != 0.5 else "the mean of DIP's result"
    assert f"combined: {named} (DIP alone" in res.out
    assert m["stopped_by"] == "iterations" and m["stop_rule"] is None  # --iters N: fixed count, rule never fired
    assert m["oracle_psnr"] >= max(m["output"]["gt"]["psnr"], m["ema"]["gt"]["psnr"]) - 0.05
    for name in ("output", "ema", "best", "combined"):
        assert set(m[name]) == {"observation", "gt"}
        for ref in ("observation", "gt"):
            assert set(m[name][ref]) == {"psnr", "ssim", "mse"}
            assert all(isinstance(v, float) for v in m[name][ref].values()), m[name][ref]
    assert set(m["input"]) == {"gt"} and set(m["input"]["gt"]) == {"psnr", "ssim", "mse"}
    assert m["input"]["gt"]["psnr"] == pytest.approx(20.2, abs=1.0)  # sigma 25 noise
    assert m["table"] == {
        "final_vs_gt": m["output"]["gt"]["psnr"], "ema_vs_gt": m["ema"]["gt"]["psnr"],
        "final_vs_observation": m["output"]["observation"]["psnr"],
        "ema_vs_observation": m["ema"]["observation"]["psnr"],
    }

    with open(rep / "history.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["iteration"]) for r in rows] == [1, 2, 3]  # one row per logged step (--log-every 1)
    for col in ("iteration", "seconds", "loss", "psnr_output"):
        assert col in rows[0]
        assert all(np.isfinite(float(r[col])) for r in rows)

    cfg = json.loads((rep / "config.json").read_text())
    net, fit = from_dict(NetConfig, cfg["net"]), from_dict(FitConfig, cfg["fit"])
    preset = get_preset("denoise")  # the default, fast
    assert net == replace(preset.net, channels_down=(8, 8), channels_up=(8, 8), channels_skip=(2, 2),
                          input_channels=4)
    # --iters 3: exactly 3 steps, with what depends on the device decided for the CPU
    assert fit == resolve_execution(replace(preset.fit, iterations=3, log_every=1, stop="none", noise_model="white"),
                                    torch.device("cpu"))  # the noise, white, told apart by the plan too
    # the noise level was estimated from the image (sigma 25 on the 0-255 scale), once, for its one tile
    (tile,) = cfg["tiling"]["tiles"]
    assert 15 / 255 < tile["noise_sigma"] < 35 / 255 and fit.noise_sigma is None
    assert cfg["inputs"]["image"].endswith("noisy.png") and len(cfg["inputs"]["sha256"]["gt"]) == 64
    assert net.channels_down == (8, 8) and fit.iterations == 3
    assert cfg["task"] == "denoise" and cfg["seed"] == 0 and cfg["image_size"] == [40, 36, 3]


def test_report_overwrite_replaces_report(run, tmp_path, noisy_png):
    rep = tmp_path / "rep"
    rep.mkdir()
    (rep / "metrics.json").write_text("{}\n")
    res = run("denoise", noisy_png, "-o", "out.png", "--report", rep, "--overwrite", *TINY)
    assert res.code == 0, res.err
    assert json.loads((rep / "metrics.json").read_text())["task"] == "denoise"
    assert "gt" not in json.loads((rep / "metrics.json").read_text())["output"]  # no --gt given


def test_inpaint(run, tmp_path, noisy_png, mask_png):
    res = run("inpaint", noisy_png, "--mask", mask_png, "-o", "out.png", *TINY)
    assert res.code == 0, res.err
    assert image_info(tmp_path / "out.png") == (SIZE, "RGB")
    # The fast preset writes the known pixels as they were read; --no-keep-measured writes the network's output.
    assert "known pixels kept" in res.out
    known = np.asarray(Image.open(tmp_path / mask_png)) > 127
    given, out = np.asarray(Image.open(noisy_png)), np.asarray(Image.open(tmp_path / "out.png"))
    assert np.array_equal(out[known], given[known]) and not np.array_equal(out[~known], given[~known])
    res = run("inpaint", noisy_png, "--mask", mask_png, "-o", "own.png", "--no-keep-measured", *TINY)
    assert res.code == 0 and "known pixels kept" not in res.out
    assert not np.array_equal(np.asarray(Image.open(tmp_path / "own.png"))[known], given[known])


def test_fill(run, tmp_path, noisy_png, mask_png):
    res = run("fill", noisy_png, "--mask", mask_png, "-o", "out.png", *TINY, "--channels-skip", "0x2")
    assert res.code == 0, res.err
    assert "(best," in res.out
    assert image_info(tmp_path / "out.png") == (SIZE, "RGB")


def test_reconstruct_grey_stays_grey(run, tmp_path, grey_png, mask_png):
    res = run("reconstruct", grey_png, "--mask", mask_png, "-o", "out.png", "--report", "rep", *TINY)
    assert res.code == 0, res.err
    assert image_info(tmp_path / "out.png") == (SIZE, "L")
    assert json.loads((tmp_path / "rep" / "config.json").read_text())["image_size"] == [40, 36, 1]


def test_save_every_writes_steps_into_report(run, tmp_path, noisy_png):
    res = run("denoise", noisy_png, "-o", "out.png", "--report", "rep", "--save-every", "2", *TINY)
    assert res.code == 0, res.err
    steps = tmp_path / "rep" / "steps"
    assert sorted(p.name for p in steps.iterdir()) == ["ema_000002.png", "output_000002.png"]
    for p in steps.iterdir():
        assert image_info(p) == (SIZE, "RGB")


def test_save_every_without_report_writes_next_to_output(run, tmp_path, noisy_png):
    res = run("denoise", noisy_png, "-o", "out.png", "--save-every", "2", *TINY)
    assert res.code == 0, res.err
    assert sorted(p.name for p in (tmp_path / "out_steps").iterdir()) == ["ema_000002.png", "output_000002.png"]


def test_degrade_downscale_then_superres_with_report(run, tmp_path, clean_png):
    res = run("degrade", clean_png, "--downscale", "4", "-o", "lr.png")
    assert res.code == 0, res.err
    assert image_info(tmp_path / "lr.png") == ((10, 9), "RGB")  # 40x36 is already a multiple of 4
    res = run("superres", "lr.png", "--scale", "4", "--gt", clean_png, "-o", "sr.png", "--report", "rep", *TINY)
    assert res.code == 0, res.err
    assert image_info(tmp_path / "sr.png") == (SIZE, "RGB")
    m = json.loads((tmp_path / "rep" / "metrics.json").read_text())
    for key in ("output", "ema", "best", "bicubic", "input"):
        assert {"psnr", "psnr_y", "ssim", "mse"} <= set(m[key]["gt"]), key
    assert "bicubic" in res.out


def test_superres_gt_is_centre_cropped_like_degrade(run, tmp_path, write_png, clean_rgb):
    big = write_png("big.png", np.pad(clean_rgb, ((1, 2), (0, 3), (0, 0)), mode="edge"))  # 43x39
    assert run("degrade", big, "--downscale", "4", "-o", "lr.png").code == 0
    res = run("superres", "lr.png", "--scale", "4", "--gt", big, "-o", "sr.png", *TINY)
    assert res.code == 0, res.err
    assert image_info(tmp_path / "sr.png") == (SIZE, "RGB")


def test_degrade_jpeg_and_dejpeg(run, tmp_path, clean_png):
    res = run("degrade", clean_png, "--jpeg", "10", "-o", "j.png")
    assert res.code == 0, res.err
    a = np.asarray(Image.open(tmp_path / "j.png")).astype(float)
    b = np.asarray(Image.open(clean_png)).astype(float)
    assert a.shape == b.shape and 0 < np.abs(a - b).mean() < 20  # compressed, not destroyed
    res = run("dejpeg", "j.png", "--gt", clean_png, "-o", "dj.png", *TINY)
    assert res.code == 0, res.err
    assert image_info(tmp_path / "dj.png") == (SIZE, "RGB")


def test_flash_pair(run, tmp_path, clean_png, noisy_png, write_png, clean_rgb):
    res = run("flash", "--flash", clean_png, "--noflash", noisy_png, "-o", "f.png", "--upsample", "nearest", *TINY)
    assert res.code == 0, res.err
    assert image_info(tmp_path / "f.png") == (SIZE, "RGB")
    write_png("small.png", clean_rgb[:20, :20])
    res = run("flash", "--flash", "small.png", "--noflash", noisy_png, "-o", "g.png", "--upsample", "nearest", *TINY)
    assert_user_error(res, "guide image", "20x20")


def test_compare_reports_classical_methods(run, tmp_path, noisy_png, clean_png, write_png):
    res = run("denoise", noisy_png, "--gt", clean_png, "-o", "d.png", "--report", "rep", "--compare", *TINY)
    assert res.code == 0, res.err
    m = json.loads((tmp_path / "rep" / "metrics.json").read_text())
    assert set(m["compare"]) == {"cbm3d", "nlm"}
    noisy_psnr = m["input"]["gt"]["psnr"]
    assert m["compare"]["cbm3d"]["gt"]["psnr"] > noisy_psnr + 3  # a real denoiser ran on the same input
    assert 15 / 255 < m["compare"]["cbm3d"]["sigma"] < 35 / 255  # sigma 25 estimated without the ground truth
    known = np.full(SIZE[::-1], 255, np.uint8)
    known[10:20, 10:25] = 0
    write_png("m.png", known)
    assert run("degrade", clean_png, "--mask", "m.png", "-o", "holed.png").code == 0
    res = run("inpaint", "holed.png", "--mask", "m.png", "--gt", clean_png, "-o", "i.png", "--report", "rep2",
              "--compare", *TINY)
    assert res.code == 0, res.err
    m = json.loads((tmp_path / "rep2" / "metrics.json").read_text())
    assert m["compare"]["biharmonic"]["gt"]["psnr"] > m["input"]["gt"]["psnr"] + 10  # smooth image: easy fill


def test_demo_writes_everything(run, tmp_path):
    res = run("demo", "--out", "demo", "--max-iters", "3", "--quiet")
    assert res.code == 0, res.err
    names = {p.name for p in (tmp_path / "demo").iterdir()}
    assert {"clean.png", "noisy.png", "restored.png", *REPORT_FILES} <= names
    m = json.loads((tmp_path / "demo" / "metrics.json").read_text())
    assert m["iterations"] == 3 and set(m["compare"]) == {"cbm3d", "nlm"}
    assert image_info(tmp_path / "demo" / "restored.png") == ((128, 128), "RGB")


def test_tiled_restore_from_the_cli(run, tmp_path, noisy_png, clean_png):
    res = run("denoise", noisy_png, "--gt", clean_png, "-o", "t.png", "--tile", "32", "--report", "rep", *TINY)
    assert res.code == 0, res.err
    assert "4 tiles of 32x32 px" in res.out
    assert image_info(tmp_path / "t.png") == (SIZE, "RGB")
    m = json.loads((tmp_path / "rep" / "metrics.json").read_text())
    assert m["tiles"] == 4 and m["iterations"] == 12


def test_the_estimate_before_a_run_counts_tiles_and_time(run, noisy_png):
    tiny = [a for a in TINY if a != "--quiet"]
    res = run("denoise", noisy_png, "-o", "t.png", "--tile", "32", *tiny)
    assert res.code == 0, res.err
    line = next(x for x in res.err.splitlines() if x.startswith("fitting"))
    assert line.startswith("fitting 4 tiles of 32x32: about ") and "s per step" in line
    assert "3 steps per tile" in line and "GiB of memory" in line


def test_the_time_estimate_counts_tiles_fitted_side_by_side_once(run, noisy_png, monkeypatch):
    import torch

    from deepprior.jobs import costs

    threads_seen = []

    def one_second(*args, **kwargs):  # 1 s per step, timed on the threads each tile will get
        threads_seen.append(torch.get_num_threads())
        return 1.0

    monkeypatch.setattr(costs, "time_step", one_second)
    tiny = [a for a in TINY if a != "--quiet"]
    threads = torch.get_num_threads()
    for workers, total in (("1", "12 s"), ("2", "6 s")):  # 4 tiles x 3 steps, one or two at a time
        res = run("denoise", noisy_png, "-o", f"t{workers}.png", "--tile", "32", "--workers", workers, *tiny)
        line = next(x for x in res.err.splitlines() if x.startswith("fitting"))
        assert res.code == 0 and line.endswith(f"{total} on cpu"), line
    assert threads_seen == [threads, max(1, threads // 2)] and torch.get_num_threads() == threads


def test_fitting_options_reach_the_config(run, tmp_path, noisy_png):
    res = run("denoise", noisy_png, "-o", "out.png", "--report", "rep", *TINY, "--freeze-convs", "--train-input",
              "--input-norm", "--loss", "rmse", "--tv", "0.3", "--lr", "0.05", "--no-stop-peak",
              "--reg-noise-ramp", "100", "--reg-noise-start", "0.5", "--ema-warmup", "--adam-betas", "0.8,0.9",
              "--stop-noise-factor", "1.03", "--holdout", "0.1")
    assert res.code == 0, res.err
    cfg = json.loads((tmp_path / "rep" / "config.json").read_text())
    assert cfg["net"]["freeze_convs"] and cfg["net"]["input_norm"] and cfg["fit"]["train_input"]
    assert cfg["fit"]["loss"] == "rmse" and cfg["fit"]["tv_weight"] == 0.3 and not cfg["fit"]["compile"]
    assert cfg["fit"]["stop_peak"] is False
    assert cfg["fit"]["reg_noise_ramp"] == 100 and cfg["fit"]["reg_noise_start"] == 0.5
    assert cfg["fit"]["ema_warmup"] is True and cfg["fit"]["adam_betas"] == [0.8, 0.9]
    assert cfg["fit"]["stop_noise_factor"] == 1.03 and cfg["fit"]["holdout"] == 0.1
    m = json.loads((tmp_path / "rep" / "metrics.json").read_text())
    assert m["holdout_pixels"] > 0 and "psnr_holdout_ema" in (tmp_path / "rep" / "history.csv").read_text()
    bad = run("denoise", noisy_png, "-o", "bad.png", *TINY, "--adam-betas", "0.9")
    assert bad.code != 0 and "two numbers" in bad.err and "Traceback" not in bad.err
    bad = run("denoise", noisy_png, "-o", "bad.png", *TINY, "--holdout", "0.5")
    assert bad.code != 0 and "--holdout" in bad.err and "Traceback" not in bad.err


def test_auto_tiles_give_each_worker_a_tile_and_none_fits_whole(run, tmp_path, write_png, clean_rgb):
    big = np.kron(clean_rgb, np.ones((4, 4, 1), np.uint8))[:128, :128]  # 128 px: split in two for two workers
    write_png("big.png", big)
    res = run("denoise", "big.png", "-o", "t.png", "--workers", "2", "--report", "rep", *TINY)
    assert res.code == 0, res.err
    assert "2 tiles of 128x72 px (overlap 16 px, 2 at a time)" in res.out
    assert "tiles stopped by " in res.out and " x" in res.out.split("tiles stopped by ")[1].split(";")[0]
    assert image_info(tmp_path / "t.png") == ((128, 128), "RGB")
    assert json.loads((tmp_path / "rep" / "config.json").read_text())["tiling"]["tile"] == [72, 128]
    res = run("denoise", "big.png", "-o", "w.png", "--workers", "2", "--tile", "none", *TINY)
    assert res.code == 0 and "tiles" not in res.out
    res = run("denoise", "big.png", "-o", "p.png", "--workers", "2", "--preset", "paper", *TINY)
    assert res.code == 0 and "tiles" not in res.out  # the paper preset fits the whole image
