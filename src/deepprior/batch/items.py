"""The images of a batch: every image file under the input folder, its mask and ground truth, its output path.

Files are found by their name's extension (the image itself is judged by its content when it is read, so a
corrupt file fails on its own line of the manifest). Masks given by ``--mask-suffix`` live beside the images and
are not images of the batch themselves.
"""

from __future__ import annotations

import hashlib
import os
import pathlib
from dataclasses import asdict, dataclass

from ..errors import InputError
from ..imaging.io import FORMATS


@dataclass(frozen=True)
class Item:
    """One image of a batch: where it is, where its result goes, and its optional mask, ground truth and report.
    Paths only (plain data): an engine sends them to its workers, which read the files themselves."""

    name: str  # the path relative to the input folder, as the manifest names it
    image: str
    output: str
    mask: str | None = None
    gt: str | None = None
    report: str | None = None

    def to_dict(self) -> dict[str, str | None]:
        return asdict(self)


def find_items(in_dir: pathlib.Path, out_dir: pathlib.Path, *, recursive: bool = False,
               masks: pathlib.Path | None = None, mask_suffix: str | None = None, gt: pathlib.Path | None = None,
               report: bool = False) -> list[Item]:
    """The batch's images in a stable order (sorted by relative path)."""
    if not in_dir.is_dir():
        raise InputError(f"{in_dir} is not a folder", setting="in_dir")
    if out_dir.resolve() == in_dir.resolve() or in_dir.resolve() in out_dir.resolve().parents:
        raise InputError(f"the output folder {out_dir} is inside the input folder {in_dir}; results would be "
                         f"taken for inputs on a rerun", setting="out_dir")
    pattern = "**/*" if recursive else "*"
    files = sorted(p for p in in_dir.glob(pattern) if p.is_file() and p.suffix.lower() in FORMATS)
    if mask_suffix:
        files = [p for p in files if not p.stem.endswith(mask_suffix)]
    items = []
    for path in files:
        rel = path.relative_to(in_dir)
        mask = None
        if masks is not None:
            mask = str(_same_name(masks, rel))
        elif mask_suffix:
            mask = str(_same_name(path.parent, pathlib.Path(rel.stem + mask_suffix + rel.suffix).name))
        items.append(Item(name=rel.as_posix(), image=str(path), output=str(out_dir / rel),
                          mask=mask, gt=None if gt is None else str(_same_name(gt, rel)),
                          report=str(out_dir / "reports" / rel.with_suffix("")) if report else None))
    if not items:
        raise InputError(f"no images in {in_dir} ({', '.join(sorted(FORMATS))}"
                         f"{'' if recursive else '; --recursive looks in subfolders'})", setting="in_dir")
    return items


def _same_name(folder: pathlib.Path, rel: pathlib.Path | str) -> pathlib.Path:
    """The file of the same relative name in ``folder``, whatever its image extension (a mask is often a PNG
    beside a JPEG); the name with the original extension when there is none, so the error names it."""
    rel = pathlib.Path(rel)
    exact = folder / rel
    if exact.is_file():
        return exact
    for ext in FORMATS:
        candidate = (folder / rel).with_suffix(ext)
        if candidate.is_file():
            return candidate
    return exact


def file_hash(path: str | os.PathLike | None) -> str | None:
    """SHA-256 of a file's bytes (None for no file)."""
    if path is None or not os.path.isfile(path):
        return None
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
