"""One image of a batch, start to end, wherever it runs (this process, a worker process, a Ray task): read,
plan, skip if already done, fit, write the output atomically, report. Returns its manifest record; a bad
image is a ``failed`` record, never an exception, so one bad file never stops the batch."""

from __future__ import annotations

import hashlib
import json
import os
import pathlib
import socket
import time
from typing import Any, Callable

import numpy as np

from ..errors import InputError
from ..imaging.io import atomic_write_text, load_image, read_kernel, save_image
from ..imaging.masks import load_mask
from ..jobs import Job, plan, run
from ..jobs.tasks import MASK_TASKS
from ..report import write_report
from .items import file_hash

#: Environment variable for the fault-injection test of retries: a path; the first task to see it missing
#: creates it and kills its own process, as a crashed worker would.
CRASH_ONCE = "DEEPPRIOR_TEST_CRASH_ONCE"


def settings_hash(job: Job, item: dict[str, Any]) -> str:
    """What decides the result: the resolved job (but the device it ran on) and the bytes of its input files."""
    config = {k: v for k, v in job.to_config().items() if k != "device"}
    files = {k: file_hash(item.get(k)) for k in ("image", "mask", "gt")}
    text = json.dumps({"job": config, "files": files}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def check_spec(spec: dict[str, Any]) -> None:
    """The batch's settings planned once on a stand-in image, so a bad setting fails the command before any
    image (raises :class:`InputError`), not every image on its own."""
    mask = None
    if spec["task"] in MASK_TASKS:
        mask = np.ones((64, 64), bool)
        mask[16:32, 16:32] = False  # a hole: an all-known mask is refused
    plan(np.full((64, 64, 3), 0.5, np.float32), spec["task"], mask=mask, scale=spec.get("scale"),
         kernel=read_kernel(spec.get("kernel")), preset=spec["preset"], seed=spec["seed"], device=spec["device"],
         check_memory=False, **spec.get("settings", {}))


def plan_item(item: dict[str, Any], spec: dict[str, Any]) -> Job:
    """The item's Job: its files read, the batch's settings applied."""
    task = spec["task"]
    observed = load_image(item["image"])  # first: a corrupt image is the error to report
    mask = None
    if task in MASK_TASKS:
        if not item.get("mask"):
            raise InputError("this task needs a mask: --masks DIR or --mask-suffix SUFFIX")
        if not os.path.isfile(item["mask"]):
            raise InputError(f"no mask {item['mask']}")
        mask = load_mask(item["mask"])
    gt = None
    if item.get("gt"):
        if not os.path.isfile(item["gt"]):
            raise InputError(f"no ground truth {item['gt']}")
        gt = load_image(item["gt"])
    return plan(observed, task, mask=mask, scale=spec.get("scale"), kernel=read_kernel(spec.get("kernel")),
                ground_truth=gt, preset=spec["preset"], seed=spec["seed"], device=spec["device"],
                tile=spec.get("tile", "auto"), **spec.get("settings", {}))


def restore_item(item: dict[str, Any], spec: dict[str, Any], previous: dict[str, Any] | None = None,
                 callbacks: tuple[Callable, ...] = ()) -> dict[str, Any]:
    """Restore one item; ``previous`` is its last ``ok`` record, if any (skipped when still valid)."""
    start = time.perf_counter()
    record: dict[str, Any] = {"input": item["name"], "output": item["output"], "status": "failed", "error": None,
                              "seconds": 0.0, "host": socket.gethostname(), "pid": os.getpid()}
    if os.environ.get("CUDA_VISIBLE_DEVICES") is not None:
        record["cuda_visible_devices"] = os.environ["CUDA_VISIBLE_DEVICES"]
    try:
        job = plan_item(item, spec)
        record.update(device=str(job.device), settings_hash=settings_hash(job, item))
        out = pathlib.Path(item["output"])
        if out.exists():
            done = (previous or {}).get("settings_hash") or _marker_hash(out)
            if done == record["settings_hash"]:
                record.update(status="skipped", error="done before with the same settings",
                              seconds=round(time.perf_counter() - start, 3))
                return record
            if not spec.get("overwrite"):
                raise InputError(f"{out} exists and was not made with these settings; --overwrite redoes it")
        _crash_once()
        result = run(job, callbacks=list(callbacks))
        if result.metrics["stopped_by"] == "interrupted":
            raise KeyboardInterrupt  # Ctrl-C: the batch stops; this image stays to do, not half done
        _commit(result.image, out, record["settings_hash"])
        if item.get("report"):
            write_report(pathlib.Path(item["report"]), metrics=result.metrics,
                         config={**job.to_config(), "inputs": {k: item.get(k) for k in ("image", "mask", "gt")}},
                         history=result.history, observation=result.baseline, result=result.image,
                         ground_truth=result.ground_truth, uncertainty=result.uncertainty)
        m = result.metrics
        record.update(status="ok", steps=m["iterations"], stopped_by=m["stopped_by"], tiles=m["tiles"])
        if "gt" in m.get(m["result"], {}):
            record["metrics"] = {"psnr": m[m["result"]]["gt"]["psnr"], "ssim": m[m["result"]]["gt"]["ssim"],
                                 "input_psnr": m.get("input", {}).get("gt", {}).get("psnr")}
    except InputError as e:
        record["error"] = str(e)
    except MemoryError:
        record["error"] = "out of memory; crop or downscale the image, or use fewer channels"
    except Exception as e:  # noqa: BLE001 - one image's failure is recorded; the batch goes on
        record["error"] = f"{type(e).__name__}: {e}"
    record["seconds"] = round(time.perf_counter() - start, 3)
    return record


def _marker(out: pathlib.Path) -> pathlib.Path:
    """The hidden file beside an output that says which settings made it."""
    return out.with_name(f".{out.name}.deepprior")


def _marker_hash(out: pathlib.Path) -> str | None:
    try:
        return _marker(out).read_text().strip() or None
    except OSError:
        return None


def _commit(image, out: pathlib.Path, digest: str) -> None:
    """Write the output so that a kill at any moment leaves either no output or a whole one whose settings
    are on record: the image goes to a hidden name, its marker is written, then the image is renamed into place
    (the manifest line, written after, may be missing; the marker is not)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(f".{out.stem}.partial{out.suffix}")
    save_image(image, partial)
    atomic_write_text(_marker(out), digest + "\n")
    os.replace(partial, out)


def _crash_once() -> None:
    marker = os.environ.get(CRASH_ONCE)
    if marker and not os.path.exists(marker):
        pathlib.Path(marker).write_text(str(os.getpid()))
        os._exit(17)
