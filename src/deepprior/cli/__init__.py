"""The command line, a front end over :func:`deepprior.plan` and :func:`deepprior.run`.

User errors (:class:`~deepprior.errors.InputError`, bad options) print one line and exit with status 2;
nothing is written. The core never imports this package.
"""

from __future__ import annotations

import sys

import click

from ..errors import InputError
from . import signals
from .app import cli
from .options import flag_of


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the CLI, turning user errors into one line on stderr and exit status 2."""
    signals.install()
    try:
        cli.main(args=argv, prog_name="deepprior", standalone_mode=False)
    except InputError as e:
        flag = flag_of(e.setting)
        hint = f" ({flag})" if flag and flag not in str(e) else ""
        click.echo(f"deepprior: error: {e}{hint}", err=True)
        sys.exit(2)
    except (click.exceptions.Abort, KeyboardInterrupt):
        click.echo(f"deepprior: interrupted ({signals.received()}) before anything was restored", err=True)
        sys.exit(signals.exit_status())
    except click.UsageError as e:  # a bad option or argument: one line, like every other input error
        if type(e).__name__ == "NoArgsIsHelpError":  # a bare command name: its help is the answer
            e.show()
            sys.exit(e.exit_code)
        where = e.ctx.command_path if e.ctx is not None else "deepprior"
        click.echo(f"deepprior: error: {e.format_message()} (see '{where} --help')", err=True)
        sys.exit(2)
    except click.ClickException as e:
        e.show()
        sys.exit(e.exit_code)
    except MemoryError:
        click.echo("deepprior: error: ran out of memory; crop or downscale the image, or use fewer channels",
                   err=True)
        sys.exit(2)


__all__ = ["main", "cli"]
