"""Jobs: the task records and presets, :func:`plan` (settings resolved once into a Job), :func:`run` (its fits,
tiles and the one result schema) and :func:`restore` (both at once)."""

from ..fitting import STOP_EVENT  # how a history row marks the stop's step, for those that read the rows
from .job import Inputs, Job
from .planning import plan, plan_from_config, resolve_device
from .presets import PRESETS, get_preset
from .result import Restoration
from .runner import TileOutcome, restore, run
from .tasks import TASKS, Task, get_task
from .tiles import Tile, TilePlan

__all__ = ["Job", "Inputs", "plan", "plan_from_config", "resolve_device", "run", "restore", "Restoration",
           "TileOutcome", "Task", "TASKS", "get_task", "PRESETS", "get_preset", "Tile", "TilePlan",
           "STOP_EVENT"]
