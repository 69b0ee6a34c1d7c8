"""The local engine: the images one after another in this process, or ``workers`` at once in worker
processes (the CPU's threads shared among them, or one GPU each)."""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import os
from typing import Any, Callable, Iterator

import torch

from .work import restore_item

Task = tuple[dict[str, Any], dict[str, Any], "dict[str, Any] | None"]  # item, spec, previous record


def run_local(tasks: list[Task], workers: int, step: Callable | None = None) -> Iterator[dict[str, Any]]:
    """Each task's record as it finishes. One worker: in this process, ``step`` seeing every logged step."""
    if workers <= 1:
        for item, spec, previous in tasks:
            yield restore_item(item, spec, previous, callbacks=() if step is None else (step,))
        return
    gpus = torch.cuda.device_count()
    threads = max(1, (os.cpu_count() or 1) // workers)
    ctx = multiprocessing.get_context("spawn")  # a fresh interpreter: no forked torch thread pools
    with cf.ProcessPoolExecutor(workers, mp_context=ctx, initializer=_worker_init,
                                initargs=(threads,)) as pool:
        futures = {}
        for i, (item, spec, previous) in enumerate(tasks):
            if gpus and spec["device"] == "auto":  # one GPU per image, in turn
                spec = {**spec, "device": f"cuda:{i % gpus}"}
            futures[pool.submit(restore_item, item, spec, previous)] = item
        try:
            for fut in cf.as_completed(futures):
                try:
                    yield fut.result()
                except cf.process.BrokenProcessPool as e:  # a worker died (killed, out of memory)
                    yield {"input": futures[fut]["name"], "output": futures[fut]["output"], "status": "failed",
                           "error": f"the worker process died: {e}", "seconds": 0.0}
        except BaseException:
            for f in futures:
                f.cancel()
            raise


def _worker_init(threads: int) -> None:
    torch.set_num_threads(threads)
