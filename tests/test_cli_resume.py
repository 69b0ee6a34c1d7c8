"""Checkpoint and resume: a run killed with SIGKILL and resumed with `deepprior resume REPORT` ends with the
same image, bit for bit on the CPU, as a run never stopped; finished tiles are not fitted again."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from PIL import Image

NET = ["--log-every", "10", "--channels-down", "8x2", "--channels-up", "8x2", "--channels-skip", "2x2",
       "--input-channels", "4", "--quiet"]
ENV = {**os.environ, "OMP_NUM_THREADS": "1"}


def _cli(*args, cwd):
    return subprocess.Popen([sys.executable, "-m", "deepprior", *map(str, args)], cwd=cwd, env=ENV,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _kill_when(p, marker, report):
    """SIGKILL the run ``p`` once ``marker`` exists (and make sure it had not finished)."""
    end = time.monotonic() + 300
    while not marker.exists() and time.monotonic() < end and p.poll() is None:
        time.sleep(0.02)
    p.send_signal(signal.SIGKILL)
    p.wait(30)
    assert marker.exists() and not (report / "metrics.json").exists(), "killed too late to test"


@pytest.mark.slow
@pytest.mark.parametrize("tiles,wait_for", [([], "tile-0.pt"), (["--tile", "24", "--workers", "1"], "tile-0.done.pt")])
def test_a_killed_run_resumes_to_the_same_image(tmp_path, noisy_png, tiles, wait_for):
    args = ("denoise", noisy_png, "--iters", "400", *NET, *tiles)
    ref = _cli(*args, "-o", "ref.png", "--checkpoint-every", "0", cwd=tmp_path)
    assert ref.wait(300) == 0, ref.stderr.read()
    p = _cli(*args, "-o", "out.png", "--report", "rep", "--checkpoint-every", "50", cwd=tmp_path)
    _kill_when(p, tmp_path / "rep" / "checkpoint" / wait_for, tmp_path / "rep")
    r = _cli("resume", "rep", "--quiet", cwd=tmp_path)
    out, err = r.communicate(timeout=300)
    assert r.returncode == 0, err
    a, b = (np.asarray(Image.open(tmp_path / n)) for n in ("ref.png", "out.png"))
    assert np.array_equal(a, b), "the resumed run's image differs from the uninterrupted run's"
    assert not (tmp_path / "rep" / "checkpoint").exists()  # complete: the checkpoints are gone
    m = json.loads((tmp_path / "rep" / "metrics.json").read_text())
    assert m["iterations"] == 400 * m["tiles"] and m["interrupted"] is False


def test_resume_without_checkpoints_says_why(run, tmp_path):
    (tmp_path / "rep").mkdir()
    res = run("resume", tmp_path / "rep")
    assert res.code == 2 and "holds no checkpoint" in res.err


def test_checkpoints_need_a_report(run, noisy_png):
    res = run("denoise", noisy_png, "-o", "out.png", "--checkpoint-every", "10", *NET, "--iters", "3")
    assert res.code == 2 and "--report" in res.err


@pytest.mark.slow
def test_a_run_stopped_by_sigterm_keeps_its_checkpoints_and_resumes(tmp_path, noisy_png):
    args = ("denoise", noisy_png, "--iters", "300", *NET)
    ref = _cli(*args, "-o", "ref.png", cwd=tmp_path)
    assert ref.wait(300) == 0, ref.stderr.read()
    p = _cli(*args, "-o", "out.png", "--report", "rep", "--checkpoint-every", "50", cwd=tmp_path)
    marker = tmp_path / "rep" / "checkpoint" / "tile-0.pt"
    end = time.monotonic() + 300
    while not marker.exists() and time.monotonic() < end and p.poll() is None:
        time.sleep(0.02)
    p.send_signal(signal.SIGTERM)
    assert p.wait(60) == 143
    assert json.loads((tmp_path / "rep" / "metrics.json").read_text())["interrupted"] is True
    assert marker.exists()  # kept: the run can be finished
    r = _cli("resume", "rep", "--quiet", cwd=tmp_path)
    assert r.wait(300) == 0, r.stderr.read()
    a, b = (np.asarray(Image.open(tmp_path / n)) for n in ("ref.png", "out.png"))
    assert np.array_equal(a, b)


@pytest.mark.slow
def test_a_run_of_two_fits_killed_in_the_second_resumes_to_the_same_image_and_map(tmp_path, noisy_png):
    args = ("denoise", noisy_png, "--iters", "300", "--uncertainty", "2", *NET)
    ref = _cli(*args, "-o", "ref.png", "--report", "refrep", "--checkpoint-every", "0", cwd=tmp_path)
    assert ref.wait(300) == 0, ref.stderr.read()
    p = _cli(*args, "-o", "out.png", "--report", "rep", "--checkpoint-every", "50", cwd=tmp_path)
    _kill_when(p, tmp_path / "rep" / "checkpoint" / "fit-1" / "tile-0.pt", tmp_path / "rep")  # in the second fit
    assert (tmp_path / "rep" / "checkpoint" / "tile-0.done.pt").exists()  # the first fit is kept whole
    r = _cli("resume", "rep", "--quiet", cwd=tmp_path)
    out, err = r.communicate(timeout=300)
    assert r.returncode == 0, err
    a, b = (np.asarray(Image.open(tmp_path / n)) for n in ("ref.png", "out.png"))
    assert np.array_equal(a, b)
    maps = [np.load(tmp_path / folder / "uncertainty.npy") for folder in ("refrep", "rep")]
    assert np.array_equal(*maps)
