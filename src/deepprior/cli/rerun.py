"""``deepprior rerun``: repeat a run exactly from its report's config.json."""

from __future__ import annotations

import json
import pathlib

import click

from ..errors import InputError
from .paths import check_output_path, check_report_dir
from .restore import execute, load_sources, plan_recorded

_PATH = click.Path(path_type=pathlib.Path)


@click.command()
@click.argument("folder", type=_PATH)
@click.option("-o", "--output", required=True, type=_PATH, help="Restored image.")
@click.option("--report", type=_PATH, help="Folder for the new run's report.")
@click.option("--device", help="Run there instead of on the recorded device (the arithmetic may then differ).")
@click.option("--image", type=_PATH, help="The input image, if it moved (default: the recorded one, unchanged).")
@click.option("--mask", type=_PATH, help="The mask, if it moved.")
@click.option("--guide", type=_PATH, help="The flash photo of a flash / no-flash run, if it moved.")
@click.option("--gt", type=_PATH, help="The ground truth, if it moved.")
@click.option("--overwrite", is_flag=True, help="Replace an existing output / report.")
@click.option("--quiet", is_flag=True, help="No estimate, no progress bar.")
def rerun(folder: pathlib.Path, output: pathlib.Path, report: pathlib.Path | None, device: str | None,
          image: pathlib.Path | None, mask: pathlib.Path | None, guide: pathlib.Path | None,
          gt: pathlib.Path | None, overwrite: bool, quiet: bool) -> None:
    """Run again what the report in FOLDER ran: the same inputs, settings, seed and tiles (FOLDER/config.json).

    On the same machine the images come out the same; the input files must be unchanged.
    """
    path = folder / "config.json"
    try:
        config = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise InputError(f"cannot read {path}: {e}") from None
    sources = config.get("inputs")
    if not isinstance(sources, dict):
        raise InputError(f"{path} records no input files (it was not written by a deepprior command)")
    files = load_sources(sources, {"image": image, "mask": mask, "guide": guide, "gt": gt})
    check_output_path(output, files.values(), overwrite=overwrite)
    check_report_dir(report, output, list(files.values()), overwrite)
    job = plan_recorded(config, files, device)
    execute(job, output=output, report=report, overwrite=overwrite, quiet=quiet,
            compare=bool(sources.get("compare")), sources=sources)
