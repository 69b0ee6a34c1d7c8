"""The ``deepprior`` command group and its commands: one restore command per task, plus degrade, mask, demo,
bench, rerun, resume, web and batch. Commands are added here, explicitly; no module registers itself by being
imported."""

from __future__ import annotations

import click

from ..jobs import TASKS
from .batch import batch
from .bench import bench
from .demo import demo
from .make import degrade, mask
from .rerun import rerun
from .resume import resume
from .restore import restore_command
from .web import web


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.version_option(package_name="deepprior")
def cli() -> None:
    """Restore damaged images with the Deep Image Prior (no training data, no pretrained weights)."""


for _task in TASKS.values():
    cli.add_command(restore_command(_task))
for _command in (degrade, mask, demo, bench, rerun, resume, web, batch):
    cli.add_command(_command)
