"""Checks of the paths a command will write, run before any fit: a bad path writes nothing and costs nothing."""

from __future__ import annotations

import os
import pathlib
import tempfile
from collections.abc import Iterable

from ..errors import InputError
from ..imaging.io import FORMATS
from ..report import REPORT_FILES


def check_output_path(out: str | os.PathLike, inputs: Iterable[str | os.PathLike | None], *,
                      overwrite: bool = False) -> pathlib.Path:
    """Check that ``out`` may be written without destroying an input or an unrelated file.

    Parameters
    ----------
    out : str or path-like
        The intended output image.
    inputs : iterable of path-like or None
        Files the run reads; None entries are ignored.
    overwrite : bool
        Allow replacing an existing ``out`` (never one of the inputs).

    Returns
    -------
    pathlib.Path
        ``out`` as a Path.

    Raises
    ------
    InputError
        If ``out`` is a directory, has an unknown extension, is an input, or exists without ``overwrite``.
    """
    out = pathlib.Path(out)
    if out.is_dir():
        raise InputError(f"output {out} is a directory; give a file name such as {out / 'restored.png'}")
    if out.suffix.lower() not in FORMATS:
        raise InputError(f"cannot write {out}: unknown image extension {out.suffix!r}; "
                         f"use one of {', '.join(sorted(FORMATS))}")
    for inp in inputs:
        if inp is None:
            continue
        inp = pathlib.Path(inp)
        # resolve() catches other spellings even before the files exist; samefile also catches hard links.
        same = out.resolve() == inp.resolve() or (out.exists() and inp.exists() and os.path.samefile(out, inp))
        if same:
            raise InputError(f"output {out} is the same file as input {inp}; choose another name")
    if out.exists() and not overwrite:
        raise InputError(f"{out} exists; pass --overwrite to replace it")
    return out


def check_report_dir(report: pathlib.Path | None, output: pathlib.Path, inputs: list[pathlib.Path | None],
                     overwrite: bool) -> None:
    """Refuse a report folder that cannot be made, would replace an input or the output, or already holds
    a report (unless overwriting)."""
    if report is None:
        return
    for parent in [report, *report.parents]:
        if parent.exists() and not parent.is_dir():
            raise InputError(f"report folder {report} cannot be made: {parent} is a file")
    if report.resolve() == output.resolve():
        raise InputError(f"report folder {report} is the output path; choose another folder")
    for p in [output, *inputs]:
        if p is not None and p.resolve().parent == report.resolve() and p.name in REPORT_FILES:
            raise InputError(f"report folder {report} would overwrite {p}; choose another folder or file name")
    if not overwrite and report.is_dir() and any((report / f).exists() for f in REPORT_FILES):
        raise InputError(f"report folder {report} already holds a report; pass --overwrite or choose another")


def check_steps_dir(folder: pathlib.Path, overwrite: bool) -> None:
    """The ``--save-every`` folder must be creatable, and not hold earlier images unless overwriting."""
    for parent in [folder, *folder.parents]:
        if parent.exists() and not parent.is_dir():
            raise InputError(f"cannot save intermediate images into {folder}: {parent} is a file")
    if not overwrite and folder.is_dir() and any(folder.iterdir()):
        raise InputError(f"{folder} already holds intermediate images; pass --overwrite or choose another output")




def probe_writable(path: pathlib.Path, what: str) -> None:
    """Create and remove a file in ``path``'s nearest existing folder: an unwritable place (a read-only disk,
    /proc, a folder of another user) is refused before the fit, not after it."""
    folder = path.parent if path.suffix else path
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as e:
        raise InputError(f"cannot write the {what} {path}: {folder} is not writable ({e.strerror or e})") from None


class Reservation:
    """The output file, claimed at the start of a run (an empty file, made only if there was none), so a file
    that appears there during the run is not silently replaced: the result then goes beside it."""

    def __init__(self, path: pathlib.Path, overwrite: bool) -> None:
        self.path, self.inode = path, None
        if overwrite:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            raise InputError(f"{path} exists; pass --overwrite to replace it") from None
        except OSError as e:
            raise InputError(f"cannot write {path}: {e.strerror or e}") from None
        os.close(fd)
        self.inode = os.stat(path).st_ino

    def _ours(self) -> bool:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return True  # removed meanwhile: nothing to replace
        return st.st_ino == self.inode and st.st_size == 0

    def target(self) -> pathlib.Path:
        """Where the result goes: the output, unless another file took its place during the run."""
        if self.inode is None or self._ours():
            return self.path
        n = 1
        while (alt := self.path.with_name(f"{self.path.stem}.deepprior-{n}{self.path.suffix}")).exists():
            n += 1
        return alt

    def release(self) -> None:
        """The run wrote nothing: give the name back."""
        if self.inode is not None and self._ours() and self.path.exists():
            self.path.unlink()
