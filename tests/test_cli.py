"""Tests for the ``deepprior`` command line (``deepprior.cli.main``), on tiny images and 3-step fits.

User errors must exit non-zero with one ``deepprior: error: ...`` line on stderr, no traceback, and write
nothing (no output image, no report). Happy paths check the files each command writes.
"""

import csv
import json
import os
import pathlib
import subprocess
import sys
from dataclasses import dataclass

import numpy as np
import pytest
import torch
from PIL import Image

from deepprior.cli import main
from deepprior.config import FitConfig, NetConfig, from_dict, replace
from deepprior.presets import get_preset
from deepprior.report import REPORT_FILES

from conftest import SIZE

#: A 2-scale network and 3 steps: a full restore run takes a fraction of a second on a CPU.
TINY = ["--iters", "3", "--log-every", "1", "--channels-down", "8x2", "--channels-up", "8x2",
        "--channels-skip", "2x2", "--input-channels", "4", "--quiet"]


@pytest.fixture(autouse=True)
def one_torch_thread():
    """Tiny fits gain nothing from threads, and OpenMP threads stall for seconds on a busy machine."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@dataclass
class Result:
    code: int
    out: str
    err: str


@pytest.fixture
def run(capsys, monkeypatch, tmp_path):
    """``run(*args)`` calls ``main(argv)`` in-process (cwd = tmp_path) and returns exit code, stdout, stderr."""
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


def files_under(folder):
    """Every file and folder below ``folder``, as relative POSIX paths (to prove a run wrote nothing)."""
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*")}


def assert_user_error(res, *words):
    """Exit status 2, exactly one ``deepprior: error:`` line on stderr naming ``words``, nothing on stdout."""
    assert res.code == 2, (res.code, res.err)
    lines = res.err.strip().splitlines()
    assert len(lines) == 1, res.err
    assert lines[0].startswith("deepprior: error: "), res.err
    assert "Traceback" not in res.err
    for w in words:
        assert w.lower() in lines[0].lower(), (w, lines[0])
    assert res.out == ""


def image_info(path):
    with Image.open(path) as im:
        return im.size, im.mode


def mask_array(path):
    with Image.open(path) as im:
        assert im.mode == "L"
        return np.asarray(im)


# --------------------------------------------------------------------------------------------------------
# User errors: one line, exit 2, nothing written.
# --------------------------------------------------------------------------------------------------------


def test_missing_image_file(run, tmp_path):
    before = files_under(tmp_path)
    res = run("denoise", "nope.png", "-o", "out.png", "--report", "rep", *TINY)
    assert_user_error(res, "nope.png", "no such file")
    assert files_under(tmp_path) == before


def test_text_file_named_png(run, tmp_path):
    (tmp_path / "fake.png").write_text("this is not an image\n")
    before = files_under(tmp_path)
    res = run("denoise", "fake.png", "-o", "out.png", "--report", "rep", *TINY)
    assert_user_error(res, "fake.png", "not an image")
    assert files_under(tmp_path) == before


def test_mask_size_differs_from_image(run, tmp_path, noisy_png, write_png):
    write_png("small_mask.png", np.full((20, 30), 255, np.uint8))
    before = files_under(tmp_path)
    res = run("inpaint", noisy_png, "--mask", "small_mask.png", "-o", "out.png", "--report", "rep", *TINY)
    assert_user_error(res, "mask", "30x20", "40x36")
    assert files_under(tmp_path) == before


def test_non_binary_mask(run, tmp_path, noisy_png, write_png):
    w, h = SIZE
    m = np.full((h, w), 255, np.uint8)
    m[:, :10] = 0
    m[:, 10:20] = 128
    write_png("grey_mask.png", m)
    before = files_under(tmp_path)
    res = run("inpaint", noisy_png, "--mask", "grey_mask.png", "-o", "out.png", "--report", "rep", *TINY)
    assert_user_error(res, "mask", "binary")
    assert files_under(tmp_path) == before


def test_16_bit_png(run, tmp_path, write_png):
    w, h = SIZE
    path = write_png("deep.png", (np.arange(w * h, dtype=np.uint16).reshape(h, w) * 40))
    assert image_info(path)[1].startswith("I")  # really a 16-bit PNG
    before = files_under(tmp_path)
    res = run("denoise", "deep.png", "-o", "out.png", "--report", "rep", *TINY)
    assert_user_error(res, "deep.png", "16-bit")
    assert files_under(tmp_path) == before


def test_rgba_with_transparency(run, tmp_path, write_png, clean_rgb):
    alpha = np.full(clean_rgb.shape[:2] + (1,), 255, np.uint8)
    alpha[0, 0] = 0
    write_png("alpha.png", np.concatenate([clean_rgb, alpha], axis=-1))
    before = files_under(tmp_path)
    res = run("denoise", "alpha.png", "-o", "out.png", "--report", "rep", *TINY)
    assert_user_error(res, "alpha.png", "transparent")
    assert files_under(tmp_path) == before


@pytest.mark.parametrize("spelling", ["noisy.png", "./sub/../noisy.png"])
def test_output_equal_to_input(run, tmp_path, noisy_png, spelling):
    (tmp_path / "sub").mkdir()
    data = noisy_png.read_bytes()
    before = files_under(tmp_path)
    res = run("denoise", "noisy.png", "-o", spelling, "--overwrite", *TINY)
    assert_user_error(res, "same file as input")
    assert files_under(tmp_path) == before
    assert noisy_png.read_bytes() == data


def test_output_equal_to_mask(run, tmp_path, noisy_png, mask_png):
    data = mask_png.read_bytes()
    before = files_under(tmp_path)
    res = run("inpaint", noisy_png, "--mask", "mask.png", "-o", "mask.png", "--overwrite", *TINY)
    assert_user_error(res, "same file as input")
    assert files_under(tmp_path) == before
    assert mask_png.read_bytes() == data


def test_existing_output_needs_overwrite(run, tmp_path, noisy_png):
    out = tmp_path / "out.png"
    out.write_bytes(b"precious")
    before = files_under(tmp_path)
    res = run("denoise", noisy_png, "-o", out, "--report", "rep", *TINY)
    assert_user_error(res, "out.png", "--overwrite")
    assert files_under(tmp_path) == before
    assert out.read_bytes() == b"precious"

    res = run("denoise", noisy_png, "-o", out, "--overwrite", *TINY)
    assert res.code == 0, res.err
    assert image_info(out) == (SIZE, "RGB")


def test_inpaint_without_mask_is_a_usage_error(run, tmp_path, noisy_png):
    before = files_under(tmp_path)
    res = run("inpaint", noisy_png, "-o", "out.png", *TINY)
    assert res.code == 2
    assert "--mask" in res.err and "Missing option" in res.err
    assert "Traceback" not in res.err
    assert files_under(tmp_path) == before


@pytest.mark.parametrize("extra", [
    ["--noise", "25", "--drop", "0.5", "--mask-out", "m.png"],
    ["--noise", "25", "--mask", "mask.png"],
    ["--drop", "0.5", "--mask", "mask.png", "--mask-out", "m.png"],
    [],
])
def test_degrade_needs_exactly_one_corruption(run, tmp_path, clean_png, mask_png, extra):
    before = files_under(tmp_path)
    res = run("degrade", clean_png, "-o", "bad.png", *extra)
    assert_user_error(res, "exactly one")
    assert files_under(tmp_path) == before


def test_degrade_drop_needs_mask_out(run, tmp_path, clean_png):
    before = files_under(tmp_path)
    res = run("degrade", clean_png, "-o", "bad.png", "--drop", "0.5")
    assert_user_error(res, "--mask-out")
    assert files_under(tmp_path) == before


def test_report_folder_with_a_report_needs_overwrite(run, tmp_path, noisy_png):
    rep = tmp_path / "rep"
    rep.mkdir()
    (rep / "metrics.json").write_text("{}\n")
    before = files_under(tmp_path)
    res = run("denoise", noisy_png, "-o", "out.png", "--report", rep, *TINY)
    assert_user_error(res, "already holds a report", "--overwrite")
    assert files_under(tmp_path) == before
    assert (rep / "metrics.json").read_text() == "{}\n"


def test_report_folder_that_is_a_file(run, tmp_path, noisy_png):
    (tmp_path / "rep").write_text("a file")
    before = files_under(tmp_path)
    res = run("denoise", noisy_png, "-o", "out.png", "--report", "rep", *TINY)
    assert_user_error(res, "is a file")
    assert files_under(tmp_path) == before


def test_image_too_large_for_memory(run, tmp_path, noisy_png, monkeypatch):
    monkeypatch.setattr("deepprior.api.available_memory", lambda device: 1)
    before = files_under(tmp_path)
    res = run("denoise", noisy_png, "-o", "out.png", "--report", "rep", *TINY)
    assert_user_error(res, "40x36", "memory", "free", "crop or downscale")
    assert files_under(tmp_path) == before


def test_unknown_output_extension(run, tmp_path, noisy_png):
    before = files_under(tmp_path)
    res = run("denoise", noisy_png, "-o", "out.xyz", *TINY)
    assert_user_error(res, "out.xyz", "extension")
    assert files_under(tmp_path) == before


def test_bad_channel_list_is_a_usage_error(run, tmp_path, noisy_png):
    before = files_under(tmp_path)
    res = run("denoise", noisy_png, "-o", "out.png", *TINY, "--channels-down", "8x2x3")
    assert res.code == 2
    assert "--channels-down" in res.err and "Traceback" not in res.err
    assert files_under(tmp_path) == before


def test_channel_lists_of_different_lengths(run, tmp_path, noisy_png):
    before = files_under(tmp_path)
    res = run("denoise", noisy_png, "-o", "out.png", *TINY, "--channels-up", "8x3")
    assert_user_error(res, "same number of scales")
    assert files_under(tmp_path) == before


# --------------------------------------------------------------------------------------------------------
# Errors through a real process: exit code non-zero and no traceback.
# --------------------------------------------------------------------------------------------------------


def run_process(tmp_path, *args):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "deepprior", *map(str, args)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)


def test_process_missing_image(tmp_path):
    before = files_under(tmp_path)
    p = run_process(tmp_path, "denoise", "nope.png", "-o", "out.png", "--report", "rep", *TINY)
    assert p.returncode == 2
    assert "Traceback" not in p.stderr
    assert p.stderr.strip().splitlines() == [p.stderr.strip()]
    assert p.stderr.startswith("deepprior: error: ") and "nope.png" in p.stderr
    assert files_under(tmp_path) == before


def test_process_non_binary_mask_and_usage_error(tmp_path, noisy_png, write_png):
    w, h = SIZE
    write_png("grey_mask.png", np.tile(np.array([0, 128, 255], np.uint8), (h, w // 3 + 1))[:, :w])
    before = files_under(tmp_path)
    p = run_process(tmp_path, "inpaint", noisy_png, "--mask", "grey_mask.png", "-o", "out.png", *TINY)
    assert p.returncode != 0
    assert "Traceback" not in p.stderr
    assert p.stderr.startswith("deepprior: error: ") and "binary" in p.stderr
    p = run_process(tmp_path, "inpaint", noisy_png, "-o", "out.png", *TINY)
    assert p.returncode == 2
    assert "Traceback" not in p.stderr and "--mask" in p.stderr
    assert files_under(tmp_path) == before


def test_process_help_and_version(tmp_path):
    p = run_process(tmp_path, "--help")
    assert p.returncode == 0, p.stderr
    for command in ("denoise", "inpaint", "fill", "reconstruct", "degrade", "mask", "demo"):
        assert command in p.stdout


def test_console_script_version(tmp_path):
    script = pathlib.Path(sys.executable).with_name("deepprior")  # the [project.scripts] entry point
    if not script.exists():
        pytest.skip("deepprior console script not installed next to the interpreter")
    p = subprocess.run([str(script), "--version"], cwd=tmp_path, capture_output=True, text=True, timeout=120,
                       env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == "deepprior, version 0.1.0"


def test_version_in_process(run):
    res = run("--version")
    assert res.code == 0
    assert res.out.strip() == "deepprior, version 0.1.0"


# --------------------------------------------------------------------------------------------------------
# Happy paths.
# --------------------------------------------------------------------------------------------------------


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
    assert m["result"] == "best" and m["seconds"] >= 0
    assert m["stopped_by"] == "iterations" and m["stop_rule"] is None  # --iters N: fixed count, rule never fired
    assert m["oracle_psnr"] >= max(m["output"]["gt"]["psnr"], m["ema"]["gt"]["psnr"]) - 0.05
    for name in ("output", "ema", "best"):
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
    # --iters 3: exactly 3 steps; the noise level was estimated from the image (sigma 25 on the 0-255 scale)
    assert 15 / 255 < fit.noise_sigma < 35 / 255
    assert fit == replace(preset.fit, iterations=3, log_every=1, stop="none", noise_sigma=fit.noise_sigma)
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


def test_degrade_noise_is_seeded(run, tmp_path, clean_png):
    for name, seed in (("a.png", 1), ("b.png", 1), ("c.png", 2)):
        res = run("degrade", clean_png, "-o", name, "--noise", "25", "--seed", seed)
        assert res.code == 0, res.err
        assert image_info(tmp_path / name) == (SIZE, "RGB")
    a, b, c = ((tmp_path / n).read_bytes() for n in ("a.png", "b.png", "c.png"))
    assert a == b
    assert a != c
    with Image.open(clean_png) as im_clean, Image.open(tmp_path / "a.png") as im_noisy:
        diff = np.asarray(im_noisy, np.float64) - np.asarray(im_clean, np.float64)
    assert 15 < diff.std() < 30  # sigma 25, a little less where clipped


def test_degrade_drop_writes_mask_and_zeros(run, tmp_path, clean_png):
    res = run("degrade", clean_png, "-o", "dropped.png", "--drop", "0.5", "--mask-out", "m.png")
    assert res.code == 0, res.err
    assert "missing" in res.out
    m = mask_array(tmp_path / "m.png")
    assert m.shape == (SIZE[1], SIZE[0])
    assert set(np.unique(m).tolist()) == {0, 255}
    assert 0.4 < (m == 0).mean() < 0.6
    with Image.open(tmp_path / "dropped.png") as im, Image.open(clean_png) as im_clean:
        out, clean = np.asarray(im), np.asarray(im_clean)
    assert out.shape == clean.shape
    assert (out[m == 0] == 0).all()
    np.testing.assert_array_equal(out[m == 255], clean[m == 255])


def test_degrade_with_existing_mask(run, tmp_path, clean_png, mask_png):
    res = run("degrade", clean_png, "-o", "holed.png", "--mask", mask_png)
    assert res.code == 0, res.err
    with Image.open(tmp_path / "holed.png") as im:
        out = np.asarray(im)
    assert (out[10:18, 12:22] == 0).all()


def test_degrade_with_mask_of_wrong_size(run, tmp_path, clean_png, write_png):
    write_png("small_mask.png", np.full((20, 30), 255, np.uint8))
    before = files_under(tmp_path)
    res = run("degrade", clean_png, "-o", "holed.png", "--mask", "small_mask.png")
    assert_user_error(res, "30x20", "40x36")
    assert files_under(tmp_path) == before


def test_mask_text(run, tmp_path):
    res = run("mask", "text", "HELLO WORLD", "--size", "64x48", "-o", "t.png")
    assert res.code == 0, res.err
    m = mask_array(tmp_path / "t.png")
    assert m.shape == (48, 64)
    assert set(np.unique(m).tolist()) == {0, 255}


def test_mask_holes_like_image(run, tmp_path, noisy_png):
    res = run("mask", "holes", "--like", noisy_png, "-o", "h.png")
    assert res.code == 0, res.err
    m = mask_array(tmp_path / "h.png")
    assert m.shape == (SIZE[1], SIZE[0])
    assert set(np.unique(m).tolist()) == {0, 255}


def test_mask_drop(run, tmp_path):
    res = run("mask", "drop", "--fraction", "0.3", "--size", "50x40", "-o", "d.png")
    assert res.code == 0, res.err
    m = mask_array(tmp_path / "d.png")
    assert m.shape == (40, 50)
    assert set(np.unique(m).tolist()) == {0, 255}
    assert 0.2 < (m == 0).mean() < 0.4


@pytest.mark.parametrize("args, words", [
    (["drop", "--fraction", "0.3", "-o", "d.png"], ["--size", "--like"]),
    (["drop", "--fraction", "0.3", "--size", "50x40", "--like", "noisy.png", "-o", "d.png"], ["--size"]),
])
def test_mask_size_needs_exactly_one_source(run, tmp_path, noisy_png, args, words):
    before = files_under(tmp_path)
    res = run("mask", *args)
    assert_user_error(res, *words)
    assert files_under(tmp_path) == before


def test_mask_existing_output_needs_overwrite(run, tmp_path):
    (tmp_path / "d.png").write_bytes(b"keep")
    res = run("mask", "drop", "--fraction", "0.3", "--size", "50x40", "-o", "d.png")
    assert_user_error(res, "--overwrite")
    assert (tmp_path / "d.png").read_bytes() == b"keep"
    res = run("mask", "drop", "--fraction", "0.3", "--size", "50x40", "-o", "d.png", "--overwrite")
    assert res.code == 0, res.err
    assert mask_array(tmp_path / "d.png").shape == (40, 50)


# --------------------------------------------------------------------------------------------------------
# Output / report / mask-out clashes: refused before anything is written.
# --------------------------------------------------------------------------------------------------------


def test_report_folder_equal_to_output(run, tmp_path, noisy_png):
    before = files_under(tmp_path)
    res = run("denoise", noisy_png, "-o", "out.png", "--report", "out.png", *TINY)
    assert_user_error(res, "out.png")
    assert files_under(tmp_path) == before


def test_report_folder_below_a_file(run, tmp_path, noisy_png):
    before = files_under(tmp_path)
    res = run("denoise", noisy_png, "-o", "out.png", "--report", "noisy.png/rep", *TINY)
    assert_user_error(res, "rep")
    assert files_under(tmp_path) == before


def test_output_inside_report_folder_is_not_clobbered(run, tmp_path, noisy_png):
    res = run("denoise", noisy_png, "-o", "rep/curves.png", "--report", "rep", *TINY)
    assert_user_error(res, "curves.png")
    assert not (tmp_path / "rep").exists()


def test_degrade_noise_with_mask_out_does_not_claim_a_mask(run, tmp_path, clean_png):
    res = run("degrade", clean_png, "-o", "n.png", "--noise", "25", "--mask-out", "m.png")
    assert_user_error(res, "--mask-out")
    assert not (tmp_path / "n.png").exists() and not (tmp_path / "m.png").exists()


def test_masks_must_be_png(run, tmp_path):
    res = run("mask", "drop", "--fraction", "0.3", "--size", "50x40", "-o", "d.jpg")
    assert_user_error(res, ".png")
    assert not (tmp_path / "d.jpg").exists()


# --------------------------------------------------------------------------------------------------------
# Super-resolution, JPEG artifacts, flash / no-flash.
# --------------------------------------------------------------------------------------------------------


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


def test_superres_bad_scale_and_mismatched_gt(run, tmp_path, clean_png, noisy_png):
    res = run("superres", clean_png, "--scale", "3", "-o", "x.png", *TINY)
    assert res.code == 2 and "--scale" in res.err
    res = run("superres", clean_png, "--scale", "2", "--gt", noisy_png, "-o", "x.png", *TINY)
    assert_user_error(res, "ground truth", "80x72")
    assert not (tmp_path / "x.png").exists()


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
    assert len(m["tiles"]) == 4 and m["iterations"] == 12


def test_the_estimate_before_a_run_counts_tiles_and_time(run, noisy_png):
    tiny = [a for a in TINY if a != "--quiet"]
    res = run("denoise", noisy_png, "-o", "t.png", "--tile", "32", *tiny)
    assert res.code == 0, res.err
    line = next(x for x in res.err.splitlines() if x.startswith("fitting"))
    assert line.startswith("fitting 4 tiles of 32x32: about ") and "s per step" in line
    assert "3 steps per tile" in line and "GiB of memory" in line


def test_the_time_estimate_counts_tiles_fitted_side_by_side_once(run, noisy_png, monkeypatch):
    import torch

    from deepprior import costs

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


@pytest.mark.parametrize("tiles,first_line", [([], "fitting 40x36"),
                                              (["--tile", "24", "--workers", "2"], "fitting 4 tiles of 24x24")])
def test_ctrl_c_keeps_the_result_and_the_report(tmp_path, noisy_png, tiles, first_line):
    """A real SIGINT to a running fit (or to tiles fitted by two worker threads): the run stops cleanly, writes
    the result so far and the report."""
    import signal
    import time

    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "deepprior", "denoise", str(noisy_png), "-o", "out.png",
                             "--report", "rep", "--iters", "100000", "--log-every", "1", "--channels-down", "8x2",
                             "--channels-up", "8x2", "--channels-skip", "2x2", "--input-channels", "4", *tiles],
                            cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert first_line in proc.stderr.readline()  # printed just before the fit starts
    time.sleep(2.0)  # the bar's output in that time stays far below the pipe's buffer
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "interrupted" in out and "Traceback" not in err
    assert image_info(tmp_path / "out.png") == (SIZE, "RGB")
    m = json.loads((tmp_path / "rep" / "metrics.json").read_text())
    assert m["stopped_by"] == "interrupted" and 1 <= m["iterations"] < 100000


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
    assert json.loads((tmp_path / "rep" / "config.json").read_text())["tile"] == [72, 128]
    res = run("denoise", "big.png", "-o", "w.png", "--workers", "2", "--tile", "none", *TINY)
    assert res.code == 0 and "tiles" not in res.out
    res = run("denoise", "big.png", "-o", "p.png", "--workers", "2", "--preset", "paper", *TINY)
    assert res.code == 0 and "tiles" not in res.out  # the paper preset fits the whole image


def test_a_bad_tile_size_is_a_usage_error(run, noisy_png):
    for value, why in (("big", "expected auto, none or a size in pixels"), ("8", "at least 16 px")):
        res = run("denoise", noisy_png, "-o", "t.png", "--tile", value)
        assert res.code == 2 and "Invalid value for '--tile': " in res.err and why in res.err, res.err
        assert res.err.count("\n") == 1 and res.err.startswith("deepprior: error: ")  # one line, no usage block


def test_usage_errors_are_one_line_and_a_bare_command_shows_its_help(run, noisy_png):
    for args, what in ((("denoise", noisy_png, "-o", "t.png", "--bogus"), "No such option '--bogus'"),
                       (("frobnicate",), "No such command 'frobnicate'"), (("denoise",), "Missing argument")):
        res = run(*args)
        assert res.code == 2 and res.err.count("\n") == 1 and what in res.err and "--help" in res.err, res.err
    res = run("mask")
    assert res.code == 2 and "Commands:" in res.out + res.err
