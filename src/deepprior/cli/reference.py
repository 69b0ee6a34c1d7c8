"""The command-line reference, docs/cli.md, generated from the commands' own ``--help``.

``python -m deepprior.cli.reference > docs/cli.md`` (``make docs``) writes it; a test fails when it is stale.
"""

from __future__ import annotations

import click

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


if __name__ == "__main__":
    print(render(), end="")
