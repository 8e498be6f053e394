# Over ~400 lines: the one public read surface for programs; its record types already live in api_records.py.
"""Python API for agents and scripts: the same facts as the CLI's ``--json``, as typed records.

Every record has ``to_dict()`` and the CLI prints exactly that, so a program and a person
piping ``--json`` see the same JSON. Nothing here prints. Problems with files (a corrupt
line, a foreign file) never raise: pass ``warnings=[]`` to collect them. ``home`` selects
a store (default: ``$CFSESSION_HOME`` or the platform data dir). Ids are a full GUID, a
unique prefix of 4+ hex digits, or ``"last"``::

    from cfsession import api

    api.list_sessions(limit=10, since="1d", failed=True)  # [SessionInfo]  = list --json
    api.get_session("last")                 # SessionDetail(session, commands, gaps) = show --json
    api.get_session("last").session.session_id  # .session: SessionHeader (a SessionInfo)
    api.iter_commands("3f2a", failed=True)  # Iterator[CommandInfo], output included
    api.search("permission denied", cwd="/srv", limit=20)  # [SearchHit]   = search --json
    api.get_session_history(correlation_id)  # [HistoryEntry(timestamp, event_type,
                                             #   correlation_id, session_id, data)]
    api.stats(since="1w")                    # Stats                       = stats --json
    with api.record("build", actor="agent:ci") as rec:   # record what a program runs
        rec.run("make test", timeout=600)    # CommandRecord (cfsession.api_record)

A command is a :class:`CommandInfo` wherever it comes from (``get_session(…).commands``
or ``iter_commands``); records read from a file also give every recorded field by name
(``c["anomalies"]``). ``search`` takes FTS5 syntax (``"exact phrase"``, ``a OR b``, ``pre*``) and falls back
to the plain words when the query is not valid FTS5; ``snippet`` marks matches as
``**word**``; a query that uses FTS5 syntax and does not parse raises ``UsageError``
("invalid query"). ``get_session_history(None)`` covers every session, oldest first;
``event_types=("terminal_capture",)`` keeps only the commands.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cfsession import paths, store
from cfsession.api_records import (
    CommandInfo,
    GapInfo,
    HistoryEntry,
    SearchHit,
    SessionDetail,
    SessionHeader,
    SessionInfo,
)
from cfsession.errors import SchemaError, UsageError
from cfsession.index import Index, contains_snippet
from cfsession.store import StoreWarning

if TYPE_CHECKING:
    from cfsession.api_record import RecordingSession, record
    from cfsession.stats import Stats

__all__ = [
    "CommandInfo", "GapInfo", "HistoryEntry", "SessionHeader", "SearchHit", "SessionDetail", "SessionInfo",
    "Stats",
    "StoreWarning", "get_session", "get_session_history", "iter_commands", "list_sessions",
    "parse_when", "record", "RecordingSession", "reindex", "resolve_session_id", "search", "stats",
]

Warnings = list[StoreWarning]


def __getattr__(name: str) -> Any:
    # cfsession.stats (and its dataclasses) loads on first use: list and search, which
    # must start fast (DESIGN.md §7), never need it.
    if name == "Stats":
        from cfsession.stats import Stats

        return Stats
    if name in ("record", "RecordingSession"):
        # The recording API pulls in the recorder and sinks: only when asked for.
        from cfsession import api_record

        return getattr(api_record, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# -- opening the store ----------------------------------------------------------------------
def open_index(home: Path | None = None, warnings: Warnings | None = None) -> Index:
    """The index of ``home`` (default: the user's store), caught up with the files."""
    root = _checked(home)
    # Reading must not create a store: no sessions directory, nothing to index or keep.
    index = Index(root, memory=not paths.sessions_dir(root).is_dir())
    try:
        index.catch_up()
    except sqlite3.DatabaseError as exc:
        if isinstance(exc, sqlite3.OperationalError):
            raise
        # Damaged in use: it is only a cache, so start over from the files.
        index.close()
        for suffix in ("", "-wal", "-shm"):
            Path(str(index.path) + suffix).unlink(missing_ok=True)
        index = Index(root)
        index.notes.append(StoreWarning(str(index.path), None, f"index damaged ({exc}); rebuilt"))
        index.catch_up()
    if warnings is not None:
        warnings.extend(index.problems())
    return index


def _checked(home: Path | None) -> Path:
    """The store's root, refused (StoreError) when it belongs to someone else."""
    root = home or paths.home()
    if root.exists():
        paths.check_owner(root)  # a store someone else controls could feed us anything
    return root


def resolve_session_id(query: str, *, home: Path | None = None, index: Index | None = None) -> str:
    """A full session id from a full id, a unique prefix (≥ 4 hex digits) or ``last``."""
    kind, value = store.parse_id_query(query)
    own = index is None
    ix = index or open_index(home)
    try:
        if kind == "last":
            import os

            sid = ix.last_id(os.environ.get("CFSESSION_ID") or None)
            if sid is None:
                raise store.no_sessions()
            return sid
        return store.pick_id(query, kind, value, ix.ids_with_prefix(value), capped=10)
    finally:
        if own:
            ix.close()


# SessionInfo's fields in order (bar status), then what status needs: positional rows are
# what keeps listing 10,000 sessions well under DESIGN.md §7's 150 ms.
_LIST_COLUMNS = ("session_id", "name", "started_at", "ended_at", "duration_ms", "command_count",
                 "failed_count", "shell", "host", "user", "cwd", "parent_session_id",
                 "correlation_id", "session_type", "exit_code", "complete", "pid", "actor")


def _session_info(r: tuple[Any, ...]) -> SessionInfo:
    return SessionInfo(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[11],
                       r[12], r[13], r[14], store.status(bool(r[15]), r[16], r[8], r[2]), r[17])


# -- listing ----------------------------------------------------------------------------
def list_sessions(
    *,
    limit: int | None = None,
    since: str | datetime | None = None,
    failed: bool = False,
    actor: str | None = None,
    cwd: str | None = None,
    home: Path | None = None,
    warnings: Warnings | None = None,
) -> list[SessionInfo]:
    """Sessions, newest first. ``since``: a time or ``2h``/``3d``/``1w``/``today``/ISO date.

    ``actor``: ``human``, ``agent:claude-code``, or a kind (``agent`` = every ``agent:*``).
    ``cwd``: sessions started in that directory or below.
    """
    with open_index(home, warnings) as ix:
        rows = ix.sessions(limit=limit, since=_since(since), failed=failed, columns=_LIST_COLUMNS,
                           actor=actor, cwd=cwd)
        return [_session_info(r) for r in rows]


def count_sessions(*, home: Path | None = None) -> int:
    with open_index(home) as ix:
        return ix.count_sessions()


def get_session(
    session_id: str, *, home: Path | None = None, warnings: Warnings | None = None
) -> SessionDetail:
    """One session read from its JSONL file (the source of truth), every command included."""
    loaded = load(session_id, home=home, warnings=warnings)
    commands = [CommandInfo.from_record(c) for c in loaded.commands]
    session = session_dict(loaded)
    sid = session.get("session_id")
    if isinstance(sid, str):
        with open_index(_checked(home)) as ix:
            session["children"] = ix.children(sid)  # nested recordings, by their parent id
    return SessionDetail(session=SessionHeader.from_record(session), commands=commands,
                         gaps=gaps_of(loaded))


def gaps_of(loaded: store.LoadedSession) -> list[GapInfo]:
    """The pauses in capture, from the ``gap`` events (paused / resumed pairs)."""
    return [GapInfo(g["paused_at"], g["resumed_at"], g["paused_ms"], g["skipped_commands"],
                    g["after_command"]) for g in store.gaps(loaded)]


def load(session_id: str, *, home: Path | None = None, warnings: Warnings | None = None,
         keep_raw: bool = False, light: bool = False) -> store.LoadedSession:
    """Resolve an id and read its file (used by show, replay and export); ``light``: without
    the commands' output, which export and replay read again as they stream."""
    root = _checked(home)
    kind, value = store.parse_id_query(session_id)
    path = paths.jsonl_path(value, root) if kind == "full" else None
    if path is None or not path.exists():
        with open_index(root) as ix:
            sid = resolve_session_id(session_id, index=ix)
            row = ix.session(sid)
            path = paths.sessions_dir(root) / (row["file"] if row else f"{sid}.jsonl")
    loaded = store.load_session(path, keep_raw=keep_raw, light=light)
    if warnings is not None:
        warnings.extend(loaded.warnings)
        if loaded.tail and not _recording(loaded):
            warnings.append(store.tail_warning(path, loaded.lines + 1, loaded.tail))
    return loaded


def _recording(loaded: store.LoadedSession) -> bool:
    s = loaded.start
    return loaded.end is None and store.recorder_alive(s.get("pid"), s.get("host"), s.get("started_at"))


def session_dict(loaded: store.LoadedSession) -> dict[str, Any]:
    """session_start's fields (without the chain) plus the summary and status."""
    head = {k: v for k, v in loaded.start.items() if k not in ("prev_hash", "hash", "seq", "event_type")}
    summary = store.summarise(loaded)
    end = loaded.end or {}
    head.update(
        status=store.status(summary.pop("complete"), head.get("pid"), head.get("host"), head.get("started_at")),
        **summary,
        cast_sha256=end.get("cast_sha256"),
        cast_bytes=end.get("cast_bytes"),
    )
    return head


# -- commands and search ----------------------------------------------------------------
def iter_commands(
    session_id: str | None = None,
    *,
    failed: bool = False,
    cwd: str | None = None,
    since: str | datetime | None = None,
    until: str | datetime | None = None,
    limit: int | None = None,
    with_output: bool = True,
    actor: str | None = None,
    home: Path | None = None,
    warnings: Warnings | None = None,
) -> Iterator[CommandInfo]:
    """Commands across sessions (oldest first), or one session's commands in order."""
    with open_index(home, warnings) as ix:
        sid = resolve_session_id(session_id, index=ix) if session_id else None
        for r in ix.commands(session_id=sid, failed=failed, cwd=cwd, since=_since(since),
                             until=_since(until), limit=limit, with_output=with_output,
                             actor=actor):
            yield CommandInfo(
                session_id=r["session_id"], seq=r["seq"], command=r["command"],
                exit_code=r["exit_code"], status_kind=r["status_kind"], cwd=r["cwd"],
                started_at=r["started_at"], ended_at=r["ended_at"], duration_ms=r["duration_ms"],
                output=r["output"], actor=r["actor"],
            )


def search(
    query: str,
    *,
    session: str | None = None,
    failed: bool = False,
    cwd: str | None = None,
    limit: int = 20,
    actor: str | None = None,
    home: Path | None = None,
    warnings: Warnings | None = None,
) -> list[SearchHit]:
    """Full-text search (FTS5 syntax) over command lines and output, newest first."""
    return [hit for hit, _ in search_segments(query, session=session, failed=failed, cwd=cwd,
                                              limit=limit, actor=actor, home=home,
                                              warnings=warnings)]


Segments = list[tuple[str, bool]]  # (text, is a match)


def search_segments(
    query: str, *, session: str | None = None, failed: bool = False, cwd: str | None = None,
    limit: int = 20, home: Path | None = None, warnings: Warnings | None = None,
    actor: str | None = None,
) -> list[tuple[SearchHit, Segments]]:
    """:func:`search`, plus each snippet split into plain and matching parts (for the CLI)."""
    from cfsession.text import sanitize

    if not query.strip():
        raise UsageError("empty search", "give a word to look for, e.g. `cfsession search error`")
    with open_index(home, warnings) as ix:
        sid = resolve_session_id(session, index=ix) if session else None
        try:
            rows = ix.search(query, session_id=sid, failed=failed, cwd=cwd, limit=limit, actor=actor)
        except sqlite3.OperationalError as exc:
            if _FTS_SYNTAX.search(query):
                # FTS5 syntax was meant (quotes, brackets, *, AND/OR/NOT/NEAR) and is wrong:
                # say so, rather than look for something else and answer "no matches".
                raise UsageError(f"invalid query {query!r}: {exc}",
                                 'close quotes and brackets; put phrases in quotes, e.g. \'"exit status"\'') from exc
            # Punctuation FTS5 does not take (``foo-bar``, ``ENOENT:``): the words as typed.
            try:
                rows = ix.search(_quote_words(query), session_id=sid, failed=failed, cwd=cwd,
                                 limit=limit, actor=actor)
            except sqlite3.OperationalError as exc:
                raise UsageError(f"cannot search for {query!r}: {exc}",
                                 'quote the words, e.g. cfsession search \'"exit status"\'') from exc
        if not rows and _CJK.search(query) and not _FTS_SYNTAX.search(query):
            # CJK is written without spaces, so the tokenizer indexed a whole run as one
            # word and a word inside it matches nothing: look for the text itself.
            rows = ix.search(query, session_id=sid, failed=failed, cwd=cwd, limit=limit,
                             actor=actor, contains=query.split())
    out = []
    for r in rows:
        segments: Segments = []
        snippet = r["snippet"] if r["snippet"] is not None else contains_snippet(r, query.split())
        for i, part in enumerate(re.split("[\x02\x03]", snippet)):
            text = " ".join(sanitize(part).split("\n")) if part else ""
            if text:
                segments.append((text, i % 2 == 1))
        snippet = "".join(f"**{t}**" if hit else t for t, hit in segments)
        hit = SearchHit(session_id=r["session_id"], seq=r["seq"], command=r["command"],
                        exit_code=r["exit_code"], started_at=r["started_at"], snippet=snippet,
                        actor=r["actor"])
        out.append((hit, segments))
    return out


_FTS_SYNTAX = re.compile(r'["()*]|\b(?:AND|OR|NOT|NEAR)\b')
# Han, kana, hangul, CJK punctuation and fullwidth forms.
_CJK = re.compile("[\u3000-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\uff00-\uffef]")



def _quote_words(query: str) -> str:
    return " ".join('"' + w.replace('"', '""') + '"' for w in query.split())


# -- history, stats, reindex ------------------------------------------------------------
def get_session_history(
    correlation_id: str | None = None,
    *,
    event_types: tuple[str, ...] | None = None,
    limit_sessions: int | None = None,
    home: Path | None = None,
    warnings: Warnings | None = None,
) -> list[HistoryEntry]:
    """Recorded events, oldest first: of the sessions with ``correlation_id``, else of all.

    Each entry has the event's timestamp, type, correlation id and its data (every other
    field). ``event_types=("terminal_capture",)`` keeps only the commands.
    """
    root = home or paths.home()
    with open_index(root, warnings) as ix:
        rows = ix.sessions(correlation_id=correlation_id, limit=limit_sessions)
        files = [(r["start_epoch"] or 0.0, paths.sessions_dir(root) / r["file"]) for r in rows]
    entries: list[HistoryEntry] = []
    for _, path in sorted(files, key=lambda f: f[0]):
        try:
            loaded = store.load_session(path)
        except SchemaError as exc:
            if warnings is not None:
                warnings.append(StoreWarning(str(path), None, exc.message))
            continue
        if warnings is not None:
            warnings.extend(loaded.warnings)
        for rec in [loaded.start, *loaded.events]:
            kind = str(rec.get("event_type"))
            if event_types and kind not in event_types:
                continue
            data = {k: v for k, v in rec.items()
                    if k not in ("ts", "event_type", "correlation_id", "session_id")}
            entries.append(HistoryEntry(
                timestamp=store.as_str(rec.get("ts")), event_type=kind,
                correlation_id=store.as_str(rec.get("correlation_id"))
                or store.as_str(loaded.start.get("correlation_id")),
                session_id=loaded.session_id, data=data,
            ))
    return entries


def stats(*, since: str | datetime | None = None, top: int = 10, actor: str | None = None,
          home: Path | None = None, warnings: Warnings | None = None) -> Stats:
    """Totals, slowest and most-used commands, failure rate per program, activity per day."""
    from cfsession.stats import compute

    with open_index(home, warnings) as ix:
        return compute(ix, _since(since), top=top, actor=actor)


def reindex(*, home: Path | None = None) -> int:
    """Rebuild the index from the files; returns the number of sessions."""
    with Index(home or paths.home()) as ix:
        return ix.reindex()


# -- time filters ---------------------------------------------------------------------------
_REL = re.compile(r"^(\d+(?:\.\d+)?)\s*(s|m|min|h|d|w)$")
_UNITS = {"s": 1, "m": 60, "min": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_when(when: str | datetime, now: datetime | None = None) -> datetime:
    """``2h``, ``3d``, ``1w``, ``30m``, ``today``, ``yesterday``, or an ISO date/time (local)."""
    if isinstance(when, datetime):
        return when if when.tzinfo else when.astimezone()
    now = now or datetime.now().astimezone()
    s = when.strip().lower()
    try:
        m = _REL.match(s)
        if m:
            return now - timedelta(seconds=float(m.group(1)) * _UNITS[m.group(2)])
        if s in ("today", "yesterday"):
            midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
            return midnight - timedelta(days=1) if s == "yesterday" else midnight
        dt = datetime.fromisoformat(when.strip().replace("Z", "+00:00"))
        dt = dt if dt.tzinfo else dt.astimezone()
        dt.timestamp()  # year 1 or 9999 may not convert: say so here, not later
        return dt
    except (ValueError, OverflowError):  # not a time, or one datetime cannot hold
        raise UsageError(f"cannot read the time {when!r}",
                         "use e.g. 2h, 3d, 1w, today, yesterday or 2024-05-01") from None


def _since(when: str | datetime | None) -> float | None:
    return None if when is None else parse_when(when).timestamp()
