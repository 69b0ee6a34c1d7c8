"""The page's logic without a browser: uploads judged by content and limits, the painted mask, the simulated
corruptions, a live run watched and cancelled, the files a run leaves and the session folders removed."""

from __future__ import annotations

import zipfile

import numpy as np
import pytest
from PIL import Image

from deepprior.errors import InputError
from helpers import shapes_image

pytest.importorskip("pandas")  # the handlers' curves; comes with the [web] extra

from deepprior.web.form import Request, build_job, editor_value, make_mask, painted_known  # noqa: E402
from deepprior.web.handlers import INVENTED, RESTORED, Handlers  # noqa: E402
from deepprior.web.live import LiveRun  # noqa: E402
from deepprior.web.uploads import Limits, check_file, read_image  # noqa: E402
from deepprior.web.workspace import Workspace  # noqa: E402

TINY = {"channels_down": (8, 8), "channels_up": (8, 8), "channels_skip": (2, 2), "input_channels": 4}


@pytest.fixture
def photo(tmp_path):
    path = tmp_path / "photo.jpg"  # a JPEG named .jpg, and the same bytes named .png below
    Image.fromarray((shapes_image(64) * 255).astype(np.uint8)).save(path, format="JPEG", quality=95)
    return path


def test_uploads_are_judged_by_content_and_limits(tmp_path, photo):
    renamed = tmp_path / "photo.png"
    renamed.write_bytes(photo.read_bytes())
    assert check_file(renamed, Limits()) == "JPEG"
    assert read_image(renamed, Limits()).shape == (64, 64, 3)
    (tmp_path / "x.png").write_text("hello")
    with pytest.raises(InputError, match="not an image"):
        check_file(tmp_path / "x.png", Limits())
    with pytest.raises(InputError, match="64x64 px"):
        check_file(photo, Limits(max_pixels=4000))
    with pytest.raises(InputError, match="MB"):
        check_file(photo, Limits(max_bytes=100))


def test_a_bomb_is_refused_from_its_header(tmp_path):
    path = tmp_path / "bomb.png"
    Image.new("L", (20_000, 20_000)).save(path, optimize=True)  # 400 megapixels in a few hundred KB
    assert path.stat().st_size < 2_000_000
    with pytest.raises(InputError, match="megapixels"):
        read_image(path, Limits())
    small = tmp_path / "wide.png"
    Image.new("L", (9000, 2000)).save(small, optimize=True)  # under Pillow's limit, over the page's
    with pytest.raises(InputError, match="9000x2000 px"):
        read_image(small, Limits())


def test_the_editor_paint_is_the_mask():
    img = shapes_image(32)
    known = make_mask("holes", (32, 32), holes=3)
    value = editor_value(img, known)
    assert value["background"].shape == (32, 32, 3)
    assert np.array_equal(painted_known(value, (32, 32)), known)
    assert painted_known(editor_value(img), (32, 32)) is None  # nothing painted
    with pytest.raises(InputError, match="paint it again"):
        painted_known(value, (16, 32))


def test_masks_made_on_the_page():
    assert 0.4 < 1 - make_mask("drop", (40, 48), drop=50).mean() < 0.6
    assert (~make_mask("text", (64, 64), text="hi there")).any()
    with pytest.raises(InputError):
        make_mask("drop", (40, 48), drop=0)


def test_steps_and_seed_are_read_once():
    assert Request("denoise", steps="auto").settings() == {"stop": "auto"}
    assert Request("denoise", steps="40").settings() == {"iterations": 40, "stop": "none"}
    with pytest.raises(InputError, match="steps"):
        Request("denoise", steps="many").settings()
    with pytest.raises(InputError, match="seed"):
        Request("denoise", seed=2**70).seed_value()


@pytest.mark.parametrize("task, shape", [("denoise", (64, 64)), ("superres:2", (64, 64)), ("dejpeg", (64, 64)),
                                         ("deblur", (64, 64))])
def test_simulated_corruptions_are_scored(task, shape):
    job = build_job(shapes_image(64), Request(task, simulate=True, steps="3", device="cpu"), None)
    assert job.inputs.ground_truth is not None and job.out_shape[:2] == shape
    if task == "superres:2":
        assert job.inputs.observation.shape[:2] == (32, 32)


def test_a_mask_task_without_paint_is_refused_before_the_fit():
    with pytest.raises(InputError, match="paint the missing pixels"):
        build_job(shapes_image(64), Request("inpaint", device="cpu"), None)


def test_a_live_run_shows_previews_and_cancel_keeps_the_best(tmp_path):
    img = shapes_image(48)
    job = build_job(img, Request("denoise", steps="400", device="cpu", simulate=True, sigma=25), None)
    live = LiveRun(job, every=2).start()
    seen = set()
    while not live.view().done and len(seen) < 3:
        v = live.view()
        if v.preview is not None:
            seen.add(v.version)
    live.cancel()
    view = live.wait(60)
    assert view.done and len(seen) >= 3
    assert view.result.metrics["stopped_by"] == "interrupted"
    assert view.result.metrics["iterations"] < 400
    assert "cancelled" in view.status() and view.preview.shape == (48, 48, 3)


def test_a_page_run_leaves_its_files_in_the_session_folder(tmp_path):
    ws = Workspace(tmp_path / "ws")
    h = Handlers(ws, Limits())
    path = tmp_path / "in.png"
    Image.fromarray((shapes_image(40) * 255).astype(np.uint8)).save(path)
    img, editor, status, _ = h.upload(str(path))
    assert "40x40" in status
    editor, status = h.make_mask(img, "drop", "", 0, 5, 50, 0)
    updates = list(h.restore("abc", img, editor, Request("reconstruct", steps="6", device="cpu", simulate=True),
                             compare=True, every=2))
    last = updates[-1]
    assert "finished: 6 steps" in last["status"], last["status"]
    assert "biharmonic" in last["table"] and "ground truth" in last["table"]
    image, report = map(pathlib_path, last["files"])
    assert image.parent.parent == ws.session("abc")
    assert Image.open(image).size == (40, 40)
    assert {"metrics.json", "curves.png", "restored.png"} <= set(zipfile.ZipFile(report).namelist())
    h.leave("abc")
    assert not (ws.root / "sessions" / "abc").exists()
    refused = list(h.restore("abc", img, None, Request("inpaint", device="cpu"), compare=False, every=5))
    assert refused == [{"status": "**Refused:** paint the missing pixels on the image (red = missing), or upload "
                                  "or make a mask"}]
    ws.close()
    assert not ws.root.exists()


def test_the_uncertainty_box_adds_the_map_and_its_toggle_over_the_result(tmp_path):
    assert Request("denoise", steps="40", uncertainty=True).settings() == {"iterations": 40, "stop": "none",
                                                                          "uncertainty": 1}
    ws = Workspace(tmp_path / "ws")
    h = Handlers(ws, Limits())
    img = shapes_image(40)
    editor, _ = h.make_mask(img, "holes", "", 0, 3, 50, 0)
    req = Request("inpaint", steps="20", device="cpu", simulate=True, uncertainty=True)
    updates = list(h.restore("u", img, editor, req, compare=False, every=5))
    first, last = updates[0], updates[-1]
    assert first["view"] is False and first["views"] == {}  # the last run's toggle goes at the start
    assert last["view"] is True and set(last["views"]) == {RESTORED, INVENTED}
    assert last["views"][INVENTED].shape == (40, 40, 3) and last["views"][INVENTED].dtype == np.uint8
    assert not np.array_equal(last["views"][INVENTED], last["views"][RESTORED])
    assert "uncertainty: RMS predicted error" in last["table"]
    report = pathlib_path(last["files"][1])
    assert {"uncertainty.npy", "uncertainty.png", "reliability.png"} <= set(zipfile.ZipFile(report).namelist())
    plain = list(h.restore("u", img, editor, Request("inpaint", steps="5", device="cpu"), compare=False, every=5))
    assert plain[-1]["view"] is False and set(plain[-1]["views"]) == {RESTORED}
    ws.close()


def pathlib_path(p):
    import pathlib
    return pathlib.Path(p)


def test_web_refuses_a_taken_port_in_one_line(run):
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        res = run("web", "--port", str(s.getsockname()[1]))
    assert res.code == 2 and "cannot listen on 127.0.0.1" in res.err and "Traceback" not in res.err
