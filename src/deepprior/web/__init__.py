"""The web page (``deepprior web``, extra ``[web]``): upload, paint the damage, watch the restoration, download.

A front end like the command line: it builds a :class:`~deepprior.Job` with :func:`deepprior.plan` and runs it
with callbacks. The parts without gradio (uploads, workspace, form, live, results, handlers) are tested without
a browser; :mod:`.page` lays out the widgets; :func:`serve` starts the server.
"""

from __future__ import annotations

import os

from .uploads import Limits
from .workspace import Workspace


def serve(host: str = "127.0.0.1", port: int = 7860, *, limits: Limits = Limits(), runs_at_once: int = 1,
          every: int = 25, block: bool = True):
    """Start the page on ``host:port`` (loopback unless told otherwise). With ``block=False`` it returns
    ``(blocks, workspace)`` at once; ``blocks.close()`` then ``workspace.close()`` stop it and remove its files."""
    workspace = Workspace()
    # Before gradio is imported: uploads go into the server's own folder, and nothing calls home.
    os.environ["GRADIO_TEMP_DIR"] = str(workspace.uploads)
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
    from . import page
    blocks = page.build(workspace, limits, every=every, runs_at_once=runs_at_once)
    blocks.queue(default_concurrency_limit=None)
    try:
        blocks.launch(server_name=host, server_port=port, max_file_size=limits.max_bytes, share=False,
                      prevent_thread_lock=not block, quiet=not block, ssr_mode=False, show_error=False,
                      theme=page.theme(), footer_links=[])
    except BaseException:
        workspace.close()
        raise
    if block:
        workspace.close()
        return None
    return blocks, workspace


__all__ = ["serve", "Limits", "Workspace"]
