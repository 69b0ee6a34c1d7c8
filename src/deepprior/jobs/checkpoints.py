"""A run's checkpoints in a folder (``REPORT/checkpoint/``): each tile's latest fit state and each finished
tile's outcome, written atomically, so a run killed at any moment (SIGKILL, a power cut) resumes where it was:
finished tiles are not fitted again, the tile in progress goes on from its last checkpoint."""

from __future__ import annotations

import dataclasses
import pathlib
import shutil
from typing import Any

import torch

from ..errors import InputError
from ..imaging.io import atomic_path
from .outcome import TileOutcome


class CheckpointStore:
    """Checkpoints every ``every`` steps in ``folder``."""

    def __init__(self, folder: pathlib.Path, every: int) -> None:
        if every < 1:
            raise InputError(f"checkpoints need a step count of at least 1, got {every}", setting="checkpoint_every")
        self.folder, self.every = folder, every
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise InputError(f"cannot make the checkpoint folder {folder}: {e.strerror or e}") from None

    def member(self, k: int) -> "CheckpointStore":
        """The store of fit ``k`` of several (``uncertainty=K``): its own folder inside this one."""
        return self if k == 0 else CheckpointStore(self.folder / f"fit-{k}", self.every)

    def _write(self, name: str, obj: Any) -> None:
        with atomic_path(self.folder / name) as tmp:
            torch.save(obj, tmp)

    def _read(self, name: str) -> Any:
        path = self.folder / name
        return torch.load(path, map_location="cpu", weights_only=False) if path.is_file() else None

    def saver(self, index: int):
        """What :func:`deepprior.fit` calls with the state of tile ``index``."""
        return self.every, lambda state: self._write(f"tile-{index}.pt", state)

    def state(self, index: int) -> dict[str, Any] | None:
        """Tile ``index``'s last checkpoint, if a run before this one made one."""
        return self._read(f"tile-{index}.pt")

    def done(self, index: int) -> TileOutcome | None:
        """Tile ``index``'s outcome, if a run before this one finished it."""
        return self._read(f"tile-{index}.done.pt")

    def finish(self, outcome: TileOutcome) -> None:
        """A tile is done: keep its outcome (before blending drops its images), drop its fit state."""
        self._write(f"tile-{outcome.tile.index}.done.pt", dataclasses.replace(outcome, snapshots=None))
        (self.folder / f"tile-{outcome.tile.index}.pt").unlink(missing_ok=True)

    def remove(self) -> None:
        """The run is complete: its checkpoints are no longer needed."""
        shutil.rmtree(self.folder, ignore_errors=True)
