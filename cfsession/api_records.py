"""The typed records :mod:`cfsession.api` returns; each ``to_dict()`` is what ``--json`` prints."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, TypedDict

__all__ = ["CommandInfo", "CommandRecord", "GapInfo", "HistoryEntry", "SearchHit", "SessionDetail",
           "SessionHeader", "SessionInfo"]


class CommandRecord(TypedDict, total=False):
    """One ``terminal_capture`` line as recorded (DESIGN.md §3.1), every field kept."""

    event_type: str
    session_id: str
    seq: int  # line number in the JSONL file
    ts: str
    correlation_id: str
    command_seq: int  # the command's number in its session ("seq" in show/search)
    command: str | None
    command_source: str
    cwd: str | None
    cwd_end: str | None
    exit_code: int | None
    status_kind: str
    pipestatus: list[int] | None
    started_at: str
    ended_at: str
    duration_ms: float
    output: str
    output_length: int
    output_truncated: bool
    alt_screen: bool
    cast_start: float
    cast_end: float
    redactions: int
    anomalies: list[str]
    cast_sha256: str
    cast_bytes: int
    stderr: str  # record -- CMD on pipes: stderr's text alone (output has both)
    stderr_length: int
    prev_hash: str
    hash: str


def _flat(record: Any) -> dict[str, Any]:
    """Fields of a flat record in order (``asdict`` deep-copies: 20x slower on 10,000 rows)."""
    return {name: getattr(record, name) for name in record.__dataclass_fields__ if name != "record"}


class _Recorded:
    """``rec["field"]`` / ``rec.get("field")``: every field as recorded, also those the
    typed attributes do not name (the JSONL grows; the attributes stay stable)."""

    record: dict[str, Any]

    def __getitem__(self, key: str) -> Any:
        return self.record[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self.record.get(key, default)

    def __contains__(self, key: object) -> bool:
        return key in self.record


@dataclass(slots=True)  # not frozen: a frozen __init__ costs 9x more, felt on 10,000 rows
class SessionInfo:
    """One row of ``cfsession list``."""

    session_id: str
    name: str | None
    started_at: str | None
    ended_at: str | None
    duration_ms: float | None
    command_count: int
    failed_count: int
    shell: str | None
    host: str | None
    user: str | None
    cwd: str | None
    parent_session_id: str | None
    correlation_id: str | None
    session_type: str | None
    exit_code: int | None
    status: str  # complete / incomplete (recorder died) / recording (recorder still runs)
    actor: str | None = None  # human, agent:<name>, … (None: recorded before actors)

    def to_dict(self) -> dict[str, Any]:
        return _flat(self)


@dataclass(slots=True)
class SessionHeader(SessionInfo, _Recorded):
    """``get_session(…).session``: a :class:`SessionInfo` and what only ``show`` tells —
    nested sessions, the integration status, the end's reason; ``record`` (and ``[key]``)
    holds every field of ``session_start`` plus the summary, as ``show --json`` prints it."""

    children: list[str] = field(default_factory=list)
    integration: str | None = None
    reason: str | None = None
    record: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_record(cls, rec: dict[str, Any]) -> SessionHeader:
        def g(key: str) -> Any:
            return rec.get(key)

        return cls(g("session_id"), g("name"), g("started_at"), g("ended_at"), g("duration_ms"),
                   int(g("command_count") or 0), int(g("failed_count") or 0), g("shell"), g("host"),
                   g("user"), g("cwd"), g("parent_session_id"), g("correlation_id"),
                   g("session_type"), g("exit_code"), str(g("status") or ""), actor=g("actor"),
                   children=list(g("children") or []), integration=g("integration"),
                   reason=g("reason"), record=rec)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.record)


@dataclass(frozen=True)
class GapInfo:
    """A pause in capture (pause key, ``cfsession pause``): nothing was recorded from
    ``paused_at`` to ``resumed_at`` (None: the session ended paused)."""

    paused_at: str | None
    resumed_at: str | None
    paused_ms: float | None
    skipped_commands: int | None
    after_command: int  # the seq of the last command recorded before it (0: none)

    def to_dict(self) -> dict[str, Any]:
        return _flat(self)


@dataclass(frozen=True)
class CommandInfo(_Recorded):
    """One command: from ``iter_commands`` (the index) or ``get_session`` (the JSONL file,
    then ``record`` / ``[key]`` holds every recorded field: anomalies, stderr, …)."""

    session_id: str
    seq: int
    command: str | None
    exit_code: int | None
    status_kind: str | None
    cwd: str | None
    started_at: str | None
    ended_at: str | None
    duration_ms: float | None
    output: str | None
    actor: str | None = None  # who ran it: human, agent:<name>, … (None: before actors)
    record: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_record(cls, rec: dict[str, Any]) -> CommandInfo:
        g = rec.get
        return cls(g("session_id"), g("command_seq"), g("command"), g("exit_code"),  # type: ignore[arg-type]
                   g("status_kind"), g("cwd"), g("started_at"), g("ended_at"), g("duration_ms"),
                   g("output"), g("actor"), rec)

    def to_dict(self) -> dict[str, Any]:
        return _flat(self)


@dataclass(frozen=True)
class SessionDetail:
    """``cfsession show --json``: the session's header and summary, every command, and
    the pauses in capture."""

    session: SessionHeader
    commands: list[CommandInfo]
    gaps: list[GapInfo] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"session": self.session.to_dict(), "commands": [dict(c.record) for c in self.commands],
                "gaps": [g.to_dict() for g in self.gaps]}


@dataclass(frozen=True)
class SearchHit:
    """One row of ``cfsession search --json``; ``snippet`` marks matches as ``**word**``."""

    session_id: str
    seq: int
    command: str | None
    exit_code: int | None
    started_at: str | None
    snippet: str
    actor: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return _flat(self)


@dataclass(frozen=True)
class HistoryEntry:
    """One recorded event for an agent: when, what kind, which correlation id, and its data."""

    timestamp: str | None
    event_type: str
    correlation_id: str | None
    session_id: str
    data: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return _flat(self)
