"""Generated docs: the command-line reference (docs/cli.md, from the commands' own ``--help``) and the presets
(docs/presets.md, from :data:`deepprior.jobs.presets.PRESETS`).

``python -m deepprior.cli.reference cli|presets`` (``make docs``) writes them; a test fails when one is stale.
"""

from __future__ import annotations

import sys

import click

from ..jobs.presets import PRESETS, get_preset
from .app import cli

#: Help is rendered at this width whatever the terminal, so the file does not depend on who made it.
WIDTH = 110


def _context(command: click.Command, name: str, parent: click.Context | None) -> click.Context:
    """The context ``--help`` would get (the group's settings included), at the fixed width."""
    return command.make_context(name, [], parent=parent, resilient_parsing=True, terminal_width=WIDTH,
                                max_content_width=WIDTH)


def render() -> str:
    """docs/cli.md: every command's help, the group's first."""
    top = _context(cli, "deepprior", None)
    parts = ["# Command-line reference", "",
             "Generated from `deepprior COMMAND --help` by `make docs`; a test fails when it is stale.", "",
             "```text", cli.get_help(top), "```"]

    def walk(group: click.Group, parent: click.Context, path: list[str]) -> None:
        for name in sorted(group.commands):
            command = group.commands[name]
            ctx = _context(command, name, parent)
            parts.extend(["", f"## {' '.join(path + [name])}", "", "```text", command.get_help(ctx), "```"])
            if isinstance(command, click.Group):
                walk(command, ctx, path + [name])

    walk(cli, top, ["deepprior"])
    return "\n".join(parts) + "\n"


def _value(v: object) -> str:
    if isinstance(v, tuple):
        return ", ".join(map(str, v)) if v and isinstance(v[0], str) else "/".join(map(str, v))
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def render_presets() -> str:
    """docs/presets.md: per task, the paper's values and the fast variant's, each with its reason."""
    parts = ["# Presets", "",
             "Generated from `deepprior.jobs.presets` by `make docs`; a test fails when it is stale. The configs'",
             "defaults are the paper's standard denoising settings, so a paper preset lists only what differs from",
             "them; the fast variant applies its values on top. Where the fast values were measured is named under",
             "each task (docs/benchmarks.md). `deepprior TASK --help` shows each option's value in both variants."]
    for task, entry in PRESETS.items():
        fast_note = f"measured in {entry.measured}" if entry.fast else f"none, see {entry.measured}"
        parts += ["", f"## {task}", "", f"Source: {entry.source}. Fast values: {fast_note}.", "",
                  "| variant | setting | value | why |", "|---|---|---|---|"]
        rows = [("paper", v) for v in entry.paper]
        rows += [(f"paper, x{scale}", v) for scale, values in entry.scales.items() for v in values]
        rows += [("fast", v) for v in entry.fast]
        if not rows:
            parts.append("| paper | (the defaults) | | |")
        parts += [f"| {variant} | {v.part}.{v.name} | {_value(v.value)} | {v.why} |" for variant, v in rows]
        fast = get_preset(task)
        parts += ["", f"The fast network: {_value(fast.net.channels_down)} channels down, "
                      f"{_value(fast.net.channels_skip)} skip; at most {fast.fit.iterations} steps"
                      + (f"; tiles of at most {fast.tiling.max_side} px on a CPU." if fast.tiling.max_side else ".")]
    return "\n".join(parts) + "\n"


if __name__ == "__main__":
    which = sys.argv[1] if len(sys.argv) > 1 else "cli"
    print({"cli": render, "presets": render_presets}[which](), end="")
