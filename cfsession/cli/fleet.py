"""``ship``, ``admin`` and the ``--remote`` forms of list/show/search/replay/verify.

Everything of :mod:`cfsession.fleet` (and psycopg) is imported inside the commands, so
that registering them costs the other commands nothing at start-up.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import typer

from cfsession.cli import _common
from cfsession.errors import ExitCode


def _need_psycopg() -> None:
    try:
        import psycopg  # noqa: F401
    except ImportError:
        _common.fail("the fleet commands need psycopg", "pip install 'cfsession[fleet]'")


def register(app: typer.Typer) -> None:
    """Add ``ship`` and ``admin`` to ``app``."""

    @app.command("ship")
    def ship(
        url: str = typer.Option(None, "--url", help="postgresql://user@host/db (default: $CFSESSION_SHIP_URL or [ship] url)."),
        once: bool = typer.Option(False, "--once", help="Ship what there is now and exit (the default)."),
        follow: bool = typer.Option(False, "--follow", "-f", help="Keep shipping as sessions grow; reconnect with back-off."),
        batch: int = typer.Option(5000, "--batch", min=1, help="Lines per batch (one transaction on the server)."),
        streams: int = typer.Option(1, "--streams", min=1, max=32, help="With --once: ship over N connections at once (sessions split between them)."),
        no_index: bool = typer.Option(False, "--no-index", help="Leave the deferred text indexing to `cfsession admin index`."),
        retry_for: float = typer.Option(120.0, "--retry-for", min=0.0, help="With --once: keep retrying an unreachable server for S seconds."),
    ) -> None:
        """Send local sessions (JSONL lines and casts) to the fleet PostgreSQL server."""
        _need_psycopg()
        if once and follow:
            _common.fail("give --once or --follow, not both", "see `cfsession ship --help`", code=ExitCode.USAGE)
        import time

        from cfsession.fleet import config, shipper
        from cfsession.fleet.progress import progress_printer

        target = config.ship_url(url)
        update, finish = progress_printer()
        t0 = time.monotonic()
        try:
            if follow:
                s = shipper.Shipper(target, batch=batch, index=not no_index, on_progress=update)
                try:
                    report = s.follow()
                except KeyboardInterrupt:
                    report = s.report
                finally:
                    s.close()
            else:
                report = shipper.ship(target, batch=batch, index=not no_index,
                                      retry_for=retry_for, on_progress=update, streams=streams)
        finally:
            finish()
        took = time.monotonic() - t0
        sys.stderr.write(
            f"cfsession: shipped {report.lines:,} new lines ({report.sent:,} sent) of "
            f"{len(report.sessions):,} sessions and {report.cast_bytes:,} cast bytes in {took:.1f} s"
            + (f"; {len(report.refused)} session(s) refused" if report.refused else "") + "\n"
        )
        if report.refused:
            raise typer.Exit(ExitCode.ERROR)

    admin = typer.Typer(help="Administer the fleet server.", no_args_is_help=True)
    app.add_typer(admin, name="admin")

    @admin.command("migrate")
    def migrate(
        url: str = typer.Option(None, "--url", help="An administrator's postgresql:// URL (CREATEROLE, owner of the database)."),
    ) -> None:
        """Create or upgrade the fleet schema and its roles."""
        _need_psycopg()
        from cfsession.fleet import config, schema

        with config.connect(config.ship_url(url), autocommit=True) as conn:
            before, after, applied = schema.migrate(conn)
        latest = schema.migrations()[-1][0]
        if applied:
            print(f"schema version {before} → {after} ({', '.join(applied)})")
        elif after > latest:
            # A newer cfsession migrated this server: nothing of ours to apply, and this
            # version cannot tell whether the server is up to date.
            print(f"schema version {after} is newer than this cfsession's ({latest}): left as it is; "
                  "upgrade cfsession here to administer it")
        else:
            print(f"schema version {after}: up to date")

    @admin.command("index")
    def index(url: str = typer.Option(None, "--url", help="postgresql:// URL of a shipper or the owner.")) -> None:
        """Run the deferred text indexing until no command is pending."""
        _need_psycopg()
        import psycopg

        from cfsession.fleet import config
        from cfsession.fleet.errors import server_error

        total = 0
        with config.connect(config.ship_url(url), autocommit=True) as conn:
            while True:
                try:
                    row = conn.execute("SELECT cfsession.index_pending(20000)").fetchone()
                except psycopg.Error as exc:
                    raise server_error(exc) from None
                total += int(row[0]) if row else 0
                if not row or int(row[0]) < 20000:
                    break
        print(f"indexed {total} commands")


# -- the --remote forms -------------------------------------------------------------------
def list_(limit: int | None, since: str | None, failed: bool, host: str | None, as_json: bool,
          actor: str | None = None) -> None:
    _need_psycopg()
    from cfsession.cli._render import emit_json
    from cfsession.cli.listing import LIST_DEFAULT, print_sessions
    from cfsession.fleet import api

    n = limit if limit is not None else (0 if as_json else LIST_DEFAULT)
    sessions = api.list_sessions(limit=n or None, since=since, failed=failed, host=host, actor=actor)
    if as_json:
        emit_json([s.to_dict() for s in sessions])
        return
    print_sessions(sessions, filtered=bool(since or failed or host or actor))


def show(session_id: str, output: bool, as_json: bool) -> None:
    _need_psycopg()
    from cfsession.cli._render import emit_json, render_show
    from cfsession.fleet import api

    detail = api.get_session(session_id)
    if as_json:
        emit_json(detail.to_dict())
        return
    render_show(detail, output)


def search(query: str, session: str | None, failed: bool, cwd: str | None, limit: int,
           host: str | None, substring: bool, as_json: bool, actor: str | None = None) -> None:
    _need_psycopg()
    from cfsession.cli._render import emit_json
    from cfsession.cli.listing import print_hits
    from cfsession.fleet import api

    hits = api.search_segments(query, session=session, failed=failed, cwd=cwd, limit=limit,
                               host=host, actor=actor, substring=substring)
    if as_json:
        emit_json([h.to_dict() for h, _ in hits])
        return
    print_hits(hits)


def replay(session_id: str, speed: float, idle_limit: float | None, command: int | None,
           no_wait: bool, raw: bool) -> None:
    """Fetch the session and its cast into a private temporary store and play it from there."""
    _need_psycopg()
    import shutil
    import tempfile

    from cfsession.cli import sessions
    from cfsession.fleet import api

    tmp = tempfile.mkdtemp(prefix="cfsession-remote-")
    saved = os.environ.get("CFSESSION_HOME")
    try:
        sid = api.materialize(session_id, Path(tmp))
        os.environ["CFSESSION_HOME"] = tmp
        sessions._replay(sid, speed, idle_limit, command, no_wait, raw)
    finally:
        if saved is None:
            os.environ.pop("CFSESSION_HOME", None)
        else:
            os.environ["CFSESSION_HOME"] = saved
        shutil.rmtree(tmp, ignore_errors=True)


def verify(session_id: str | None, all_: bool, as_json: bool) -> int:
    _need_psycopg()
    from cfsession.cli.trust import _line
    from cfsession.errors import UsageError
    from cfsession.fleet import api

    if all_:
        raise UsageError("verify --remote checks one session", "give its id (or `last`)")
    res = api.verify(session_id or "last")
    if as_json:
        _common.print_json({"ok": res.ok, "checked": 1, "intact": int(res.status == "intact"),
                            "incomplete": int(res.status == "incomplete"),
                            "tampered": int(not res.ok), "sessions": [res.to_dict()]})
    else:
        con = _common.console()
        con.print(_line(res), soft_wrap=True)
        if res.ok and res.final_hash:
            con.print(f"final hash {res.final_hash}", style="dim", soft_wrap=True)
    if not res.ok:
        sys.stderr.write(f"cfsession: verification failed on the server: {res.reason} — "
                         "the stored copy does not hold together; compare with the host's file\n")
        return ExitCode.ERROR
    return ExitCode.OK


__all__ = ["list_", "register", "replay", "search", "show", "verify"]
