"""The page in a real browser: Debian's chromium driven by Playwright, the server on a free loopback port.

What a user does: upload a 64 px image, paint a stroke, run an inpainting and watch the preview change, cancel a
run and get its best result so far, download the result, be refused an oversized or too large image, and two
sessions at once both finishing. The README's screenshots are taken here (``DEEPPRIOR_SCREENSHOTS=DIR``).
Every request the page makes must stay on 127.0.0.1.
"""

from __future__ import annotations

import importlib
import importlib.resources
import io
import os
import pathlib
import shutil
import socket
import time

import numpy as np
import pytest
from PIL import Image

from helpers import shapes_image

pytestmark = pytest.mark.slow
REQUIRED = os.environ.get("DEEPPRIOR_REQUIRE_ALL") == "1"  # `make test` sets it: CI must not skip these
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SHOTS = os.environ.get("DEEPPRIOR_SCREENSHOTS")  # a folder: the README's pictures, of a longer run
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]


def _need(module: str):
    """The module; where it is missing, a skip, or under `make test` a failure."""
    if not REQUIRED:
        return pytest.importorskip(module)
    try:
        return importlib.import_module(module)
    except ImportError:
        pytest.fail(f"{module} is not installed (make test installs the [dev] extra)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server():
    _need("gradio")
    from deepprior.web import Limits, serve
    port = _free_port()
    blocks, workspace = serve("127.0.0.1", port, limits=Limits(max_bytes=300_000, max_pixels=40_000),
                              runs_at_once=1, every=5, block=False)
    yield f"http://127.0.0.1:{port}/", workspace
    blocks.close()
    workspace.close()


@pytest.fixture(scope="module")
def browser():
    sync_api = _need("playwright.sync_api")
    if not pathlib.Path(CHROMIUM).exists():
        if REQUIRED:
            pytest.fail("chromium is not installed (make test installs it with apt)")
        pytest.skip("no chromium")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.fixture
def files(tmp_path):
    img = (shapes_image(64) * 255).astype(np.uint8)
    Image.fromarray(img).save(tmp_path / "photo.png")
    if SHOTS:  # the README's picture: a crop of the bundled sample photo rather than flat shapes
        with Image.open(importlib.resources.files("deepprior") / "data" / "sample.png") as im:
            w, h = im.size
            im.convert("RGB").crop((w // 2 - 48, h // 2 - 48, w // 2 + 48, h // 2 + 48)).save(tmp_path / "photo.png")
    noise = np.random.default_rng(0).integers(0, 256, (400, 400, 3), dtype=np.uint8)
    Image.fromarray(noise).save(tmp_path / "big_bytes.png")  # ~480 KB, over the test server's 300 KB
    Image.fromarray(np.full((300, 300, 3), 128, np.uint8)).save(tmp_path / "big_pixels.png")  # small file, 90k px
    (tmp_path / "notes.png").write_text("not an image")
    return tmp_path


class Page:
    """One browser session on the page, with the few gestures the tests need."""

    def __init__(self, browser, url: str, requests: list[str]) -> None:
        self.context = browser.new_context(viewport={"width": 1280, "height": 1000}, accept_downloads=True)
        self.page = self.context.new_page()
        self.page.on("request", lambda r: requests.append(r.url))
        self.page.goto(url)
        self.page.wait_for_selector("#upload input[type=file]", state="attached", timeout=60_000)

    def status(self) -> str:
        return self.page.locator("#status").inner_text()

    def wait_status(self, text: str, timeout: float = 120) -> str:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            s = self.status()
            if text in s:
                return s
            time.sleep(0.2)
        raise AssertionError(f"status never said {text!r}; it says {self.status()!r}")

    def upload(self, path: pathlib.Path) -> None:
        clear = self.page.locator("#upload button[aria-label='Clear']")
        if clear.count():  # a file is shown: remove it first, as a user would
            clear.first.click()
        self.page.locator("#upload input[type=file]").set_input_files(str(path))

    def task(self, label: str) -> None:
        self.page.locator("#task input").click()
        self.page.get_by_role("option", name=label).click()

    def steps(self, n: int | str) -> None:
        box = self.page.locator("#steps textarea, #steps input").first
        box.fill(str(n))
        box.press("Tab")

    def paint(self) -> None:
        """A short stroke across the middle of the image (software WebGL is slow: few moves)."""
        canvas = self.page.locator("#editor canvas").first
        canvas.wait_for(state="visible", timeout=30_000)
        brush = self.page.locator("#editor button[aria-label='Brush']")
        if brush.count():
            brush.first.click()
        box = canvas.bounding_box()
        x0, y = box["x"] + box["width"] * 0.3, box["y"] + box["height"] * 0.5
        self.page.mouse.move(x0, y)
        self.page.mouse.down()
        for i in range(1, 6):
            self.page.mouse.move(x0 + i * box["width"] * 0.08, y)
        self.page.mouse.up()

    def preview_src(self) -> str | None:
        img = self.page.locator("#preview img")
        return img.first.get_attribute("src") if img.count() else None

    def close(self) -> None:
        self.context.close()


def test_inpaint_watch_cancel_download(server, browser, files):
    url, workspace = server
    requests: list[str] = []
    p = Page(browser, url, requests)
    p.upload(files / "photo.png")
    p.wait_status("Loaded a 96x96 colour image" if SHOTS else "Loaded a 64x64 colour image")
    p.task("Text / region inpainting")
    p.paint()
    steps = 1500 if SHOTS else 60
    p.steps(steps)
    p.page.locator("#run").click()
    sources: list[str] = []
    end = time.monotonic() + (900 if SHOTS else 120)
    while time.monotonic() < end and "finished" not in p.status():
        src = p.preview_src()
        if src and src not in sources:
            sources.append(src)
        time.sleep(0.1)
    status = p.wait_status("finished", timeout=900 if SHOTS else 120)
    assert f"{steps} steps" in status
    assert len(sources) >= 2, f"the live preview changed {len(sources)} time(s)"
    table = p.page.locator("#metrics").inner_text()
    assert "deepprior (best)" in table

    link = p.page.locator("#downloads a[download='restored.png']").first
    with p.page.expect_download() as dl:
        link.click()
    data = pathlib.Path(dl.value.path()).read_bytes()
    assert Image.open(io.BytesIO(data)).size == ((96, 96) if SHOTS else (64, 64))
    assert p.page.locator("#downloads a[download='report.zip']").count() == 1
    _screenshot(p.page, "web.png")

    p.steps(5000)  # a long run, cancelled once it has shown something
    p.page.locator("#run").click()
    p.wait_status("step ")
    p.page.locator("#cancel").click()
    status = p.wait_status("cancelled", timeout=60)
    assert "kept the best result so far" in status
    assert p.page.locator("#downloads a[download='restored.png']").count() == 1
    sessions = workspace.root / "sessions"
    assert any(sessions.iterdir())
    p.close()  # the browser leaves: its folder goes
    end = time.monotonic() + 60
    while any(sessions.iterdir()) and time.monotonic() < end:
        time.sleep(0.5)
    assert not any(sessions.iterdir()), "the session's folder outlived the session"
    hosts = {u.split("/")[2] for u in requests if u.startswith("http")}
    assert hosts == {url.split("/")[2]}, f"the page asked other hosts: {hosts}"


def test_the_uncertainty_map_is_a_toggle_over_the_result(server, browser, files):
    url, _ = server
    p = Page(browser, url, [])
    p.upload(files / "photo.png")
    p.wait_status("Loaded a")
    p.task("Text / region inpainting")
    p.paint()
    p.steps(30)
    p.page.locator("#uncertainty input[type=checkbox]").check()
    p.page.locator("#run").click()
    p.wait_status("finished", timeout=120)
    assert "uncertainty: RMS predicted error" in p.page.locator("#metrics").inner_text()
    restored = p.preview_src()
    p.page.locator("#view").get_by_text("uncertainty over it").click()
    end = time.monotonic() + 30
    while p.preview_src() == restored and time.monotonic() < end:
        time.sleep(0.2)
    assert p.preview_src() != restored, "the toggle did not change the picture"
    invented = p.preview_src()
    p.page.locator("#view").get_by_text("restored", exact=True).click()
    end = time.monotonic() + 30
    while p.preview_src() == invented and time.monotonic() < end:
        time.sleep(0.2)
    assert p.preview_src() != invented, "the toggle did not bring the result back"
    p.close()


def test_refusals(server, browser, files):
    url, _ = server
    p = Page(browser, url, [])
    p.upload(files / "big_pixels.png")
    assert "300x300" in p.wait_status("Refused")
    p.upload(files / "notes.png")
    assert "not an image" in p.wait_status("not an image")
    p.upload(files / "photo.png")
    p.wait_status("Loaded")
    p.task("Hole filling")
    p.page.locator("#run").click()
    assert "paint the missing pixels" in p.wait_status("Refused")
    p.upload(files / "big_bytes.png")  # refused by the server (HTTP 413) before it reaches the page's code
    p.page.wait_for_function(
        "() => /too large|exceed|maximum/i.test(document.body.innerText)", timeout=30_000)
    p.close()


def test_ten_sessions_at_once_all_finish_and_one_cancelled_disturbs_none(server, browser, files):
    """Ten pages press Restore together: the runs queue one at a time, each page shows its place, all finish;
    the one cancelled while it waits or runs ends with a result of its own and no other is touched."""
    url, _ = server
    pages = [Page(browser, url, []) for _ in range(10)]
    for i, p in enumerate(pages):
        p.upload(files / "photo.png")
        p.wait_status("Loaded")
        p.steps(400 if i == 1 else 10)
    for p in pages:
        p.page.locator("#run").click()
    pages[1].wait_status("step ", timeout=300)
    pages[1].page.locator("#cancel").click()
    assert "kept the best result so far" in pages[1].wait_status("cancelled", timeout=120)
    for i, p in enumerate(pages):
        if i != 1:
            assert "finished: 10 steps" in p.wait_status("finished", timeout=300)
        p.close()


def _screenshot(page, name: str) -> None:
    """The page in use, top to bottom; kept (halved) as the README's picture when ``DEEPPRIOR_SCREENSHOTS``
    names a folder."""
    page.evaluate("window.scrollTo(0, 0)")
    shot = Image.open(io.BytesIO(page.screenshot(full_page=True)))
    assert shot.width == 1280 and shot.height >= 1000
    if SHOTS:
        small = shot.convert("RGB").resize((shot.width // 2, shot.height // 2), Image.LANCZOS)
        small.save(pathlib.Path(SHOTS, name), optimize=True)
