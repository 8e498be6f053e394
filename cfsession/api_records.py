"""The typed records :mod:`cfsession.api` returns; each ``to_dict()`` is what ``--json`` prints."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypedDict

__all__ = ["CommandInfo", "CommandRecord", "HistoryEntry", "SearchHit", "SessionDetail", "SessionInfo"]


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
    prev_hash: str
    hash: str


def _flat(record: Any) -> dict[str, Any]:
    """Fields of a flat record in order (``asdict`` deep-copies: 20x slower on 10,000 rows)."""
    return {name: getattr(record, name) for name in record.__dataclass_fields__}


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


@dataclass(frozen=True)
class SessionDetail:
    """``cfsession show --json``: the session's header and summary, and every command."""

    session: dict[str, Any]
    commands: list[CommandRecord]

    def to_dict(self) -> dict[str, Any]:
        return {"session": dict(self.session), "commands": [dict(c) for c in self.commands]}


@dataclass(frozen=True)
class CommandInfo:
    """One command from the index (``iter_commands``)."""

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
    actor: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return _flat(self)


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
