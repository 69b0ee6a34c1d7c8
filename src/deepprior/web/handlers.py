"""What the page's buttons do. No gradio widgets here: handlers take the form's values and return the page's
new values (``None`` where a widget keeps its own), so they are tested without a browser."""

from __future__ import annotations

import threading
import time
from typing import Any, Iterator

import numpy as np
import pandas as pd

from ..errors import InputError
from ..imaging.io import to_uint8
from ..jobs.tasks import MASK_TASKS
from .form import MISSING_RGBA, Request, build_job, editor_value, make_mask, painted_known, split_task
from .live import LiveRun, View
from .results import finish
from .uploads import Limits, read_image, read_mask
from .workspace import Workspace

POLL_S = 0.25  # how often a run's handler looks at the run; a preview goes out only when a new one is there
KEEP = object()  #: "leave this widget as it is"
#: What the finished run's picture can show (the toggle over the result).
RESTORED, INVENTED = "restored", "uncertainty over it (bright: invented)"


class Runs:
    """The running fits, one per browser session, so Cancel and leaving the page find theirs."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.by_session: dict[str, LiveRun] = {}

    def put(self, session: str, live: LiveRun) -> None:
        with self.lock:
            self.by_session[session] = live

    def get(self, session: str) -> LiveRun | None:
        with self.lock:
            return self.by_session.get(session)

    def drop(self, session: str, live: LiveRun) -> None:
        with self.lock:
            if self.by_session.get(session) is live:
                del self.by_session[session]


def rgb(img: np.ndarray | None) -> np.ndarray | None:
    """Greyscale shown as RGB."""
    return img if img is None or img.ndim == 2 or img.shape[2] == 3 else np.repeat(img, 3, axis=2)


def before(job, baseline: np.ndarray) -> np.ndarray:
    """The input as the comparison shows it: its missing pixels painted as on the editor."""
    img = rgb(to_uint8(baseline)).copy()
    if job.inputs.mask is not None and img.shape[:2] == job.inputs.mask.shape:
        img[~job.inputs.mask] = MISSING_RGBA[:3]
    return img


def curves(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """The last tile's curves in dB: the fit to the input and, with a ground truth, the score against it."""
    tile = rows[-1].get("tile", 0) if rows else 0
    data = [(r["iteration"], r[k], name) for r in rows if r.get("tile", 0) == tile
            for k, name in (("psnr_obs_ema", "fit to the input"), ("psnr_ema", "vs ground truth"))
            if k in r and np.isfinite(r[k])]
    return pd.DataFrame(data, columns=["step", "dB", "curve"])


class Handlers:
    """The page's actions over one server's workspace, limits and running fits."""

    def __init__(self, workspace: Workspace, limits: Limits) -> None:
        self.workspace, self.limits, self.runs = workspace, limits, Runs()

    def upload(self, path: str | None) -> tuple[Any, Any, str, Any]:
        """A new image: (the image, the editor showing it, a status line, the upload widget: emptied when the
        file is refused)."""
        if not path:
            return None, None, "Upload an image to start.", KEEP
        try:
            img = read_image(path, self.limits)
        except InputError as e:
            return None, None, f"**Refused:** {e}", None
        h, w, c = img.shape
        return img, editor_value(img), f"Loaded a {w}x{h} {'colour' if c == 3 else 'greyscale'} image.", KEEP

    def mask_upload(self, image: np.ndarray | None, path: str | None) -> tuple[Any, str]:
        """An uploaded mask painted onto the editor."""
        if image is None or not path:
            return KEEP, "Upload the image first." if path else ""
        try:
            known = read_mask(path, self.limits)
            if known.shape != image.shape[:2]:
                raise InputError(f"the mask is {known.shape[1]}x{known.shape[0]}, the image "
                                 f"{image.shape[1]}x{image.shape[0]}")
        except InputError as e:
            return KEEP, f"**Refused:** {e}"
        return editor_value(image, known), f"Mask loaded: {1 - known.mean():.1%} of the pixels missing."

    def make_mask(self, image: np.ndarray | None, kind: str, text: str, font_size: float, holes: float,
                  drop: float, seed: float) -> tuple[Any, str]:
        """A generated mask painted onto the editor."""
        if image is None:
            return KEEP, "Upload the image first."
        try:
            known = make_mask(kind, image.shape[:2], text=text, font_size=int(font_size or 0) or None,
                              holes=int(holes), drop=float(drop), seed=Request("denoise", seed=seed).seed_value())
        except InputError as e:
            return KEEP, f"**Refused:** {e}"
        return editor_value(image, known), f"Mask made: {1 - known.mean():.1%} of the pixels missing."

    def cancel(self, session: str) -> str:
        live = self.runs.get(session)
        if live is None:
            return "Nothing is running."
        live.cancel()
        return "Cancelling: the run stops at its next logged step and keeps its best result so far."

    def leave(self, session: str) -> None:
        """The browser left: stop its run and remove its files."""
        live = self.runs.get(session)
        if live is not None:
            live.cancel()
        self.workspace.end_session(session)

    def restore(self, session: str, image: np.ndarray | None, editor: dict | None, req: Request,
                compare: bool, every: int) -> Iterator[dict[str, Any]]:
        """Plan, run and finish a restoration, yielding the page's new values as the run goes."""
        if image is None:
            yield {"status": "**Refused:** upload an image first."}
            return
        try:
            known = painted_known(editor, image.shape[:2]) if split_task(req.task)[0] in MASK_TASKS else None
            job = build_job(image, req, known)
        except InputError as e:
            yield {"status": f"**Refused:** {e}"}
            return
        live = LiveRun(job, every=every).start()
        self.runs.put(session, live)
        yield {"status": "Starting...", "view": False, "views": {}}  # the last run's toggle goes
        try:
            yield from self._watch(live)
            view = live.wait()
            if view.error:
                yield {"status": f"**Failed:** {view.error}"}
                return
            yield {"status": f"{view.iteration} steps done; writing the report"
                   + (" and running the classical methods" if compare else "") + "..."}
            out = finish(job, view.result, self.workspace.run_folder(session), compare)
        finally:
            self.runs.drop(session, live)
        result = view.result
        yield {"status": view.status(), "preview": rgb(to_uint8(result.image)),
               "curves": curves(result.history),
               "slider": (before(job, result.baseline), rgb(to_uint8(result.image))), "table": out.table,
               "gallery": [(rgb(to_uint8(img)), name) for name, img in out.panels],
               "files": [str(out.image), str(out.report_zip)],
               "view": out.overlay is not None,
               "views": {RESTORED: rgb(to_uint8(result.image)),
                         **({} if out.overlay is None else {INVENTED: out.overlay})}}

    def _watch(self, live: LiveRun) -> Iterator[dict[str, Any]]:
        seen, told = -1, 0.0
        while True:
            view: View = live.view()
            if view.done:
                return
            now = time.monotonic()
            if view.version != seen and view.preview is not None:
                seen, told = view.version, now
                yield {"status": view.status(), "preview": rgb(view.preview), "curves": curves(view.rows)}
            elif now - told > 1.0:
                told = now
                yield {"status": view.status()}
            time.sleep(POLL_S)

