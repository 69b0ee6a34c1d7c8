"""Faults found before the fit, not after it: unwritable outputs and reports, non-finite numbers; and a file
that appears at the output during a run is not replaced."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from conftest import SIZE
from helpers import TINY, assert_user_error, files_under, stop_signals_default
from test_cli_signals import _wait_for


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs /proc, a folder no one can write into")
def test_an_unwritable_output_or_report_is_refused_before_the_fit(run, tmp_path, noisy_png):
    before = files_under(tmp_path)
    res = run("denoise", noisy_png, "-o", "/proc/deepprior-out.png", *TINY)
    assert_user_error(res, "/proc/deepprior-out.png", "not writable")
    res = run("denoise", noisy_png, "-o", "out.png", "--report", "/proc/deepprior-report", *TINY)
    assert_user_error(res, "report", "not writable")
    assert files_under(tmp_path) == before  # not even the output: the report was refused before the fit


@pytest.mark.parametrize("args", [("--lr", "inf"), ("--noise-sigma", "inf"), ("--ema", "nan"),
                                  ("--noise-sigma", "nan")])
def test_non_finite_numbers_are_refused(run, noisy_png, args):
    res = run("denoise", noisy_png, "-o", "out.png", *TINY, *args)
    assert res.code == 2 and "Traceback" not in res.err and args[0] in res.err, res.err


def test_degrade_refuses_nan_noise(run, noisy_png):
    res = run("degrade", noisy_png, "--noise", "nan", "-o", "bad.png")
    assert res.code == 2 and "finite" in res.err


def test_a_file_that_appears_at_the_output_during_the_run_is_kept(tmp_path, noisy_png):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "deepprior", "denoise", str(noisy_png), "-o", "out.png",
                             "--iters", "100000", "--log-every", "1", "--channels-down", "8x2", "--channels-up",
                             "8x2", "--channels-skip", "2x2", "--input-channels", "4"],
                            cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=stop_signals_default)
    try:
        _wait_for(proc.stderr, "it/s")
        assert (tmp_path / "out.png").stat().st_size == 0  # the name is claimed while the run goes on
        theirs = np.full((8, 8, 3), 7, np.uint8)
        Image.fromarray(theirs).save(tmp_path / "other.png")
        os.replace(tmp_path / "other.png", tmp_path / "out.png")  # another program writes there meanwhile
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130
    assert np.array_equal(np.asarray(Image.open(tmp_path / "out.png")), theirs)
    assert "appeared during the run" in err
    assert Image.open(tmp_path / "out.deepprior-1.png").size == SIZE


def _png16(a: np.ndarray) -> bytes:
    """A 48-bit RGB PNG (Pillow cannot write one)."""
    import struct
    import zlib
    h, w, _ = a.shape
    raw = b"".join(b"\x00" + a[y].astype(">u2").tobytes() for y in range(h))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def test_16_bit_colour_is_refused_not_truncated(run, tmp_path):
    (tmp_path / "deep.png").write_bytes(_png16(np.full((32, 32, 3), 40000, np.uint16)))
    res = run("denoise", tmp_path / "deep.png", "-o", "out.png", *TINY)
    assert_user_error(res, "16-bit")


def test_an_animation_is_refused_not_cut_to_its_first_frame(run, tmp_path):
    frames = [Image.fromarray(np.full((32, 32, 3), v, np.uint8)) for v in (30, 200)]
    frames[0].save(tmp_path / "anim.gif", save_all=True, append_images=frames[1:])
    res = run("denoise", tmp_path / "anim.gif", "-o", "out.png", *TINY)
    assert_user_error(res, "2 frames")


def test_an_all_white_mask_is_refused(run, tmp_path, noisy_png, write_png):
    white = write_png("white.png", np.full((SIZE[1], SIZE[0]), 255, np.uint8))
    res = run("inpaint", noisy_png, "--mask", white, "-o", "out.png", *TINY)
    assert_user_error(res, "no pixel as missing")


def test_a_thin_strip_is_judged_by_its_own_size_not_a_tile_s(run, write_png):
    strip = write_png("strip.png", np.full((600, 8, 3), 128, np.uint8))
    res = run("denoise", strip, "-o", "out.png", "--quiet")  # the preset's 4-scale network
    assert_user_error(res, "image of 8x600 is too small")
    res = run("denoise", write_png("wide.png", np.full((8, 600, 3), 128, np.uint8)), "-o", "out.png", *TINY)
    assert res.code == 0, res.err  # a 2-scale network fits 8 px: the strip is tiled within its short side


@pytest.mark.parametrize("args,words", [(("--seed", "99999999999999999999"), "--seed"),
                                        (("--device", "tpu"), "unknown device 'tpu'"),
                                        (("--device", "cuda:abc"), "unknown device 'cuda:abc'")])
def test_seeds_and_devices_are_checked_in_one_line(run, noisy_png, args, words):
    res = run("denoise", noisy_png, "-o", "out.png", *TINY, *args)
    assert_user_error(res, words)


def test_our_own_pixel_limit_comes_before_decoding(run, tmp_path):
    Image.new("L", (12000, 12000)).save(tmp_path / "huge.png", optimize=True)  # 144 megapixels, a small file
    assert (tmp_path / "huge.png").stat().st_size < 1_000_000
    res = run("denoise", tmp_path / "huge.png", "-o", "out.png", *TINY)
    assert_user_error(res, "12000x12000 (144 megapixels)", "--max-megapixels")
    res = run("denoise", tmp_path / "huge.png", "-o", "out.png", "--max-megapixels", "0.001", *TINY)
    assert_user_error(res, "over the limit of 0")
