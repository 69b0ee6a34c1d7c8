import os

import numpy as np
import pytest
import torch
from PIL import Image

from deepprior.cli.paths import check_output_path
from deepprior.imaging import io
from deepprior.errors import InputError

H, W = 31, 37


@pytest.fixture
def rgb8():
    return np.random.default_rng(0).integers(0, 256, (H, W, 3), dtype=np.uint8)


def _save(arr, path):
    Image.fromarray(arr).save(path)
    return path


def test_rgb_round_trip_is_exact(tmp_path, rgb8):
    src = _save(rgb8, tmp_path / "in.png")
    img = io.load_image(src)
    assert img.dtype == np.float32 and img.shape == (H, W, 3)
    assert 0.0 <= img.min() and img.max() <= 1.0
    io.save_image(img, tmp_path / "out.png")
    with Image.open(tmp_path / "out.png") as im:
        np.testing.assert_array_equal(np.asarray(im), rgb8)
    np.testing.assert_array_equal(io.to_uint8(io.load_image(tmp_path / "out.png")), rgb8)


def test_to_uint8_clips_and_rounds():
    out = io.to_uint8(np.array([-0.5, 0.0, 0.5 / 255, 0.6 / 255, 1.0, 2.0, np.nan]))
    assert out.dtype == np.uint8
    assert out.tolist() == [0, 0, 0, 1, 255, 255, 0]


def test_greyscale_loads_as_one_channel(tmp_path, rgb8):
    grey = rgb8[:, :, 0]
    img = io.load_image(_save(grey, tmp_path / "g.png"))
    assert img.shape == (H, W, 1)
    np.testing.assert_array_equal(io.to_uint8(img[:, :, 0]), grey)
    io.save_image(img, tmp_path / "g2.png")
    with Image.open(tmp_path / "g2.png") as im:
        assert im.mode == "L"


def test_bilevel_loads_as_greyscale(tmp_path):
    Image.fromarray(np.eye(16, dtype=bool)).save(tmp_path / "b.png")
    img = io.load_image(tmp_path / "b.png")
    assert img.shape == (16, 16, 1)
    assert set(np.unique(img)) == {0.0, 1.0}


def test_palette_converts_to_rgb_with_right_colours(tmp_path):
    im = Image.new("P", (W, H))
    im.putpalette([255, 0, 0, 0, 0, 255] + [0] * 762)
    im.paste(1, (0, 0, W, H // 2))
    im.save(tmp_path / "p.png")
    img = io.load_image(tmp_path / "p.png")
    assert img.shape == (H, W, 3)
    assert img[0, 0].tolist() == [0.0, 0.0, 1.0]
    assert img[-1, -1].tolist() == [1.0, 0.0, 0.0]


def test_palette_with_used_transparency_is_refused(tmp_path):
    im = Image.new("P", (W, H))
    im.putpalette([255, 0, 0, 0, 0, 255] + [0] * 762)
    im.save(tmp_path / "pt.png", transparency=0)
    with pytest.raises(InputError, match="transparent"):
        io.load_image(tmp_path / "pt.png")
    # A transparent index that no pixel uses (common in GIFs) is harmless.
    im.save(tmp_path / "pu.png", transparency=1)
    assert io.load_image(tmp_path / "pu.png")[0, 0].tolist() == [1.0, 0.0, 0.0]


def test_opaque_rgba_is_accepted(tmp_path, rgb8):
    rgba = np.dstack([rgb8, np.full((H, W), 255, np.uint8)])
    img = io.load_image(_save(rgba, tmp_path / "a.png"))
    assert img.shape == (H, W, 3)
    np.testing.assert_array_equal(io.to_uint8(img), rgb8)


def test_transparent_rgba_and_la_are_refused(tmp_path, rgb8):
    alpha = np.full((H, W), 255, np.uint8)
    alpha[3, 4] = 254
    _save(np.dstack([rgb8, alpha]), tmp_path / "a.png")
    Image.fromarray(np.dstack([rgb8[:, :, 0], alpha]), "LA").save(tmp_path / "la.png")
    for name in ("a.png", "la.png"):
        with pytest.raises(InputError, match="transparent pixels; flatten"):
            io.load_image(tmp_path / name)


def test_sixteen_bit_is_refused(tmp_path):
    Image.fromarray(np.full((H, W), 40000, np.uint16)).save(tmp_path / "d.png")
    with pytest.raises(InputError, match="16-bit images are not supported"):
        io.load_image(tmp_path / "d.png")


def test_cmyk_converts_to_rgb(tmp_path):
    Image.new("CMYK", (W, H), (0, 255, 255, 0)).save(tmp_path / "c.jpg", quality=100)
    img = io.load_image(tmp_path / "c.jpg")
    assert img.shape == (H, W, 3)
    assert img[10, 10, 0] > 0.9 and img[10, 10, 1:].max() < 0.1


@pytest.mark.parametrize("kind", ["missing", "text", "directory"])
def test_unreadable_inputs_are_refused_with_file_name(tmp_path, kind):
    path = tmp_path / "x.png"
    if kind == "text":
        path.write_text("not an image")
    elif kind == "directory":
        path.mkdir()
    with pytest.raises(InputError, match="cannot read image") as err:
        io.load_image(path)
    assert "x.png" in str(err.value) and "\n" not in str(err.value)


def test_tiny_image_is_refused(tmp_path):
    _save(np.zeros((4, 4, 3), np.uint8), tmp_path / "t.png")
    with pytest.raises(InputError, match="4x4"):
        io.load_image(tmp_path / "t.png")


@pytest.mark.parametrize("ext", [".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp"])
def test_save_all_formats_without_leftovers(tmp_path, rgb8, ext):
    target = tmp_path / "sub" / f"out{ext}"
    io.save_image(rgb8 / 255.0, target)
    assert os.listdir(target.parent) == [target.name]
    back = io.to_uint8(io.load_image(target))
    if ext in (".jpg", ".jpeg"):
        # Noise is JPEG's worst case; quality 95 at 4:4:4 still keeps it within a few levels.
        assert np.abs(back.astype(int) - rgb8).mean() < 4
    else:
        np.testing.assert_array_equal(back, rgb8)


def test_save_failure_leaves_nothing(tmp_path, rgb8, monkeypatch):
    def boom(self, *args, **kwargs):
        args[0].write_bytes(b"partial")  # a half-written temp file must still be removed
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Image.Image, "save", boom)
    with pytest.raises(InputError, match="cannot write image .*out.png"):
        io.save_image(rgb8 / 255.0, tmp_path / "out.png")
    assert os.listdir(tmp_path) == []


def test_save_failure_keeps_old_file(tmp_path, rgb8, monkeypatch):
    target = tmp_path / "out.png"
    target.write_bytes(b"old")
    monkeypatch.setattr(Image.Image, "save", lambda *a, **k: (_ for _ in ()).throw(OSError("disk")))
    with pytest.raises(InputError):
        io.save_image(rgb8 / 255.0, target)
    assert os.listdir(tmp_path) == ["out.png"] and target.read_bytes() == b"old"


def test_save_refuses_unknown_extension(tmp_path, rgb8):
    with pytest.raises(InputError, match="unknown image extension"):
        io.save_image(rgb8 / 255.0, tmp_path / "out.xyz")
    assert os.listdir(tmp_path) == []


def test_atomic_write_text_and_bytes(tmp_path):
    io.atomic_write_text(tmp_path / "r" / "report.md", "héllo\n")
    io.atomic_write_bytes(tmp_path / "r" / "data.bin", b"\x00\x01")
    assert (tmp_path / "r" / "report.md").read_text(encoding="utf-8") == "héllo\n"
    assert (tmp_path / "r" / "data.bin").read_bytes() == b"\x00\x01"
    assert sorted(os.listdir(tmp_path / "r")) == ["data.bin", "report.md"]
    # mkstemp's 0600 must not leak into outputs that others are meant to read.
    umask = os.umask(0)
    os.umask(umask)
    assert (tmp_path / "r" / "report.md").stat().st_mode & 0o777 == 0o666 & ~umask


def test_check_output_path(tmp_path, monkeypatch, rgb8):
    monkeypatch.chdir(tmp_path)
    src = _save(rgb8, tmp_path / "in.png")
    (tmp_path / "d").mkdir()
    for same in (src, "in.png", "./d/../in.png"):
        for overwrite in (False, True):
            with pytest.raises(InputError, match="same file as input"):
                check_output_path(same, [None, src], overwrite=overwrite)
    with pytest.raises(InputError, match="same file as input"):  # caught before either file exists
        check_output_path("later.png", ["d/../later.png"])
    os.link(src, tmp_path / "hard.png")
    with pytest.raises(InputError, match="same file as input"):
        check_output_path("hard.png", [src], overwrite=True)
    _save(rgb8, tmp_path / "old.png")
    with pytest.raises(InputError, match="exists; pass --overwrite"):
        check_output_path("old.png", [src])
    assert str(check_output_path("old.png", [src], overwrite=True)) == "old.png"
    assert str(check_output_path("new.png", [src, None])) == "new.png"
    with pytest.raises(InputError, match="unknown image extension"):
        check_output_path("new.txt", [src])
    with pytest.raises(InputError, match="is a directory"):
        check_output_path("d", [src], overwrite=True)


def test_tensor_round_trip(rgb8):
    img = rgb8 / np.float32(255)
    t = io.to_tensor(img)
    assert t.shape == (1, 3, H, W) and t.dtype == torch.float32
    assert t[0, 1, 5, 7].item() == pytest.approx(img[5, 7, 1])
    back = io.from_tensor(t.requires_grad_())
    assert back.dtype == np.float32 and back.shape == (H, W, 3)
    np.testing.assert_array_equal(back, img)
    assert io.to_tensor(img[:, :, 0]).shape == (1, 1, H, W)
    assert io.from_tensor(io.to_tensor(img, dtype=torch.float64)).dtype == np.float32


def test_exif_orientation_is_applied_to_images_and_masks(tmp_path):
    from PIL import Image as _Image

    from deepprior.imaging.io import exif_orientation, load_image
    from deepprior.imaging.masks import load_mask
    pixels = np.zeros((20, 40, 3), np.uint8)
    pixels[:, :10] = 255  # a white band on the left as stored
    exif = _Image.Exif()
    exif[0x0112] = 6  # "turn 90 degrees clockwise to view": a portrait phone photo
    _Image.fromarray(pixels).save(tmp_path / "phone.jpg", exif=exif, quality=95)
    _Image.fromarray(pixels[..., 0]).save(tmp_path / "mask.png", exif=exif)
    img = load_image(tmp_path / "phone.jpg")
    assert exif_orientation(tmp_path / "phone.jpg") == 6 and img.shape == (40, 20, 3)
    assert img[:10].mean() > 0.9 and img[30:].mean() < 0.1  # the band is now at the top, as a viewer shows it
    mask = load_mask(tmp_path / "mask.png")
    assert mask.shape == (40, 20) and mask[:10].all() and not mask[30:].any()
