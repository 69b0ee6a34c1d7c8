"""``deepprior degrade`` and ``deepprior mask``: simulated corruptions with a known ground truth, and masks."""

import numpy as np
import pytest
from PIL import Image

from conftest import SIZE
from helpers import assert_user_error, files_under, image_info


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


def test_degrade_noise_with_mask_out_does_not_claim_a_mask(run, tmp_path, clean_png):
    res = run("degrade", clean_png, "-o", "n.png", "--noise", "25", "--mask-out", "m.png")
    assert_user_error(res, "--mask-out")
    assert not (tmp_path / "n.png").exists() and not (tmp_path / "m.png").exists()


def test_masks_must_be_png(run, tmp_path):
    res = run("mask", "drop", "--fraction", "0.3", "--size", "50x40", "-o", "d.jpg")
    assert_user_error(res, ".png")
    assert not (tmp_path / "d.jpg").exists()


def mask_array(path):
    with Image.open(path) as im:
        assert im.mode == "L"
        return np.asarray(im)
