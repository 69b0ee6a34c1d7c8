"""Batch runs of a folder on the local engine: every image once, a bad file recorded and skipped over, reruns
that skip what is done, a batch killed with SIGKILL that resumes to the same outputs."""

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

from deepprior.imaging import metrics
from deepprior.imaging.degrade import add_noise
from helpers import shapes_image

TINY = ("--channels-down", "8,8", "--channels-up", "8,8", "--channels-skip", "2,2", "--input-channels", "4")


def make_folder(root, n=4, size=40, broken=True):
    """``n`` noisy images (and their clean versions in gt/), plus a corrupt file."""
    (root / "in").mkdir(parents=True)
    (root / "gt").mkdir()
    for i in range(n):
        clean = np.roll(shapes_image(size), 5 * i, axis=1)
        Image.fromarray((clean * 255).round().astype(np.uint8)).save(root / "gt" / f"img{i}.png")
        noisy = add_noise(clean, 25, seed=i)
        Image.fromarray((noisy * 255).round().astype(np.uint8)).save(root / "in" / f"img{i}.png")
    if broken:
        (root / "in" / "broken.png").write_bytes(b"\x89PNG but not really")
    return root / "in", root / "gt"


def lines(out):
    return [json.loads(x) for x in (out / "manifest.jsonl").read_text().splitlines()]


def test_a_folder_with_a_bad_file(run, tmp_path):
    src, gt = make_folder(tmp_path)
    out = tmp_path / "out"
    res = run("batch", src, out, "--task", "denoise", "--iters", "200", "--gt", gt, "--quiet", *TINY)
    assert res.code == 1, res.err
    assert "4 restored, 1 failed, 0 skipped" in res.out
    recs = lines(out)
    assert len(recs) == 5
    by = {r["input"]: r for r in recs}
    assert by["broken.png"]["status"] == "failed" and "cannot read image" in by["broken.png"]["error"]
    for i in range(4):
        r = by[f"img{i}.png"]
        assert r["status"] == "ok" and r["steps"] == 200 and r["device"] == "cpu" and len(r["settings_hash"]) == 16
        assert r["metrics"]["psnr"] > r["metrics"]["input_psnr"]  # restored beats the noisy input
        assert Image.open(out / f"img{i}.png").size == (40, 40)
    assert not (out / "broken.png").exists()

    res = run("batch", src, out, "--task", "denoise", "--iters", "200", "--gt", gt, "--quiet", *TINY)
    assert res.code == 1 and "0 restored, 1 failed, 4 skipped" in res.out
    skipped = [r for r in lines(out)[5:] if r["status"] == "skipped"]
    assert len(skipped) == 4 and all(r["seconds"] < 5 for r in skipped)

    res = run("batch", src, out, "--task", "denoise", "--iters", "201", "--quiet", *TINY)  # other settings
    assert res.code == 1 and "0 restored, 5 failed" in res.out and "--overwrite redoes it" in res.err


def test_mask_tasks_find_their_masks_and_a_missing_one_fails_alone(run, tmp_path):
    src, _ = make_folder(tmp_path, n=3, broken=False)
    for i in range(2):  # img2 has no mask
        known = np.ones((40, 40), np.uint8) * 255
        known[10:20, 10:30] = 0
        Image.fromarray(known).save(src / f"img{i}_mask.png")
    out = tmp_path / "out"
    res = run("batch", src, out, "--task", "inpaint", "--mask-suffix", "_mask", "--iters", "5", "--quiet", *TINY)
    assert res.code == 1
    by = {r["input"]: r for r in lines(out)}
    assert set(by) == {"img0.png", "img1.png", "img2.png"}  # the masks are not images of the batch
    assert by["img0.png"]["status"] == by["img1.png"]["status"] == "ok"
    assert by["img2.png"]["status"] == "failed" and "no mask" in by["img2.png"]["error"]


def test_settings_are_checked_once_before_any_image(run, tmp_path):
    src, _ = make_folder(tmp_path, n=2)
    res = run("batch", src, tmp_path / "out", "--task", "denoise", "--lr", "-1", "--quiet")
    assert res.code == 2 and "lr" in res.err and not (tmp_path / "out" / "manifest.jsonl").exists()
    res = run("batch", src, tmp_path / "out", "--task", "inpaint", "--quiet")
    assert res.code == 2 and "needs masks" in res.err
    res = run("batch", tmp_path / "nowhere", tmp_path / "out", "--task", "denoise")
    assert res.code == 2 and "is not a folder" in res.err
    res = run("batch", src, src / "out", "--task", "denoise")
    assert res.code == 2 and "inside the input folder" in res.err
    res = run("batch", src, tmp_path / "out", "--task", "denoise", "--uncertainty", "1", "--quiet")
    assert res.code == 2 and "add --report" in res.err


def test_a_batch_with_uncertainty_leaves_a_map_in_each_report(run, tmp_path):
    src, gt = make_folder(tmp_path, n=2, broken=False)
    res = run("batch", src, tmp_path / "out", "--task", "denoise", "--gt", gt, "--report", "--uncertainty", "1",
              "--iters", "20", *TINY, "--quiet")
    assert res.code == 0, res.err
    for name in ("img0", "img1"):
        u = np.load(tmp_path / "out" / "reports" / name / "uncertainty.npy")
        assert u.shape == (40, 40) and (u > 0).all()


def _cli(*args, cwd):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-m", "deepprior", *map(str, args)], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.slow
def test_a_batch_killed_with_sigkill_resumes_to_the_same_outputs(tmp_path):
    src, _ = make_folder(tmp_path, n=4, size=32, broken=False)
    args = ("--task", "denoise", "--iters", "150", "--quiet", *TINY)
    ref = _cli("batch", src, tmp_path / "ref", *args, cwd=tmp_path)
    assert ref.wait(300) == 0, ref.stderr.read()
    out = tmp_path / "out"
    p = _cli("batch", src, out, *args, cwd=tmp_path)
    end = time.monotonic() + 300
    while not (out / "img0.png").exists() and time.monotonic() < end:
        time.sleep(0.05)
    p.send_signal(signal.SIGKILL)
    p.wait(30)
    done_before = {p.name for p in out.glob("img*.png")}  # whole outputs (a manifest line may not follow yet)
    assert 1 <= len(done_before) < 4, "the kill came too late to test a resume"
    p = _cli("batch", src, out, *args, cwd=tmp_path)
    assert p.wait(300) == 0, p.stderr.read()
    last = {r["input"]: r["status"] for r in lines(out)}
    assert all(last[name] == "skipped" for name in done_before)
    for i in range(4):
        a = np.asarray(Image.open(tmp_path / "ref" / f"img{i}.png"))
        b = np.asarray(Image.open(out / f"img{i}.png"))
        assert np.array_equal(a, b), f"img{i}: resumed output differs from an uninterrupted batch"
        clean, noisy = (np.asarray(Image.open(d / f"img{i}.png")) / 255.0 for d in (tmp_path / "gt", src))
        assert metrics.psnr(b / 255.0, clean) > metrics.psnr(noisy, clean)  # restored, not copied


def test_an_output_whose_manifest_line_was_lost_is_still_skipped(run, tmp_path):
    src, _ = make_folder(tmp_path, n=1, broken=False)
    out = tmp_path / "out"
    assert run("batch", src, out, "--task", "denoise", "--iters", "5", "--quiet", *TINY).code == 0
    (out / "manifest.jsonl").unlink()  # a kill after the image was renamed into place, before its line
    res = run("batch", src, out, "--task", "denoise", "--iters", "5", "--quiet", *TINY)
    assert res.code == 0 and "0 restored, 0 failed, 1 skipped" in res.out
    assert not list(out.glob(".*partial*"))
