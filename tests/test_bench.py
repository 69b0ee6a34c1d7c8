"""The bench protocols on a fake data folder of tiny images (3 steps: checks plumbing, not quality)."""

import dataclasses
import json
import math

import numpy as np
import pytest
from PIL import Image

from deepprior.bench.protocols import run_protocol
from deepprior.bench.tables import markdown
from deepprior.errors import InputError
from helpers import smooth_image


@pytest.fixture
def data(tmp_path):
    d9 = tmp_path / "benchmarks" / "denoise9"
    d9.mkdir(parents=True)
    img = (smooth_image(64, 72) * 255).round().astype(np.uint8)
    Image.fromarray(img).save(d9 / "F16_GT.png")
    Image.fromarray(img[::-1]).save(d9 / "lena_GT.png")
    i11 = tmp_path / "benchmarks" / "inpaint11"
    i11.mkdir(parents=True)
    grey = img[..., 0]
    keep = np.random.default_rng(0).random(grey.shape) > 0.5
    Image.fromarray(grey).save(i11 / "house_GT.png")
    Image.fromarray(np.where(keep, np.maximum(grey, 1), 0).astype(np.uint8)).save(i11 / "house_masked.png")
    return tmp_path


@pytest.mark.slow  # the paper's network
def test_denoise_protocol_rows_and_table(data):
    res = run_protocol("denoise9-25", data, quick=True, seeds=2, iterations=3, progress=lambda s: None)
    rows = res["rows"]
    assert [(r["image"], r["seed"]) for r in rows] == [("F16", 0), ("F16", 1), ("lena", 0), ("lena", 1)]
    r = rows[0]
    assert r["size"] == "72x64" and r["paper"] == 33.69 and r["fixed_iterations"] == 3
    assert 19 < r["input"] < 22  # sigma 25 noise
    assert r["cbm3d"] > r["input"] + 3 and r["nlm"] > r["input"]
    assert r["oracle"] >= r["fixed"] - 0.05
    assert set(res["summary"]["seed_spread"]) == {"F16", "lena"}
    table = markdown(res)
    assert "**mean**" in table and "cbm3d" in table and "33.69" in table
    per_seed = res["summary"]["per_seed_mean"]
    assert set(per_seed) == {0, 1}
    assert per_seed[1]["auto"] == pytest.approx((rows[1]["auto"] + rows[3]["auto"]) / 2)
    assert "Over 2 seeds" in table and "auto " in table.split("Over 2 seeds")[1]
    json.dumps(res)  # the CLI writes it as JSON


def test_the_fast_preset_runs_as_it_is_tiles_included(data, monkeypatch):
    import torch

    monkeypatch.setattr(torch, "get_num_threads", lambda: 2)  # two workers: the 128 px image in two tiles
    big = np.kron((smooth_image(64, 64) * 255).round().astype(np.uint8), np.ones((2, 2, 1), np.uint8))
    folder = data / "benchmarks" / "denoise9"
    for p in folder.iterdir():
        p.unlink()
    Image.fromarray(big).save(folder / "F16_GT.png")
    (row,) = run_protocol("denoise9-25", data, quick=False, iterations=30, preset="fast",
                          progress=lambda s: None)["rows"]
    assert row["tiles"] == 2 and row["size"] == "128x128" and row["fixed_iterations"] == 60
    assert row["auto_rule"] in ("cap x2", "discrepancy x2") and row["auto_seconds"] <= row["fixed_seconds"]
    assert row["fixed"] > row["input"] + 3
    # Tile by tile: each tile's returned step against its own best (over whole tiles, edges the blend fades out
    # included, so under the blended image's score).
    assert row["tile_oracle"] >= row["tile_auto"] > row["input"] + 3 and row["tile_auto"] < row["auto"]


def test_inpaint11_masks_and_errors(data):
    res = run_protocol("inpaint11", data, quick=True, iterations=3, preset="fast", progress=lambda s: None)
    (row,) = res["rows"]
    assert row["image"] == "house" and row["paper"] == 39.00 and row["input"] < 15
    assert row["biharmonic"] > row["input"] + 10
    with pytest.raises(InputError, match="no images"):
        run_protocol("set14-x4", data, quick=True, progress=lambda s: None)
    with pytest.raises(InputError, match="unknown protocol"):
        run_protocol("bsd68", data, quick=True)


def test_a_pixel_black_in_the_clean_image_counts_as_known(tmp_path):
    from deepprior.bench.protocols import PROTOCOLS, _corrupt
    from deepprior.imaging.io import load_image

    grey = (smooth_image(32, 32)[..., 0] * 200 + 30).round().astype(np.uint8)
    grey[0] = 0  # a black first row, as peppers256 has
    dropped = np.random.default_rng(0).random(grey.shape) < 0.5
    Image.fromarray(grey).save(tmp_path / "p_GT.png")
    Image.fromarray(np.where(dropped, 0, grey).astype(np.uint8)).save(tmp_path / "p_masked.png")
    obs, extra, gt, _ = _corrupt(PROTOCOLS["inpaint11"], tmp_path / "p_GT.png", load_image(tmp_path / "p_GT.png"),
                                 None, 0)
    known = extra["mask"]
    assert known[0].all() and np.array_equal(known[1:], ~dropped[1:])
    assert np.array_equal(obs, gt * known[..., None])


def test_a_bench_run_goes_on_with_the_images_it_had_left(data, tmp_path):
    rows = tmp_path / "out" / "denoise9-25.rows.jsonl"
    said: list[str] = []
    first = run_protocol("denoise9-25", data, quick=False, images=1, iterations=3, preset="fast",
                         progress=said.append, rows_file=rows)
    assert len(rows.read_text().splitlines()) == 1 and "[1/1] F16" in said[0]
    with open(rows, "a") as f:
        f.write('{"protocol": "denoise9-25", "row": {"ima')  # a line cut short by a kill
    said.clear()
    again = run_protocol("denoise9-25", data, quick=False, iterations=3, preset="fast", progress=said.append,
                         rows_file=rows)
    assert said[0] == "denoise9-25 [1/2] F16 seed 0: done in an earlier run" and "[2/2] lena" in said[1]
    assert again["rows"][0] == first["rows"][0] and [r["image"] for r in again["rows"]] == ["F16", "lena"]
    assert "within 0.5 dB of its run's own peak on" in markdown(again)
    other = run_protocol("denoise9-25", data, quick=False, images=1, iterations=4, preset="fast",
                         progress=said.append, rows_file=rows)  # other settings: fitted again
    assert other["rows"][0]["fixed_iterations"] == 4


def test_only_runs_the_named_images_and_a_wrong_name_is_refused_before_any_fit(data, tmp_path, run):
    from helpers import assert_user_error

    said: list[str] = []
    res = run_protocol("denoise9-25", data, quick=False, iterations=3, preset="fast", progress=said.append,
                       only=("lena",))
    assert [r["image"] for r in res["rows"]] == ["lena"] and "[1/1] lena" in said[0]
    with pytest.raises(InputError, match="denoise9-25 has no image Lena; its images: F16, lena"):
        run_protocol("denoise9-25", data, quick=False, only=("lena", "Lena"))
    res = run("bench", "denoise9-25", "--data", data, "--only", "F16,house", "--out", tmp_path / "out")
    assert_user_error(res, "no image house", "F16, lena")
    assert not (tmp_path / "out").exists()


def test_kept_images_hold_what_the_row_scored(data, tmp_path):
    from deepprior.imaging.metrics import psnr, quantize

    res = run_protocol("denoise9-25", data, quick=False, images=1, iterations=3, preset="fast",
                       progress=lambda s: None, images_dir=tmp_path / "kept")
    (row,) = res["rows"]
    with np.load(tmp_path / "kept" / "F16-seed0.npz") as kept:
        assert kept["observation"].shape == kept["image"].shape == (64, 72, 3)
        for name, column in [("observation", "input"), ("best", "auto"), ("image", "dip+cbm3d")]:
            assert psnr(quantize(kept[name]), kept["ground_truth"]) == pytest.approx(row[column], abs=1e-9)


def test_the_command_writes_its_table_with_the_command_machine_and_day_and_keeps_the_images(run, data, tmp_path):
    res = run("bench", "denoise9-25", "--data", data, "--preset", "fast", "--iters", "3", "--images", "1",
              "--out", "out", "--keep-images")
    assert res.code == 0, res.err
    result = json.loads((tmp_path / "out" / "denoise9-25.json").read_text())
    # The options given, in the order --help lists them: the same command.
    assert result["command"] == (f"deepprior bench denoise9-25 --data {data} --images 1 --iters 3 --preset fast "
                                 "--out out --keep-images")
    assert "threads, torch" in result["machine"] and len(result["date"]) == 10
    assert f"Made with `{result['command']}`" in (tmp_path / "out" / "denoise9-25.md").read_text()
    assert (tmp_path / "out" / "denoise9-25" / "F16-seed0.npz").stat().st_size > 4 * 64 * 72 * 3 * 6


def test_past_stop_ends_each_fit_after_its_rule_fired_and_leaves_the_fixed_column_empty(data, monkeypatch):
    from deepprior.bench import protocols

    quicker = dataclasses.replace(protocols.PROTOCOLS["denoise9-25"], settings={"stop_patience": 150})
    monkeypatch.setitem(protocols.PROTOCOLS, "denoise9-25", quicker)
    res = run_protocol("denoise9-25", data, quick=False, images=1, iterations=2000, preset="fast",
                       progress=lambda s: None, past_stop=1.5)
    (row,) = res["rows"]
    fired = row["auto_iteration"]
    assert row["auto_rule"] == "discrepancy" and row["fixed"] is None
    # At the first logged step (every 25) at 1.5x the stop's step, and at least the patience past it.
    assert row["fixed_iterations"] == math.ceil(max(1.5 * fired, fired + 150) / 25) * 25 < 2000
    assert row["oracle"] >= row["auto"] - 1e-9 and row["auto_seconds"] < row["fixed_seconds"]
    table = markdown(res)
    assert f"| - ({row['fixed_iterations']}) |" in table and "1.5x the step where its rule fired" in table


def test_the_auto_time_of_a_tiled_run_lays_each_tiles_time_to_its_stop_on_the_workers():
    from deepprior.bench.protocols import auto_seconds

    tiles = [{"started": 0.5 + i, "stop_seconds": s} for i, s in enumerate([5.0, 3.0, 4.0, 2.0])]
    # Two workers from 0.5 s: tiles 0 and 1 at once, tile 2 after tile 1 (3.5 s), tile 3 after tile 0 (5.5 s).
    assert auto_seconds({"per_tile": tiles, "workers": 2}) == pytest.approx(7.5)
    assert auto_seconds({"per_tile": tiles[:1], "workers": 2}) == pytest.approx(5.5)


def test_a_signal_stops_the_bench_with_its_finished_images_kept(data, tmp_path):
    import os
    import signal
    import subprocess
    import sys

    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "deepprior", "bench", "denoise9-25", "--data", str(data),
                             "--preset", "fast", "--past-stop", "1", "--out", str(tmp_path / "out")],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        first = proc.stderr.readline()  # F16 is done: lena is being planned or fitted
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert "[1/2] F16" in first and proc.returncode == 143, err
    assert "bench interrupted (SIGTERM): 1 finished images are in" in err and "Traceback" not in err
    assert len((tmp_path / "out" / "denoise9-25.rows.jsonl").read_text().splitlines()) == 1


def test_a_fit_cut_short_writes_no_row(data, tmp_path, monkeypatch):
    import threading

    from deepprior.bench import protocols

    real_run = protocols.run

    def cut_short(job, callbacks):  # as Ctrl-C in the middle of the fit
        cancel = threading.Event()
        return real_run(job, callbacks=[*callbacks, lambda rec: cancel.set() if rec.row["iteration"] >= 20 else None],
                        cancel=cancel)

    monkeypatch.setattr(protocols, "run", cut_short)
    rows = tmp_path / "rows.jsonl"
    with pytest.raises(KeyboardInterrupt):
        run_protocol("denoise9-25", data, quick=False, images=1, iterations=500, preset="fast",
                     progress=lambda s: None, rows_file=rows)
    assert not rows.exists() or rows.read_text() == ""
