"""Tests for deepprior.imaging.masks: generators, validation and PNG round trips."""

import numpy as np
import pytest
from PIL import Image

from deepprior.errors import InputError
from deepprior.imaging.masks import (
    drop_mask,
    holes_mask,
    load_mask,
    mask_from_array,
    missing_fraction,
    save_mask,
    text_mask,
)

SIZES = [(64, 48), (37, 31)]
GENERATORS = {
    "text": lambda size, seed: text_mask(size, "deep image prior", seed=seed),
    "blobs": lambda size, seed: holes_mask(size, shape="blobs", seed=seed),
    "rects": lambda size, seed: holes_mask(size, shape="rects", seed=seed),
    "drop": lambda size, seed: drop_mask(size, 0.3, seed=seed),
}


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("kind", GENERATORS)
def test_generators_give_hw_bool_masks(kind, size):
    m = GENERATORS[kind](size, 0)
    assert m.dtype == np.bool_
    assert m.shape == (size[1], size[0])


@pytest.mark.parametrize("kind", GENERATORS)
def test_seed_is_reproducible_and_matters(kind):
    a, b, c = (GENERATORS[kind]((64, 48), s) for s in (3, 3, 4))
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


def test_drop_fraction_close_to_requested():
    for fraction in (0.0, 0.1, 0.5, 0.9):
        assert abs(missing_fraction(drop_mask((200, 200), fraction, seed=1)) - fraction) < 0.02


@pytest.mark.parametrize("size", SIZES + [(256, 192)])
def test_text_mask_mostly_known_with_some_text(size):
    frac = missing_fraction(text_mask(size, "hello world"))
    assert 0.01 < frac < 0.5


def test_text_mask_rows_spread_over_height():
    m = text_mask((128, 96), "lorem ipsum dolor", lines=4)
    rows_with_ink = np.flatnonzero((~m).any(axis=1))
    # Four rows over 96 px: ink must reach both the top and the bottom quarter.
    assert rows_with_ink.min() < 24 and rows_with_ink.max() >= 72


def test_text_mask_lines_and_font_size_change_coverage():
    few = missing_fraction(text_mask((128, 96), "abc def", lines=1))
    many = missing_fraction(text_mask((128, 96), "abc def", lines=5))
    assert many > 2 * few
    big = missing_fraction(text_mask((128, 96), "abc def", font_size=20, lines=2))
    small = missing_fraction(text_mask((128, 96), "abc def", font_size=8, lines=2))
    assert big > small


def test_text_mask_explicit_lines():
    m = text_mask((200, 100), "AB\nCD", seed=0)
    ink_rows = np.flatnonzero((~m).any(axis=1))
    # Two explicit lines -> two separate bands of ink, one in each half.
    assert ink_rows.min() < 50 <= ink_rows.max()
    assert 0 < missing_fraction(m) < 0.1


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(size=(64, 48), text=""),
        dict(size=(64, 48), text="  \n "),
        dict(size=(0, 48), text="x"),
        dict(size=(64, -1), text="x"),
        dict(size=(64,), text="x"),
        dict(size=(64, 48), text="x", font_size=49),
        dict(size=(64, 48), text="x", font_size=0),
        dict(size=(64, 48), text="x", lines=0),
    ],
)
def test_text_mask_rejects_bad_input(kwargs):
    with pytest.raises(InputError):
        text_mask(**kwargs)


@pytest.mark.parametrize("shape", ["blobs", "rects"])
def test_holes_mask_has_holes_within_cap(shape):
    m = holes_mask((64, 48), count=1, shape=shape, max_fraction=0.25, seed=5)
    ys, xs = np.nonzero(~m)
    assert missing_fraction(m) > 0
    assert xs.max() - xs.min() + 1 <= 16 and ys.max() - ys.min() + 1 <= 16


def test_holes_more_count_more_missing():
    assert missing_fraction(holes_mask((64, 48), count=20)) > missing_fraction(holes_mask((64, 48), count=1))


@pytest.mark.parametrize(
    "kwargs", [dict(shape="stars"), dict(count=0), dict(max_fraction=0.0), dict(max_fraction=1.5)]
)
def test_holes_mask_rejects_bad_input(kwargs):
    with pytest.raises(InputError):
        holes_mask((64, 48), **kwargs)


@pytest.mark.parametrize("fraction", [-0.1, 1.0, 2.0])
def test_drop_mask_rejects_bad_fraction(fraction):
    with pytest.raises(InputError):
        drop_mask((64, 48), fraction)


def test_round_trip_save_load(tmp_path):
    m = holes_mask((37, 31), shape="rects", seed=2)
    path = tmp_path / "m.png"
    save_mask(m, path)
    with Image.open(path) as im:
        assert im.mode == "L" and im.format == "PNG"
        assert set(np.unique(np.asarray(im)).tolist()) <= {0, 255}
    assert np.array_equal(load_mask(path), m)


def test_load_mask_accepts_mode_1_and_rgb(tmp_path):
    m = drop_mask((37, 31), 0.5, seed=3)
    grey = np.where(m, 255, 0).astype(np.uint8)
    Image.fromarray(grey).convert("1").save(tmp_path / "one.png")
    Image.fromarray(np.stack([grey] * 3, axis=-1)).save(tmp_path / "rgb.png")
    assert np.array_equal(load_mask(tmp_path / "one.png"), m)
    assert np.array_equal(load_mask(tmp_path / "rgb.png"), m)


def test_mask_from_array_accepts_binary_forms():
    known = np.array([[1, 0, 1], [0, 1, 1]], dtype=np.uint8)
    expected = known.astype(bool)
    assert np.array_equal(mask_from_array(known), expected)
    assert np.array_equal(mask_from_array(known * 255), expected)
    assert np.array_equal(mask_from_array(np.stack([known * 255] * 3, axis=-1)), expected)
    assert np.array_equal(mask_from_array(known[..., None]), expected)
    assert np.array_equal(mask_from_array(expected), expected)
    assert mask_from_array(np.full((4, 5), 255, np.uint8)).all()
    assert not mask_from_array(np.zeros((4, 5), np.uint8)).any()


@pytest.mark.parametrize(
    "arr, match",
    [
        (np.array([[0, 128, 255]], np.uint8), "binary"),
        (np.array([[0, 1, 255]], np.uint8), "binary"),
        (np.stack([np.zeros((2, 2)), np.full((2, 2), 255), np.zeros((2, 2))], -1).astype(np.uint8), "channels"),
        (np.zeros((2, 2, 4), np.uint8), "shape"),
        (np.zeros((2, 2), np.uint16), "dtype"),
        (np.zeros((0, 3), np.uint8), "empty"),
    ],
)
def test_mask_from_array_rejects(arr, match):
    with pytest.raises(InputError, match=match):
        mask_from_array(arr)


def test_mask_from_array_message_counts_values():
    with pytest.raises(InputError, match="found 37 distinct values"):
        mask_from_array(np.arange(37, dtype=np.uint8).reshape(1, 37))


def test_load_mask_rejects_16bit_png(tmp_path):
    path = tmp_path / "deep.png"
    Image.fromarray(np.full((31, 37), 1000, np.uint16)).save(path)
    with pytest.raises(InputError, match="16/32-bit"):
        load_mask(path)


def test_load_mask_rejects_rgba_png(tmp_path):
    path = tmp_path / "alpha.png"
    Image.fromarray(np.full((31, 37, 4), 255, np.uint8)).save(path)
    with pytest.raises(InputError, match="RGBA"):
        load_mask(path)


def test_load_mask_rejects_missing_and_garbage_files(tmp_path):
    with pytest.raises(InputError, match="cannot read mask"):
        load_mask(tmp_path / "nope.png")
    (tmp_path / "junk.png").write_bytes(b"not an image")
    with pytest.raises(InputError, match="cannot read mask"):
        load_mask(tmp_path / "junk.png")
