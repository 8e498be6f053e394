"""What ``cfsession mcp`` answers, without the MCP SDK: plain functions over one store.

:class:`LocalStore` reads the user's store through :mod:`cfsession.api`; the server
(:mod:`cfsession.mcp_server`) only wraps its methods as tools. A store on a fleet server
(``--remote``, :class:`cfsession.mcp_remote.RemoteStore`) has the same methods (:class:`Store`).

Every answer is JSON-ready and bounded: lists are capped (``MAX_LIMIT``), long strings cut
(``MAX_STRING``), output comes in pages of at most ``PAGE`` characters. Every string
passes through the project's display sanitiser (:func:`cfsession.text.sanitize`), so no
recorded escape sequence, OSC 52 or C1 control reaches the agent's terminal or context.
Problems raise :class:`cfsession.errors.CfsessionError` with the CLI's message.
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path
from typing import Any, Protocol

from cfsession.errors import SessionNotFound, UsageError
from cfsession.text import sanitize

PAGE = 64 * 1024  # characters of output per get_output call
MAX_LIMIT = 200
MAX_STRING = 4096  # any other string (a command line, a snippet) in a listing
HEAD = 2048  # output shown by get_command
MAX_MATCHES = 200
MAX_MATCH_LINE = 512


class Store(Protocol):
    """The tools' contract; a remote (PostgreSQL) store implements the same."""

    def list_sessions(self, since: str | None, failed: bool, cwd: str | None,
                      actor: str | None, limit: int) -> dict[str, Any]: ...

    def search(self, query: str, failed: bool, cwd: str | None, session: str | None,
               actor: str | None, limit: int) -> dict[str, Any]: ...

    def get_session(self, session: str, offset: int, limit: int) -> dict[str, Any]: ...

    def get_command(self, session: str, seq: int) -> dict[str, Any]: ...

    def get_output(self, session: str, seq: int, offset: int, length: int,
                   grep: str | None) -> dict[str, Any]: ...

    def diff_output(self, a: str, b: str | None) -> dict[str, Any]: ...

    def verify_session(self, session: str) -> dict[str, Any]: ...

    def stats(self, since: str | None, actor: str | None) -> dict[str, Any]: ...


def visible(obj: dict[str, Any], limit: int = MAX_STRING) -> dict[str, Any]:
    """``obj`` with every string sanitised and cut at ``limit`` characters."""
    return {k: _visible(v, limit) for k, v in obj.items()}


def _visible(obj: Any, limit: int) -> Any:
    if isinstance(obj, str):
        text = sanitize(obj)
        return text if len(text) <= limit else text[:limit] + f"… [{len(text) - limit} more characters]"
    if isinstance(obj, dict):
        return {k: _visible(v, limit) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_visible(v, limit) for v in obj]
    return obj


def clamp(value: int, default: int = 20) -> int:
    """A listing's ``limit``: the default for none, at most ``MAX_LIMIT``."""
    if value is None or value <= 0:
        return default
    return min(int(value), MAX_LIMIT)


class LocalStore:
    """The tools over a store on this machine (``home``: default the user's)."""

    def __init__(self, home: Path | None = None) -> None:
        self.home = home
        # Sanitised outputs by (session, seq): paging a 10 MB output reads it once.
        self._outputs: OrderedDict[tuple[str, int], tuple[str, list[int], str]] = OrderedDict()

    # -- listings ---------------------------------------------------------------------------
    def list_sessions(self, since: str | None = None, failed: bool = False, cwd: str | None = None,
                      actor: str | None = None, limit: int = 20) -> dict[str, Any]:
        from cfsession import api

        n = clamp(limit)
        rows = api.list_sessions(limit=n + 1, since=since, failed=failed, actor=actor,
                                 cwd=cwd, home=self.home)
        return visible({"sessions": [r.to_dict() for r in rows[:n]], "more": len(rows) > n})

    def search(self, query: str, failed: bool = False, cwd: str | None = None,
               session: str | None = None, actor: str | None = None,
               limit: int = 20) -> dict[str, Any]:
        from cfsession import api

        n = clamp(limit)
        hits = api.search(query, session=session, failed=failed, cwd=cwd, limit=n + 1,
                          actor=actor, home=self.home)
        return visible({"query": query, "hits": [h.to_dict() for h in hits[:n]],
                        "more": len(hits) > n})

    def stats(self, since: str | None = None, actor: str | None = None) -> dict[str, Any]:
        from cfsession import api

        return visible(api.stats(since=since, actor=actor, home=self.home).to_dict())

    # -- one session, one command ---------------------------------------------------------------
    def get_session(self, session: str, offset: int = 0, limit: int = MAX_LIMIT) -> dict[str, Any]:
        from cfsession import api

        return session_page(api.get_session(session, home=self.home), offset, limit)

    def get_command(self, session: str, seq: int) -> dict[str, Any]:
        rec = self._record(session, seq)
        output = sanitize(str(rec.get("output") or ""))
        out = _summary(rec)
        out.update(
            session_id=rec.get("session_id"), cwd_end=rec.get("cwd_end"),
            command_source=rec.get("command_source"), pipestatus=rec.get("pipestatus"),
            ended_at=rec.get("ended_at"), anomalies=rec.get("anomalies"),
            redactions=rec.get("redactions"), output_chars=len(output),
            output_head=output[:HEAD], output_more=len(output) > HEAD,
            hint="get_output pages the whole output" if len(output) > HEAD else None,
        )
        return visible(out, limit=HEAD + 64)

    def get_output(self, session: str, seq: int, offset: int = 0, length: int = PAGE,
                   grep: str | None = None) -> dict[str, Any]:
        rec_sid, text, starts, source = self._output(session, seq)
        base = {"session_id": rec_sid, "seq": seq, "total_chars": len(text),
                "total_lines": len(starts), "source": source}
        if grep:
            return visible(base | _grep(text, starts, grep, max(0, int(offset or 0))))
        # Already sanitised; visible() again is cheap and keeps one rule for every answer.
        return visible(base | _page(text, starts, max(0, int(offset or 0)),
                                    max(1, min(int(length or PAGE), PAGE))), limit=PAGE)

    def diff_output(self, a: str, b: str | None = None) -> dict[str, Any]:
        from cfsession.diff import diff_outputs

        return visible(diff_outputs(a, b or None, home=self.home).to_dict(), limit=PAGE + 1024)

    def verify_session(self, session: str) -> dict[str, Any]:
        from cfsession.verify import recorder_alive, verify_session

        return visible(verify_session(self._path(session), alive=recorder_alive).to_dict())

    # -- helpers ------------------------------------------------------------------------------------
    def _path(self, session: str) -> Path:
        from cfsession import api, paths

        with api.open_index(self.home) as ix:
            sid = api.resolve_session_id(session, index=ix)
            row = ix.session(sid)
        root = self.home or paths.home()
        return paths.sessions_dir(root) / (row["file"] if row else f"{sid}.jsonl")

    def _record(self, session: str, seq: int) -> dict[str, Any]:
        """The command's ``terminal_capture`` line, from the JSONL file (the source of truth)."""
        from cfsession import api

        loaded = api.load(session, home=self.home)
        for rec in loaded.commands:
            if rec.get("command_seq") == seq:
                return dict(rec)
        raise SessionNotFound(f"command {seq} not found in session {loaded.session_id}",
                              f"run `cfsession show {loaded.session_id[:8]}` to see its commands")

    def _output(self, session: str, seq: int) -> tuple[str, str, list[int], str]:
        """(session id, sanitised output, line starts, source) of one command, cached.

        The record keeps the head and tail of a long output (``output_cap``); the .cast
        keeps all of it (redacted the same way), so a truncated output is read from there.
        """
        from cfsession import api

        with api.open_index(self.home) as ix:
            sid = api.resolve_session_id(session, index=ix)
        hit = self._outputs.get((sid, seq))
        if hit is not None:
            self._outputs.move_to_end((sid, seq))
            return sid, *hit
        rec = self._record(sid, seq)
        text, source = str(rec.get("output") or ""), "record"
        if rec.get("output_truncated"):
            whole = _from_cast(self._path(sid).with_suffix(".cast"), rec)
            if whole is not None:
                text, source = whole, "cast"
        text = sanitize(text)
        starts = [0]
        i = text.find("\n")
        while i != -1:
            starts.append(i + 1)
            i = text.find("\n", i + 1)
        self._outputs[(sid, seq)] = (text, starts, source)
        while len(self._outputs) > 4:
            self._outputs.popitem(last=False)
        return sid, text, starts, source


def session_page(detail: Any, offset: int, limit: int) -> dict[str, Any]:
    """``get_session``'s answer from a :class:`cfsession.api_records.SessionDetail`."""
    start, n = max(0, int(offset or 0)), clamp(limit, MAX_LIMIT)
    commands = [_summary(c) for c in detail.commands[start:start + n]]
    more = start + n < len(detail.commands)
    return visible({"session": detail.session.to_dict(), "commands": commands,
                    "commands_total": len(detail.commands),
                    "next_offset": start + n if more else None})


def _from_cast(path: Path, rec: dict[str, Any]) -> str | None:
    """The command's whole output from the session's .cast (None when it cannot be had)."""
    from cfsession.export import cast_lost
    from cfsession.replay import command_span
    from cfsession.store import as_float, read_cast
    from cfsession.text import render_plain

    start, end = as_float(rec.get("cast_start")), as_float(rec.get("cast_end"))
    if start is None or cast_lost(path):  # an emptied .cast holds less than the record
        return None
    try:
        frames = read_cast(path)[1]
    except OSError:
        return None
    return render_plain("".join(d for _, code, d in command_span(frames, start, end) if code == "o"))


def _summary(rec: Any) -> dict[str, Any]:
    return {
        "seq": rec.get("command_seq"), "command": rec.get("command"),
        "exit_code": rec.get("exit_code"), "status_kind": rec.get("status_kind"),
        "cwd": rec.get("cwd"), "started_at": rec.get("started_at"),
        "duration_ms": rec.get("duration_ms"), "actor": rec.get("actor"),
        "output_length": rec.get("output_length"), "output_truncated": rec.get("output_truncated"),
    }


def _line_of(starts: list[int], offset: int) -> int:
    import bisect

    return bisect.bisect_right(starts, offset)  # 1-based


def _page(text: str, starts: list[int], offset: int, length: int) -> dict[str, Any]:
    """Up to ``length`` characters from ``offset``, ending at a line end when one is in reach."""
    if offset > len(text):
        raise UsageError(f"offset {offset} is past the end ({len(text)} characters)",
                         "start again from offset 0")
    end = min(len(text), offset + length)
    if end < len(text):
        cut = text.rfind("\n", offset, end)
        if cut >= offset:
            end = cut + 1
    chunk = text[offset:end]
    return {"offset": offset, "length": len(chunk), "first_line": _line_of(starts, offset),
            "last_line": _line_of(starts, max(offset, end - 1)),
            "next_offset": end if end < len(text) else None, "text": chunk}


def _grep(text: str, starts: list[int], pattern: str, skip: int) -> dict[str, Any]:
    """Lines matching ``pattern`` (RE2 syntax: linear time on any output); ``skip`` matches."""
    import re2

    try:
        rx = re2.compile(pattern)
    except Exception as exc:
        raise UsageError(f"cannot read the pattern {pattern!r}: {exc}",
                         "use a regular expression such as 'error|failed'") from None
    matches: list[dict[str, Any]] = []
    total = 0
    size = 0
    next_skip: int | None = None
    for n, start in enumerate(starts, 1):
        end = starts[n] - 1 if n < len(starts) else len(text)
        line = text[start:end]
        if rx.search(line) is None:
            continue
        total += 1
        if total <= skip or next_skip is not None:
            continue
        shown = line if len(line) <= MAX_MATCH_LINE else line[:MAX_MATCH_LINE] + "…"
        if len(matches) >= MAX_MATCHES or size + len(shown) > PAGE:
            next_skip = total - 1
            continue
        matches.append({"line": n, "text": shown})
        size += len(shown) + 16
    return {"grep": pattern, "total_matches": total, "offset": skip, "matches": matches,
            "next_offset": next_skip}
