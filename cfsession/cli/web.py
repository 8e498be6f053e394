"""``open``: a session's HTML page (:mod:`cfsession.export_html`) in the user's browser."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import typer

from cfsession.cli import _common


def register(app: typer.Typer) -> None:
    @app.command("open")
    def open_(
        session_id: str = typer.Argument(..., metavar="ID", help="Full id, a unique prefix or `last`."),
    ) -> None:
        """Open a session as a web page: the screen in asciinema-player beside its commands."""
        open_page(session_id)


def write_page(session_id: str) -> Path:
    """The page in a new private temp file (0600, mkstemp's mode); its path."""
    from cfsession import api, export, paths
    from cfsession.cli._render import warn

    warnings: list[Any] = []
    loaded = api.load(session_id, warnings=warnings)
    cast_file = paths.sessions_dir() / (loaded.path.stem + ".cast")
    fd, name = tempfile.mkstemp(prefix=f"cfsession-{loaded.session_id[:8]}-", suffix=".html")
    try:
        with os.fdopen(fd, "wb") as f:
            for chunk in export.export(loaded, "html", cast_file, warnings):
                f.write(chunk)
    except BaseException:
        os.unlink(name)
        raise
    warn(warnings)
    return Path(name)


def open_page(session_id: str) -> None:
    import webbrowser

    path = write_page(session_id)
    sys.stdout.write(f"{path}\n")
    sys.stdout.flush()
    try:
        opened = webbrowser.open(path.as_uri())
    except webbrowser.Error:
        opened = False
    if not opened:
        _common.fail(f"no browser to open {path}", "open that file in a browser yourself")
