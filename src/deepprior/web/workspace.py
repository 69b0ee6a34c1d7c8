"""Where the page writes: one temporary folder per browser session, under one folder per server.

Nothing the client sends is used as a path: the files of a session are named here. A session's folder goes when
the browser leaves (``Blocks.unload``); the server's folder, uploads included (``GRADIO_TEMP_DIR`` points
into it), goes when the server stops.
"""

from __future__ import annotations

import pathlib
import re
import shutil
import tempfile

_SAFE = re.compile(r"[^A-Za-z0-9_-]")


class Workspace:
    """The server's temporary folder and its per-session folders."""

    def __init__(self, root: pathlib.Path | None = None) -> None:
        self.root = pathlib.Path(tempfile.mkdtemp(prefix="deepprior-web-")) if root is None else root
        self.root.mkdir(parents=True, exist_ok=True)
        self.uploads = self.root / "uploads"
        self.uploads.mkdir(exist_ok=True)

    def _folder(self, session_hash: str | None) -> pathlib.Path:
        """A session's folder, named here from the hash's safe characters only."""
        return self.root / "sessions" / ((_SAFE.sub("", session_hash or "") or "anonymous")[:64])

    def session(self, session_hash: str | None) -> pathlib.Path:
        """The folder of one browser session (made on first use)."""
        folder = self._folder(session_hash)
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def run_folder(self, session_hash: str | None) -> pathlib.Path:
        """A fresh folder for one run of a session; the session's earlier runs are removed."""
        base = self.session(session_hash)
        for old in base.glob("run-*"):
            shutil.rmtree(old, ignore_errors=True)
        return pathlib.Path(tempfile.mkdtemp(prefix="run-", dir=base))

    def end_session(self, session_hash: str | None) -> None:
        """Remove a session's folder (the browser left)."""
        shutil.rmtree(self._folder(session_hash), ignore_errors=True)

    def close(self) -> None:
        """Remove everything the server wrote."""
        shutil.rmtree(self.root, ignore_errors=True)
