"""The read side: ``list``, ``show``, ``replay``, ``search``, ``export``, ``stats``, ``reindex``.

Each command is one call into :mod:`cfsession.api` and a rendering from
:mod:`cfsession.cli._render`. Everything shown from a recording goes through ``sanitize``
and into ``rich.text.Text`` (never markup), so neither a recorded escape sequence nor a
``[bold]`` in a command line acts on the screen.
``--json`` prints exactly the API records' ``to_dict()``.

``list`` and ``search`` live in :mod:`cfsession.cli.listing` (their own parser and
tables, no Typer or rich on their way); they are registered here for the help listing.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import typer

from cfsession.cli import _common
from cfsession.cli._render import (
    emit_json,
    escape_c1,
    render_show,
    render_stats,
    warn,
)
from cfsession.errors import ExitCode

FORMATS = ("asciicast", "asciicast-v3", "text", "markdown", "jsonl", "html")  # = export.FORMATS, kept light


def register(app: typer.Typer) -> None:
    """Add the read-side commands to ``app``."""

    from cfsession.cli import listing

    listing.register(app, "list")  # help from its spec; cli/args.py parses it, whichever path ran it

    @app.command("show")
    def show(
        session_id: str = typer.Argument(..., metavar="ID", help="Full id, a unique prefix (4+ hex digits) or `last` (the top-level session that ended last)."),
        output: bool = typer.Option(False, "--output", "-O", help="Also print each command's output (-o is a file elsewhere)."),
        as_json: bool = typer.Option(False, "--json", help="Print JSON: {session, commands}."),
        web: bool = typer.Option(False, "--web", help="Open the session's page in the browser (= `open`)."),
        remote: bool = typer.Option(False, "--remote", help="Read the fleet server (docs/FLEET.md) instead of this machine's store."),
    ) -> None:
        """Show one session: its header and its commands."""
        if remote:
            from cfsession.cli import fleet

            fleet.show(session_id, output, as_json)
            return
        from cfsession import api, paths
        from cfsession.text import sanitize
        from cfsession.verify import chain_problem

        if web:
            from cfsession.cli.web import open_page

            open_page(session_id)
            return
        warnings: list[Any] = []
        detail = api.get_session(session_id, warnings=warnings)
        warn(warnings)
        if as_json:
            emit_json(detail.to_dict())
        else:
            render_show(detail, output)
        # An edited file still reads; say so after it, so it is not taken at face value.
        path = paths.jsonl_path(detail.session.session_id)
        broken = chain_problem(path) if path.exists() else None
        if broken is not None:
            sys.stderr.write(
                f"cfsession: warning: {sanitize(str(path))}:{broken[0]}: {sanitize(broken[1])}"
                f" — `cfsession verify {detail.session.session_id[:8]}` would fail\n"
            )

    @app.command("replay")
    def replay(
        session_id: str = typer.Argument(..., metavar="ID", help="Full id, a unique prefix or `last`."),
        speed: float = typer.Option(1.0, "--speed", "-s", min=0.01, help="Playback speed factor."),
        idle_limit: float = typer.Option(None, "--idle-limit", "-i", min=0.0, help="Cap pauses at S seconds."),
        command: int = typer.Option(None, "--command", "-c", min=1, help="Play only command N (its seq)."),
        no_wait: bool = typer.Option(False, "--no-wait", help="Dump the output without delays."),
        raw: bool = typer.Option(False, "--raw", help="Write the raw stream even when stdout is not a terminal."),
        remote: bool = typer.Option(False, "--remote", help="Read the fleet server (docs/FLEET.md) instead of this machine's store."),
    ) -> None:
        """Play a session back with its timing. Keys: space pause, . step, n next command, q quit."""
        if remote:
            from cfsession.cli import fleet

            fleet.replay(session_id, speed, idle_limit, command, no_wait, raw)
            return
        _replay(session_id, speed, idle_limit, command, no_wait, raw)

    listing.register(app, "search")

    @app.command("export")
    def export(
        session_id: str = typer.Argument(..., metavar="ID", help="Full id, a unique prefix or `last`."),
        fmt: str = typer.Option(..., "--format", "-f", metavar="FORMAT", help=f"One of: {', '.join(FORMATS)}."),
        out: str = typer.Option(None, "--output", "-o", metavar="FILE", help="Write to FILE instead of stdout."),
    ) -> None:
        """Convert a session: asciicast (v2, plays in asciinema), asciicast-v3, text, markdown, jsonl, html (one page: player and command list)."""
        if fmt not in FORMATS:
            _common.fail(f"unknown format {fmt!r}", f"use one of: {', '.join(FORMATS)}", code=ExitCode.USAGE)
        _export(session_id, fmt, Path(out) if out else None)

    @app.command("stats")
    def stats(
        since: str = typer.Option(None, "--since", help="Only commands after WHEN: 2h, 3d, 1w, today, 2024-05-01."),
        actor: str = typer.Option(None, "--actor", help="Only ACTOR's: human, agent:NAME, or agent (any agent)."),
        as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    ) -> None:
        """Commands run, failure rates, slowest and most-used commands, time recorded."""
        from cfsession import api

        warnings: list[Any] = []
        result = api.stats(since=since, actor=actor, warnings=warnings)
        warn(warnings)
        if as_json:
            emit_json(result.to_dict())
            return
        render_stats(result)

    @app.command("reindex")
    def reindex() -> None:
        """Rebuild the search index from the session files (it is only a cache)."""
        import time

        from cfsession import api

        t0 = time.perf_counter()
        n = api.reindex()
        warnings: list[Any] = []
        api.list_sessions(limit=1, warnings=warnings)
        warn(warnings)
        sys.stderr.write(f"cfsession: indexed {n} sessions in {time.perf_counter() - t0:.2f} s\n")


# -- replay and export ------------------------------------------------------------------------
def _replay(session_id: str, speed: float, idle_limit: float | None, command: int | None,
            no_wait: bool, raw: bool) -> None:
    from cfsession import api, export, paths, replay
    from cfsession.store import as_float

    warnings: list[Any] = []
    loaded = api.load(session_id, warnings=warnings, light=True)
    cast_file = paths.sessions_dir() / (loaded.path.stem + ".cast")
    # Streamed: frames are read as they are played, so memory does not grow with the cast.
    header, frames = export.iter_cast_frames(loaded, cast_file, warnings)
    warn(warnings)
    if command is not None:
        match = [c for c in loaded.commands if c.get("command_seq") == command]
        if not match or as_float(match[0].get("cast_start")) is None:
            _common.fail(f"session {loaded.session_id[:8]} has no command {command}",
                         f"see the seq column of `cfsession show {loaded.session_id[:8]}`")
        c = match[0]
        # The command starts where its line was entered: show that line, as a prompt
        # and the command (the recorded prompt is the shell's and may hold anything).
        import itertools

        from cfsession.text import sanitize

        line = sanitize(export.marker_label(c.get("command"))).replace("\n", "\r\n")
        frames = itertools.chain([(0.0, "o", line + "\r\n")],
                                 replay.iter_command_span(frames, c["cast_start"], as_float(c.get("cast_end"))))
    if idle_limit is None:
        idle_limit = as_float(header.get("idle_time_limit"))
    steps = replay.iter_schedule(frames, speed=speed, idle_limit=idle_limit)
    out = sys.stdout.buffer
    to_tty = out.isatty()
    writer: Any = replay.TerminalWriter(out) if (to_tty or raw) else replay.PlainWriter(out)
    interactive = not no_wait and to_tty and sys.stdin.isatty()
    from contextlib import nullcontext

    keys_cm: Any = replay.tty_keys(sys.stdin.fileno()) if interactive else nullcontext(replay.NoKeys())
    try:
        with keys_cm as keys:
            replay.play(steps, writer, keys, wait=not no_wait)
    finally:
        writer.finish()  # the terminal put back in order; or what a plain stream held back


def _write_file(out: Path, chunks: Iterator[bytes]) -> None:
    """Chunks to ``out`` as they come, through a private file beside it renamed at the end:
    a failed export leaves ``out`` as it was. A link is written through, not replaced; a
    device or FIFO (``-o /dev/stdout``, ``/dev/null``) is written into: renaming a file
    over it would replace it (and, as root, /dev/null for everyone)."""
    import stat

    from cfsession.paths import open_private

    try:
        special = not stat.S_ISREG(os.stat(out).st_mode)
    except OSError:
        special = False  # not there yet (or unreadable: the open below says why)
    if special:
        try:
            with open(out, "wb") as f:
                for chunk in chunks:
                    f.write(chunk)
        except OSError as exc:
            _common.fail(f"cannot write {out}: {exc.strerror or exc}", "choose another -o path")
        return
    dest = Path(os.path.realpath(out))
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.part")
    try:
        fd = open_private(tmp, "wb")
    except OSError as exc:
        _common.fail(f"cannot write {out}: {exc.strerror or exc}", "choose another -o path")
    try:
        with os.fdopen(fd, "wb") as f:
            for chunk in chunks:
                f.write(chunk)
        os.replace(tmp, dest)
    except BaseException as exc:
        tmp.unlink(missing_ok=True)
        if isinstance(exc, OSError):
            _common.fail(f"cannot write {out}: {exc.strerror or exc}", "choose another -o path")
        raise


def _export(session_id: str, fmt: str, out: Path | None) -> None:
    from cfsession import api, export, paths

    if out is not None:
        store_dir = os.path.realpath(paths.sessions_dir())
        target = os.path.realpath(out)
        if os.path.dirname(target) == store_dir:
            # The export replaces the file at the end: there, it would replace a recording
            # (this session's own .cast, or another session) with a copy in another format.
            _common.fail(f"cannot write {out}: it is in the session store, where it would replace a recording",
                         f"choose an -o path outside {store_dir}")
    warnings: list[Any] = []
    # Streamed formats read outputs and frames as they are written: flat memory.
    loaded = api.load(session_id, warnings=warnings, light=fmt in export.STREAMED)
    cast_file = paths.sessions_dir() / (loaded.path.stem + ".cast")
    chunks = export.export(loaded, fmt, cast_file, warnings)
    if out is not None:
        _write_file(out, chunks)
        warn(warnings)
        return
    stream = sys.stdout.buffer
    escape = fmt in ("asciicast", "asciicast-v3", "jsonl") and stream.isatty()
    for chunk in chunks:
        if escape:  # C1 controls inside JSON strings would still reach the terminal
            chunk = escape_c1(chunk.decode("utf-8", "replace")).encode()
        stream.write(chunk)
    stream.flush()
    warn(warnings)
