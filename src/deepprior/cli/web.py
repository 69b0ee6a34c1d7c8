"""``deepprior web``: the page in a browser (extra ``[web]``), on loopback unless told otherwise."""

from __future__ import annotations

import importlib.util
import socket

import click

from ..errors import InputError
from .options import Finite


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on. The default is this machine only; --host 0.0.0.0 shares the page with "
                   "every machine that can reach this one (anyone on the network can then run restorations).")
@click.option("--port", type=click.IntRange(1, 65535), default=7860, show_default=True)
@click.option("--runs", type=click.IntRange(min=1), default=1, show_default=True,
              help="Restorations at once; the others wait in a queue, each page showing its place.")
@click.option("--max-mb", type=click.IntRange(min=1), default=25, show_default=True,
              help="Largest upload in MB (larger ones get HTTP 413).")
@click.option("--max-megapixels", type=Finite(min=0.01), default=16.0, show_default=True,
              help="Largest image in megapixels, checked from the file's header before it is decoded.")
@click.option("--every", type=click.IntRange(min=1), default=25, show_default=True,
              help="Default for how often the page shows the output (every K steps).")
def web(host: str, port: int, runs: int, max_mb: int, max_megapixels: float, every: int) -> None:
    """Open a page to upload an image, paint its damage, watch the restoration and download it."""
    if importlib.util.find_spec("gradio") is None:
        raise InputError("the web page needs the [web] extra: pip install 'deepprior[web]'")
    check_port(host, port)
    from ..web import Limits, serve
    click.echo(f"deepprior web: http://{'127.0.0.1' if host == '0.0.0.0' else host}:{port}/ (Ctrl-C stops it)",
               err=True)
    serve(host, port, limits=Limits(max_mb * 2**20, int(max_megapixels * 1e6)), runs_at_once=runs, every=every)


def check_port(host: str, port: int) -> None:
    """Refuse a port that is taken or an address that is not this machine's, before the slow start."""
    try:
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
            s.bind((host, port))
    except OSError as e:
        raise InputError(f"cannot listen on {host}:{port} ({e.strerror or e}); choose another --port or --host")
