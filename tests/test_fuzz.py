"""Property tests (hypothesis, time-bounded): whatever bytes a file holds, reading it as an image or a mask
either works or raises InputError, never anything else; truncated and mutated real PNG / JPEG / TIFF / WebP
files included. Every number parser of the options refuses what it cannot take with a ValueError."""

from __future__ import annotations

import dataclasses
import io
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from PIL import Image

from deepprior.config import FitConfig, NetConfig
from deepprior.errors import InputError
from deepprior.fields import meta
from deepprior.imaging.io import load_image
from deepprior.imaging.masks import load_mask
from helpers import shapes_image

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _encoded(fmt: str) -> bytes:
    buf = io.BytesIO()
    Image.fromarray((shapes_image(24) * 255).astype(np.uint8)).save(buf, format=fmt)
    return buf.getvalue()


SEEDS = [_encoded(f) for f in ("PNG", "JPEG", "TIFF", "WEBP", "BMP")]


@st.composite
def damaged(draw) -> bytes:
    """A real image file cut short, with some bytes changed, or with bytes inserted."""
    data = bytearray(draw(st.sampled_from(SEEDS)))
    how = draw(st.sampled_from(["truncate", "mutate", "insert"]))
    if how == "truncate":
        return bytes(data[:draw(st.integers(0, len(data) - 1))])
    if how == "mutate":
        for _ in range(draw(st.integers(1, 8))):
            data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
        return bytes(data)
    at = draw(st.integers(0, len(data)))
    return bytes(data[:at]) + draw(st.binary(min_size=1, max_size=64)) + bytes(data[at:])


def _read(reader, tmp_path, data: bytes) -> None:
    path = tmp_path / "fuzz.img"
    path.write_bytes(data)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Pillow warns of odd files; only what escapes as an error matters
        try:
            reader(path)
        except InputError as e:
            assert str(e) and "\n" not in str(e)  # one line, as the CLI prints it


@FAST
@given(data=st.one_of(st.binary(max_size=512), damaged()))
def test_any_bytes_read_as_an_image_work_or_are_refused(tmp_path, data):
    _read(load_image, tmp_path, data)


@FAST
@given(data=st.one_of(st.binary(max_size=512), damaged()))
def test_any_bytes_read_as_a_mask_work_or_are_refused(tmp_path, data):
    _read(load_mask, tmp_path, data)


PARSERS = [meta(f).parse for cls in (NetConfig, FitConfig) for f in dataclasses.fields(cls)
           if meta(f).flag is not None and meta(f).parse is not None]


@pytest.mark.parametrize("parse", PARSERS, ids=lambda p: p.__name__)
@settings(max_examples=60, deadline=None)
@given(text=st.text(max_size=24))
def test_every_option_parser_takes_a_value_or_says_why(parse, text):
    try:
        parse(text)
    except ValueError as e:
        assert str(e)


@FAST
@given(data=st.one_of(st.binary(max_size=512), damaged()))
def test_any_bytes_uploaded_to_the_page_work_or_are_refused(tmp_path, data):
    from deepprior.web.uploads import Limits, read_image
    _read(lambda p: read_image(p, Limits()), tmp_path, data)


FLAGS = [meta(f).flag for cls in (NetConfig, FitConfig) for f in dataclasses.fields(cls)
         if meta(f).flag is not None and meta(f).parse is not None]
FLAGS += ["--iters", "--max-iters", "--seed", "--device", "--tile", "--overlap", "--workers", "--preset"]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(flag=st.sampled_from(FLAGS), value=st.text(max_size=16).filter(lambda t: not t.startswith("-")))
def test_any_option_value_gets_one_line_and_exit_2_before_any_fit(run, flag, value):
    """Whatever the value, the command ends with one line and exit 2 (the image does not exist, so a value
    that parses fails on it next): no traceback, no fit."""
    res = run("denoise", "missing.png", "-o", "out.png", flag, value)
    assert res.code == 2, (flag, value, res.err)
    assert len(res.err.strip().splitlines()) == 1 and "Traceback" not in res.err, (flag, value, res.err)
