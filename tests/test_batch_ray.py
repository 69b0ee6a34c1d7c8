"""The Ray engine on a local Ray, started by the batch itself inside a loopback-only network namespace (Ray
binds the external interface even when told 127.0.0.1): the same outputs as the local engine, a worker that
dies mid-task retried, one fake GPU per task."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from deepprior.batch.work import CRASH_ONCE
from deepprior.imaging import metrics
from test_batch import TINY, lines, make_folder

pytestmark = pytest.mark.slow
REQUIRED = os.environ.get("DEEPPRIOR_REQUIRE_ALL") == "1"  # `make test`: what CI must not skip


def _namespaced(*args, cwd, env=None, timeout=300):
    """``python -m deepprior ARGS`` in a new network namespace with only loopback up."""
    pytest.importorskip("ray") if not REQUIRED else __import__("ray")
    if shutil.which("unshare") is None or subprocess.run(["unshare", "--net", "true"]).returncode != 0:
        if REQUIRED:
            pytest.fail("unshare --net is refused here; the Ray tests need a loopback-only namespace")
        pytest.skip("no network namespace (unshare --net) for Ray")
    cmd = " ".join([sys.executable, "-m", "deepprior", *map(str, args)])
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "OMP_NUM_THREADS": "1", **(env or {})}
    return subprocess.run(["unshare", "--net", "bash", "-c", f"ip link set lo up; exec {cmd}"], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout)


def test_ray_restores_the_folder_as_the_local_engine_does(tmp_path, run):
    src, gt = make_folder(tmp_path)
    args = ("--task", "denoise", "--iters", "200", "--gt", gt, "--quiet", *TINY)
    local = run("batch", src, tmp_path / "local", *args)
    assert local.code == 1
    p = _namespaced("batch", src, tmp_path / "ray", *args, "--engine", "ray", "--workers", "2", cwd=tmp_path)
    assert p.returncode == 1, p.stderr
    assert "4 restored, 1 failed, 0 skipped" in p.stdout
    recs = {r["input"]: r for r in lines(tmp_path / "ray")}
    assert len(recs) == 5 and recs["broken.png"]["status"] == "failed"
    assert len({r["pid"] for r in recs.values()}) >= 2  # two workers at once
    for i in range(4):
        name = f"img{i}.png"
        clean = np.asarray(Image.open(gt / name)) / 255.0
        a = metrics.psnr(np.asarray(Image.open(tmp_path / "local" / name)) / 255.0, clean)
        b = metrics.psnr(np.asarray(Image.open(tmp_path / "ray" / name)) / 255.0, clean)
        assert abs(a - b) < 0.5, (name, a, b)  # one thread per worker: not bit for bit, the same quality
        assert recs[name]["metrics"]["psnr"] > recs[name]["metrics"]["input_psnr"]


def test_a_dead_worker_is_retried_and_each_task_gets_its_own_gpu(tmp_path):
    src, _ = make_folder(tmp_path, broken=False)
    marker = tmp_path / "crashed"
    p = _namespaced("batch", src, tmp_path / "out", "--task", "denoise", "--iters", "100", "--quiet", *TINY,
                    "--engine", "ray", "--gpus", "2", cwd=tmp_path, env={CRASH_ONCE: str(marker)})
    assert p.returncode == 0, p.stderr
    assert marker.exists(), "no worker was killed"
    recs = lines(tmp_path / "out")
    assert [r["status"] for r in recs] == ["ok"] * 4
    assert int(marker.read_text()) not in {r["pid"] for r in recs}  # the killed worker's task ran again elsewhere
    gpus = [r["ray_gpu_ids"] for r in recs]
    assert all(len(g) == 1 for g in gpus) and {g[0] for g in gpus} == {"0", "1"}
    assert all(r["cuda_visible_devices"] == r["ray_gpu_ids"][0] for r in recs)
    assert {r["device"] for r in recs} == {"cpu"}  # no real GPU here: placement only


def test_ray_missing_is_one_line(tmp_path, run, monkeypatch):
    src, _ = make_folder(tmp_path, n=1, broken=False)
    monkeypatch.setitem(sys.modules, "ray", None)  # as if the [ray] extra were not installed
    res = run("batch", src, tmp_path / "out", "--task", "denoise", "--engine", "ray", "--iters", "2", *TINY)
    assert res.code == 2 and "[ray] extra" in res.err


def test_the_tiles_of_one_image_as_ray_tasks(tmp_path, run):
    src, gt = make_folder(tmp_path, n=1, size=64, broken=False)
    args = ("denoise", src / "img0.png", "--gt", gt / "img0.png", "--tile", "32", "--overlap", "8", "--iters", "150",
            "--quiet", *TINY)
    local = run(*args, "-o", tmp_path / "local.png")
    assert local.code == 0, local.err
    p = _namespaced(*args, "-o", tmp_path / "ray.png", "--engine", "ray", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert "tiles stopped by iterations x9" in p.stdout  # 64 px in 32 px tiles overlapping by 8: 3 x 3
    clean = np.asarray(Image.open(gt / "img0.png")) / 255.0
    noisy = metrics.psnr(np.asarray(Image.open(src / "img0.png")) / 255.0, clean)
    a = metrics.psnr(np.asarray(Image.open(tmp_path / "local.png")) / 255.0, clean)
    b = metrics.psnr(np.asarray(Image.open(tmp_path / "ray.png")) / 255.0, clean)
    assert b > noisy and abs(a - b) < 0.5, (noisy, a, b)
