"""``deepprior rerun``: a report's config.json reruns the same job and gives the same image."""

import json

from helpers import TINY, assert_user_error, pixels


def test_a_rerun_repeats_the_run_exactly(run, tmp_path, noisy_png, clean_png):
    tiny = [a for a in TINY if a not in ("--iters", "3")] + ["--iters", "12", "--seed", "4"]
    res = run("denoise", noisy_png, "--gt", clean_png, "-o", "a.png", "--report", "rep", "--tile", "24", *tiny)
    assert res.code == 0, res.err
    res = run("rerun", "rep", "-o", "b.png", "--report", "rep2", "--quiet")
    assert res.code == 0, res.err
    assert (pixels(tmp_path / "a.png") == pixels(tmp_path / "b.png")).all()
    first, second = (json.loads((tmp_path / d / "config.json").read_text()) for d in ("rep", "rep2"))
    assert first == second and first["tiling"]["tile"] == [24, 24]
    a, b = (json.loads((tmp_path / d / "metrics.json").read_text()) for d in ("rep", "rep2"))
    assert a["best"]["gt"] == b["best"]["gt"] and a["iterations"] == b["iterations"] == 48


def test_a_rerun_refuses_changed_or_missing_inputs(run, tmp_path, noisy_png):
    assert run("denoise", noisy_png, "-o", "a.png", "--report", "rep", *TINY).code == 0
    noisy_png.write_bytes(noisy_png.read_bytes() + b"\0")
    assert_user_error(run("rerun", "rep", "-o", "b.png"), "changed since the run", "--image")
    noisy_png.unlink()
    assert_user_error(run("rerun", "rep", "-o", "b.png"), "is gone")
    assert_user_error(run("rerun", "nowhere", "-o", "b.png"), "cannot read nowhere/config.json")
    assert not (tmp_path / "b.png").exists()
