"""``cfsession verify``: check sessions against their hash chain and .cast digests.

Sessions are found from the files themselves, not from the SQLite index: the index is
derived data, and a trust check must also see a file the index refused to read.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from cfsession.cli import _common
from cfsession.errors import ExitCode

if TYPE_CHECKING:
    from cfsession.verify import VerifyResult


def _resolve(query: str, sdir: Path) -> Path:
    """A session's .jsonl from a full id, a unique prefix (≥ 4 hex digits) or ``last``
    (the rules and messages of :func:`cfsession.api.resolve_session_id`, over the files)."""
    from cfsession.records import first_record
    from cfsession.store import no_sessions, parse_id_query, pick_id

    kind, value = parse_id_query(query)
    files = sorted(sdir.glob("*.jsonl")) if sdir.is_dir() else []
    if kind == "last":
        if not files:
            raise no_sessions()

        # As the index's `last`: the top-level session written to last (a session ends
        # with its last write), this shell's own session skipped and its children counted.
        import os

        inside = os.environ.get("CFSESSION_ID") or None
        top = [p for p in files if p.stem != inside
               and first_record(p).get("parent_session_id") in (None, inside)]
        return max(top or files, key=lambda p: p.stat().st_mtime)
    sid = pick_id(query, kind, value, [p.stem for p in files if p.stem.lower().startswith(value)])
    return sdir / f"{sid}.jsonl"


def _line(res: VerifyResult) -> Any:
    from rich.text import Text

    from cfsession.text import sanitize

    sid = sanitize(res.session_id or Path(res.path).stem)
    out = Text()
    if res.status == "intact":
        out.append("✓ ", "green").append(sid).append("  intact", "green")
        out.append(f"  {res.lines} lines, {res.cast_checks} .cast digests", "dim")
    elif res.status == "incomplete":
        label = "  still recording" if res.problem == "recording" else "  incomplete"
        out.append("✓ ", "yellow").append(sid).append(label, "yellow")
        out.append(f"  {sanitize(res.reason or '')}", "dim")
    else:
        out.append("✗ ", "bold red").append(sid).append("  TAMPERED", "bold red")
        where = f"{res.path}:{res.bad_line}" if res.bad_line else res.path
        out.append(f"  {sanitize(where)}: {sanitize(res.reason or '')}")
    return out


def run_verify(session_id: str | None, all_: bool, as_json: bool) -> int:
    from cfsession import paths
    from cfsession.anchor import anchor_path, orphans, read_anchor
    from cfsession.errors import UsageError
    from cfsession.text import sanitize
    from cfsession.verify import (
        TAMPERED,
        VerifyResult,
        recorder_alive,
        session_files,
        verify_session,
    )

    if session_id and all_:
        raise UsageError("give a session id or --all, not both", "see `cfsession verify --help`")
    sdir = paths.sessions_dir()
    files = session_files(sdir) if all_ else [_resolve(session_id or "last", sdir)]
    results = [
        verify_session(p, alive=recorder_alive, anchor=read_anchor(anchor_path(p.stem, sdir.parent)))
        for p in files
    ]
    if all_:  # sessions the recorder wrote whose files are gone
        for a in orphans(sdir, sdir.parent):
            gone = sdir / f"{a.session_id}.jsonl"
            results.append(VerifyResult(
                path=str(gone), cast_path=str(gone.with_suffix(".cast")), session_id=a.session_id,
                status=TAMPERED, problem="missing", anchored=True,
                reason=f"the recorder wrote {a.seq} lines of this session; its file is gone",
            ))
    bad = [r for r in results if not r.ok]
    if as_json:
        _common.print_json(
            {
                "ok": not bad,
                "checked": len(results),
                "intact": sum(r.status == "intact" for r in results),
                "incomplete": sum(r.status == "incomplete" for r in results),
                "tampered": len(bad),
                "sessions": [r.to_dict() for r in results],
            }
        )
    else:
        con = _common.console()
        if not results:
            con.print("no sessions to verify")
        for r in results:
            con.print(_line(r), soft_wrap=True)
        if len(results) == 1 and results[0].ok and results[0].final_hash:
            # The value to compare with an anchored copy (session-end line, ETW SessionEnd).
            what = "hash so far" if results[0].problem == "recording" else "final hash"
            con.print(f"{what} {results[0].final_hash}", style="dim", soft_wrap=True)
        elif len(results) > 1:
            con.print(
                f"{len(results)} sessions: {len(results) - len(bad)} ok, {len(bad)} tampered",
                style="dim",
            )
    if bad:
        first = bad[0]
        more = f" (and {len(bad) - 1} more session(s))" if len(bad) > 1 else ""
        sys.stderr.write(
            f"cfsession: verification failed: {sanitize(first.path)}: "
            f"{sanitize(first.reason or '')}{more} — the recording was altered or damaged "
            "after it was written; keep a copy as evidence\n"
        )
        return ExitCode.ERROR
    return ExitCode.OK


def register(app: typer.Typer) -> None:
    """Add ``verify`` to ``app``."""

    @app.command("verify")
    def verify(
        session_id: str = typer.Argument(
            None,
            metavar="[ID]",
            help="Full id, unique prefix (≥ 4 hex digits) or `last` (default).",
        ),
        all_: bool = typer.Option(False, "--all", help="Verify every session in the store."),
        as_json: bool = typer.Option(False, "--json", help="Print the results as JSON."),
        remote: bool = typer.Option(False, "--remote", help="Re-check the copy the fleet server holds (docs/FLEET.md)."),
    ) -> None:
        """Check sessions against their hash chain and .cast digests; exit 1 if one was edited.

        Incomplete sessions (recorder killed, no session_end) pass: they are intact up to
        their last line.
        """
        if remote:
            from cfsession.cli import fleet

            code = fleet.verify(session_id, all_, as_json)
        else:
            code = run_verify(session_id, all_, as_json)
        if code:
            raise typer.Exit(code)
