"""``deepprior resume REPORT_DIR``: finish a run that was killed (SIGKILL, a power cut) or stopped (Ctrl-C,
SIGTERM: its best-so-far result is then replaced) from the checkpoints it left in its report folder
(``--checkpoint-every``): finished tiles are not fitted again, the tile in progress goes on from its last
checkpoint, and the result is the one the run would have given."""

from __future__ import annotations

import json
import pathlib

import click

from ..errors import InputError
from .restore import execute, load_sources, plan_recorded


@click.command()
@click.argument("folder", type=click.Path(path_type=pathlib.Path))
@click.option("--quiet", is_flag=True, help="No estimate, no progress bar.")
def resume(folder: pathlib.Path, quiet: bool) -> None:
    """Finish the run whose report folder is FOLDER, from its checkpoints (FOLDER/checkpoint/)."""
    path = folder / "checkpoint" / "run.json"
    if not path.is_file():
        done = (folder / "metrics.json").is_file()
        raise InputError(f"{folder} holds no checkpoint to resume from"
                         + ("; its run finished (metrics.json is there)" if done else
                            "; was the run started with --report and checkpoints (--checkpoint-every)?"))
    try:
        run = json.loads(path.read_text())
        config, sources, output, every = run["config"], run["inputs"], pathlib.Path(run["output"]), run["every"]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise InputError(f"cannot read {path}: {e}") from None
    if output.exists() and output.stat().st_size > 0 and not _interrupted(folder):
        raise InputError(f"{output} exists and is not empty: the run wrote its result already")
    files = load_sources(sources, {})
    job = plan_recorded(config, files)
    execute(job, output=output, report=folder, overwrite=True, quiet=quiet, compare=bool(sources.get("compare")),
            sources={k: v for k, v in sources.items() if k != "compare"}, checkpoint_every=every)


def _interrupted(folder: pathlib.Path) -> bool:
    """Whether the report says its run was stopped (Ctrl-C, SIGTERM): its output is a best-so-far to replace."""
    try:
        return bool(json.loads((folder / "metrics.json").read_text()).get("interrupted"))
    except (OSError, ValueError, AttributeError):
        return False
