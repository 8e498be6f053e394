"""The ``stats`` tool over the fleet server: :class:`cfsession.stats.Stats` from SQL.

The same aggregates as the local index's (:mod:`cfsession.stats`), over what the login
may read. The program of a command line is found in SQL the way
:func:`cfsession.store.program_of` finds it (leading ``NAME=value`` words skipped, the
first word's base name); days are the local machine's calendar days.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from cfsession.stats import DAYS, DayActivity, SlowCommand, Stats, assemble

# Who may count: the actor is a session's; "agent" means any agent:NAME.
_WHO = ("(%(actor)s::text IS NULL OR s.actor = %(actor)s"
        " OR (%(actor)s = 'agent' AND s.actor LIKE 'agent:%%'))")
_CMDS = ("FROM cfsession.commands c JOIN cfsession.sessions s ON s.session_guid = c.session_guid"
         " WHERE (%(since)s::timestamptz IS NULL OR c.started_at >= %(since)s) AND " + _WHO)
_PROGRAM = (r"regexp_replace((regexp_match(c.command, '^\s*(?:[A-Za-z_][A-Za-z0-9_]*=\S*\s+)*(\S+)'))[1],"
            r" '^.*/(?=.)', '')")


def remote_stats(conn: Any, since: str | None, actor: str | None, top: int = 10) -> Stats:
    """Stats of the commands (and sessions) on the server started at or after ``since``."""
    from cfsession.fleet.api import _since, _ts

    when = _since(since)
    # the machine's UTC offset now, so a day is the reader's day (as `cfsession stats`)
    offset = datetime.now().astimezone().utcoffset() or timedelta(0)
    p = {"since": when, "actor": actor, "top": top, "off": offset}
    q = conn.execute
    sessions = q("SELECT count(*), coalesce(sum(s.duration_ms), 0) FROM cfsession.sessions s"
                 " WHERE (%(since)s::timestamptz IS NULL OR s.started_at >= %(since)s) AND " + _WHO,
                 p).fetchone()
    totals = q("SELECT count(*), count(*) FILTER (WHERE coalesce(c.exit_code, 0) <> 0) " + _CMDS,
               p).fetchone()
    slowest = q("SELECT c.session_guid::text, c.command_seq, c.command, c.duration_ms, c.exit_code,"
                " c.started_at " + _CMDS + " AND c.duration_ms IS NOT NULL"
                " ORDER BY c.duration_ms DESC LIMIT %(top)s", p).fetchall()
    programs = q(f"SELECT {_PROGRAM} AS program, count(*),"
                 " count(*) FILTER (WHERE coalesce(c.exit_code, 0) <> 0) " + _CMDS +
                 " AND c.command ~ '\\S' GROUP BY 1", p).fetchall()
    days = q("SELECT to_char(c.started_at AT TIME ZONE 'UTC' + %(off)s::interval, 'YYYY-MM-DD') AS day,"
             " count(*), count(*) FILTER (WHERE coalesce(c.exit_code, 0) <> 0) " + _CMDS +
             f" GROUP BY day ORDER BY day DESC LIMIT {DAYS}", p).fetchall()
    return assemble(
        since=_ts(when),
        sessions=int(sessions[0]),
        ms=float(sessions[1]),
        commands=int(totals[0]),
        failed=int(totals[1]),
        slowest=[SlowCommand(str(r[0]), int(r[1] or 0), r[2], float(r[3]), r[4], _ts(r[5]))
                 for r in slowest],
        programs=[(str(r[0]), int(r[1]), int(r[2])) for r in programs if r[0]],
        days_newest_first=[DayActivity(str(d[0]), int(d[1]), int(d[2])) for d in days],
        top=top,
    )
