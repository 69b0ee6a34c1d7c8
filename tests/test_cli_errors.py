"""The command line's user errors: one ``deepprior: error: ...`` line, exit status 2, no traceback, and nothing
written (no output image, no report), in-process and through a real process."""

import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

from conftest import SIZE
from helpers import TINY, assert_user_error, files_under, image_info


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
    monkeypatch.setattr("deepprior.jobs.planning.available_memory", lambda device: 1)
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
    assert p.stdout.strip() == "deepprior, version 0.2.0"


def test_version_in_process(run):
    res = run("--version")
    assert res.code == 0
    assert res.out.strip() == "deepprior, version 0.2.0"


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


def test_superres_bad_scale_and_mismatched_gt(run, tmp_path, clean_png, noisy_png):
    res = run("superres", clean_png, "--scale", "3", "-o", "x.png", *TINY)
    assert res.code == 2 and "--scale" in res.err
    res = run("superres", clean_png, "--scale", "2", "--gt", noisy_png, "-o", "x.png", *TINY)
    assert_user_error(res, "ground truth", "80x72")
    assert not (tmp_path / "x.png").exists()
