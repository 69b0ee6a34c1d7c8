"""The Ray engine (extra ``[ray]``): each image a Ray task with its CPU / GPU resources, retried when its worker
dies, the records gathered as they finish, every wait bounded; and :func:`ray_tiles`, the same for the tiles
of one image.

Workers get file paths, not pixels: on a cluster the input and output folders must be at the same path on
every node (a shared filesystem). Without ``address`` a local Ray is started (and stopped at the end); with one
the batch joins that cluster.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import threading
import time
from typing import Any, Iterator

from ..errors import InputError
from .local import Task
from .work import restore_item

WAIT_S = 30.0  # one ray.wait; the batch waits again while tasks are alive


def _ray():
    try:
        import ray
    except ImportError:
        raise InputError("--engine ray needs the [ray] extra: pip install 'deepprior[ray]'") from None
    return ray


@contextlib.contextmanager
def _connected(address: str | None, gpus: int | None) -> Iterator[Any]:
    """Ray, joined at ``address`` or started here (and stopped after); already running: used as it is."""
    ray = _ray()
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    started = not ray.is_initialized()
    if started:
        kw: dict[str, Any] = {"address": address} if address else {
            "include_dashboard": False, "num_gpus": gpus,
            "_temp_dir": tempfile.mkdtemp(prefix="dp-ray-", dir="/tmp")}  # short: Unix socket paths <= 107 bytes
        ray.init(log_to_driver=False, logging_level="ERROR", **kw)
    try:
        yield ray
    finally:
        if started:
            ray.shutdown()


def _remote(ray, fn, workers: int | None, cpus_per_default_worker: int, retries: int):
    """``fn`` as a Ray task: one GPU each where the cluster has GPUs (and its share of the CPUs), else the CPUs
    shared among ``workers`` (default: one per ``cpus_per_default_worker`` CPUs). Returns (task, threads)."""
    total = ray.cluster_resources()
    cpus, gpus = float(total.get("CPU", 1)), int(total.get("GPU", 0))
    workers = workers or (gpus if gpus else max(1, int(cpus) // cpus_per_default_worker))
    per_cpu = max(cpus / (gpus or workers), 0.01)
    return ray.remote(num_cpus=per_cpu, num_gpus=1 if gpus else 0, max_retries=retries)(fn), int(per_cpu)


def _task(item: dict[str, Any], spec: dict[str, Any], previous: dict[str, Any] | None,
          threads: int) -> dict[str, Any]:
    import ray
    import torch
    torch.set_num_threads(max(1, threads))
    record = restore_item(item, spec, previous)
    record["ray_gpu_ids"] = [str(g) for g in ray.get_gpu_ids()]
    return record


def run_ray(tasks: list[Task], workers: int | None, *, address: str | None = None, gpus: int | None = None,
            retries: int = 3, timeout: float | None = None) -> Iterator[dict[str, Any]]:
    """Each task's record as it finishes. ``workers``: tasks at once (default: one per GPU, else one per 4
    CPUs); ``gpus``: GPUs of a local Ray (default: what it detects); ``timeout``: bound on the whole batch."""
    with _connected(address, gpus) as ray:
        remote, threads = _remote(ray, _task, workers, 4, retries)
        refs = {remote.remote(item, spec, previous, threads): item for item, spec, previous in tasks}
        pending = list(refs)
        deadline = None if timeout is None else time.monotonic() + timeout
        while pending:
            if deadline is not None and time.monotonic() > deadline:
                for ref in pending:
                    ray.cancel(ref, force=True)
                    yield _failed(refs[ref], "the batch's --timeout passed before this image was done")
                return
            done, pending = ray.wait(pending, num_returns=1, timeout=WAIT_S)
            for ref in done:
                try:
                    yield ray.get(ref, timeout=WAIT_S)
                except Exception as e:  # noqa: BLE001 - the task failed after its retries, or its node is gone
                    yield _failed(refs[ref], f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}")


def _failed(item: dict[str, Any], error: str) -> dict[str, Any]:
    return {"input": item["name"], "output": item["output"], "status": "failed", "error": error, "seconds": 0.0}


def _fit_tile(job, tile, threads: int):
    import torch

    from ..jobs.runner import fit_tile
    torch.set_num_threads(max(1, threads))
    return tile, fit_tile(job, tile, [], threading.Event(), time.perf_counter(), None)


def ray_tiles(address: str | None = None, *, workers: int | None = None, gpus: int | None = None,
              retries: int = 3):
    """A ``map_tiles`` for :func:`deepprior.run`: each tile of the job a Ray task (the job sent once, as an
    object ref), the tiles yielded as they return; closing it cancels the rest and stops a Ray it started."""
    _ray()  # the missing extra is said now, before the plan is run

    def map_tiles(job, tiles):
        with _connected(address, gpus) as ray:
            remote, threads = _remote(ray, _fit_tile, workers, 1, retries)
            job_ref = ray.put(job)  # once, not pickled per tile
            pending = [remote.remote(job_ref, tile, threads) for tile in tiles]
            try:
                while pending:
                    done, pending = ray.wait(pending, num_returns=1, timeout=WAIT_S)
                    for ref in done:
                        yield ray.get(ref, timeout=WAIT_S)
            finally:
                for ref in pending:
                    ray.cancel(ref, force=True)

    return map_tiles
