"""``cfsession stats``: totals, slowest and most-used commands, failure rates, activity per day.

Aggregates come from the index (SQL over the commands table); this module shapes them
into typed records and offers the text bar the CLI draws its small charts with.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any

from cfsession.actor import sql_filter
from cfsession.index import Index


@dataclass(frozen=True)
class SlowCommand:
    session_id: str
    seq: int
    command: str | None
    duration_ms: float
    exit_code: int | None
    started_at: str | None


@dataclass(frozen=True)
class ProgramUse:
    program: str  # first word of the command line, e.g. ``git``
    count: int
    failed: int
    failure_rate: float


@dataclass(frozen=True)
class DayActivity:
    day: str  # local date, YYYY-MM-DD
    commands: int
    failed: int


@dataclass(frozen=True)
class Stats:
    """``cfsession stats --json``."""

    since: str | None
    session_count: int
    command_count: int
    failed_count: int
    failure_rate: float
    time_recorded_ms: float
    average_session_ms: float | None
    slowest: list[SlowCommand] = field(default_factory=list)
    most_used: list[ProgramUse] = field(default_factory=list)
    failure_rate_by_command: list[ProgramUse] = field(default_factory=list)
    by_day: list[DayActivity] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


DAYS = 14


def _aggregates(index: Index, since: float | None, top: int,
                actor: str | None = None) -> dict[str, Any]:
    conds: list[str] = ["1"]
    args: list[Any] = []
    # The actor filter alone, for the activity chart's own window.
    who, who_p = "", tuple[str, ...]()
    if since is not None:
        conds.append("start_epoch >= ?")
        args.append(since)
    if actor is not None:
        clause, more = sql_filter("actor", actor)
        conds.append(clause)
        args += more
        who, who_p = " AND " + clause, tuple(more)
    cond, p = " AND ".join(conds), tuple(args)
    q = index.query
    # Per-day activity only for the last DAYS days that have commands: an index range,
    # not a date() over a million rows.
    last = q("SELECT max(start_epoch) AS t FROM commands").fetchone()["t"] or 0.0
    day_from = max(since or 0.0, last - (DAYS + 1) * 86400)
    totals = (
        q("SELECT count(*) AS n, coalesce(sum(failed), 0) AS failed FROM commands"
          f" WHERE {cond}", p).fetchone()
        if since is not None or actor is not None  # all time: the per-session counts sum it up
        else q("SELECT coalesce(sum(command_count), 0) AS n, coalesce(sum(failed_count), 0)"
               " AS failed FROM sessions").fetchone()
    )
    return {
        "sessions": q("SELECT count(*) AS n, coalesce(sum(duration_ms), 0) AS ms"
                      f" FROM sessions WHERE {cond}", p).fetchone(),
        "totals": totals,
        # Walks the duration index from the top: cheap even over a million commands.
        "slowest": q("SELECT session_id, seq, command, duration_ms, exit_code, started_at"
                     f" FROM commands WHERE {cond} AND duration_ms IS NOT NULL"
                     " ORDER BY duration_ms DESC LIMIT ?", (*p, top)).fetchall(),
        "programs": q("SELECT program, count(*) AS n, sum(failed) AS failed FROM commands"
                      f" WHERE {cond} AND program IS NOT NULL GROUP BY program", p).fetchall(),
        "days": q("SELECT date(start_epoch, 'unixepoch', 'localtime') AS day, count(*) AS n,"
                  f" sum(failed) AS failed FROM commands WHERE start_epoch >= ?{who}"
                  f" GROUP BY day ORDER BY day DESC LIMIT {DAYS}", (day_from, *who_p)).fetchall(),
    }


def compute(index: Index, since: float | None = None, top: int = 10,
            actor: str | None = None) -> Stats:
    """Stats of the commands (and sessions) started at or after ``since`` (by ``actor``)."""
    raw = _aggregates(index, since, top, actor)
    return assemble(
        since=None if since is None else _iso(since),
        sessions=int(raw["sessions"]["n"]),
        ms=float(raw["sessions"]["ms"]),
        commands=int(raw["totals"]["n"]),
        failed=int(raw["totals"]["failed"]),
        slowest=[
            SlowCommand(r["session_id"], r["seq"], r["command"], r["duration_ms"], r["exit_code"],
                        r["started_at"])
            for r in raw["slowest"]
        ],
        programs=[(p["program"], int(p["n"]), int(p["failed"])) for p in raw["programs"]],
        days_newest_first=[DayActivity(d["day"], int(d["n"]), int(d["failed"])) for d in raw["days"]],
        top=top,
    )


def assemble(*, since: str | None, sessions: int, ms: float, commands: int, failed: int,
             slowest: list[SlowCommand], programs: list[tuple[str, int, int]],
             days_newest_first: list[DayActivity], top: int) -> Stats:
    """:class:`Stats` from the aggregates, by one set of rules for the local index and the
    fleet server: rates rounded to 4 places, times to the microsecond, the orders below."""
    uses = [ProgramUse(name, n, bad, round(bad / n, 4)) for name, n, bad in programs]
    return Stats(
        since=since,
        session_count=sessions,
        command_count=commands,
        failed_count=failed,
        failure_rate=round(failed / commands, 4) if commands else 0.0,
        time_recorded_ms=round(ms, 3),
        average_session_ms=round(ms / sessions, 3) if sessions else None,
        slowest=slowest,
        most_used=sorted(uses, key=lambda u: (-u.count, u.program))[:top],
        # Rate first, but only programs that failed at all; ties go to the more frequent.
        failure_rate_by_command=sorted(
            (u for u in uses if u.failed), key=lambda u: (-u.failure_rate, -u.count, u.program)
        )[:top],
        by_day=list(reversed(days_newest_first)),
    )


BLOCKS = " ▏▎▍▌▋▊▉█"


def bar(value: float, maximum: float, width: int = 20) -> str:
    """A horizontal bar of ``width`` cells in eighths, ``value`` out of ``maximum``."""
    if maximum <= 0 or value <= 0:
        return ""
    eighths = max(1, round(min(value, maximum) / maximum * width * 8))
    full, part = divmod(eighths, 8)
    return "█" * full + (BLOCKS[part] if part else "")


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
