"""Schema 4's ingest_lines(): one parse per line, the same server-side decisions as ingest(),
and an upgrade from version 2 in the middle of a session."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.fleet.conftest import SHIPPER
from tests.sessions_factory import Cmd, make_session

pytestmark = pytest.mark.slow

CALL = ("SELECT cfsession.ingest_lines(%b::text[], %b::text[], %b::text[], %b::integer[], %b::text[],"
        " %b::text[], %b::text[])")


def _session(commands: int, started: str = "2024-05-01T12:00:00.000000Z") -> list[dict[str, Any]]:
    """A sealed session: session_start, ``commands`` commands, session_end."""
    from cfsession.integrity import GENESIS, seal

    sid = str(uuid.uuid4())
    recs: list[dict[str, Any]] = [{"event_type": "session_start", "host": f"il-{uuid.uuid4().hex[:8]}",
                                   "ts": started, "started_at": started}]
    recs += [{"event_type": "terminal_capture", "command": f"echo {i}", "output": f"{i}\n",
              "started_at": started, "ended_at": started, "exit_code": i % 2} for i in range(commands)]
    recs.append({"event_type": "session_end", "ts": started, "ended_at": started, "exit_code": 0})
    prev = GENESIS
    for seq, rec in enumerate(recs, start=1):
        rec["session_id"], rec["seq"] = sid, seq
        prev = seal(rec, prev)["hash"]
    return recs


def _args(recs: list[dict[str, Any]], started: list[str] | None = None,
          seqs: list[int] | None = None) -> tuple[Any, ...]:
    from cfsession.integrity import canonical

    return ([canonical(r).decode() for r in recs], [r["hash"] for r in recs],
            [r["session_id"] for r in recs], seqs or [r["seq"] for r in recs],
            [r["prev_hash"] for r in recs], [r["event_type"] for r in recs],
            started or [r["started_at"] if "command" in r else "" for r in recs])


def _ingest(pg: Any, recs: list[dict[str, Any]], **kw: Any) -> int:
    from cfsession.fleet import config

    with config.connect(pg.url(SHIPPER)) as conn, conn.transaction():
        return int(conn.execute(CALL, _args(recs, **kw)).fetchone()[0])


def _held(admin: Any, sid: str) -> tuple[int, int, int]:
    """(command rows, event rows, last_seq) the server holds for a session (0s if none)."""
    c = admin.execute("SELECT count(*) FROM cfsession.commands WHERE session_guid = %s", (sid,)).fetchone()[0]
    e = admin.execute("SELECT count(*) FROM cfsession.events WHERE session_guid = %s", (sid,)).fetchone()[0]
    s = admin.execute("SELECT last_seq FROM cfsession.sessions WHERE session_guid = %s", (sid,)).fetchone()
    return int(c), int(e), int(s[0]) if s else 0


def test_a_batch_is_stored_once_and_summarised(pg: Any, admin: Any) -> None:
    recs = _session(5)
    assert _ingest(pg, recs[:4]) == 4
    assert _ingest(pg, recs) == 3  # resent lines skipped, the rest stored
    assert _ingest(pg, recs) == 0
    sid = recs[0]["session_id"]
    assert _held(admin, sid) == (5, 2, 7)
    row = admin.execute("SELECT command_count, failed_count, complete, last_hash FROM cfsession.sessions"
                        " WHERE session_guid = %s", (sid,)).fetchone()
    assert row == (5, 2, True, recs[-1]["hash"])


def _reseal(recs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    from cfsession.integrity import GENESIS, seal

    prev = GENESIS
    for seq, rec in enumerate(recs, start=1):
        rec["seq"] = seq
        prev = seal(rec, prev)["hash"]
    return recs


@pytest.mark.parametrize("damage, state, message", [
    ("edit", "CF001", "line 3: its hash does not match its content"),
    ("rehash", "CF002", "line 4: it does not link to line 3"),
    ("swap", "CF002", "line 3: it does not link to line 2"),
    ("renumbered", "CF002", "line 3: the line says it is session"),
    ("after_end", "CF002", "line 3: the session already ended at line 2"),
    ("second_start", "CF002", "line 2: it does not link to line 1"),
])
def test_the_server_refuses_a_bad_batch_and_keeps_nothing_of_it(
        pg: Any, admin: Any, damage: str, state: str, message: str) -> None:
    import psycopg

    from cfsession.integrity import seal

    recs = _session(4)
    seqs = None
    if damage == "edit":
        recs[2]["output"] = "nothing to see"  # hash kept: the line no longer matches it
    elif damage == "rehash":
        recs[2]["command"] = "echo innocent"
        seal(recs[2], recs[2]["prev_hash"])  # a forger who rehashes: the next line does not link
    elif damage == "swap":
        recs = recs[:2] + [recs[3], recs[2]] + recs[4:]  # sent as lines 1, 2, 3, 4, … in order
        seqs = list(range(1, len(recs) + 1))
    elif damage == "renumbered":  # a consistent chain whose line 3 says it is line 9
        recs[2]["seq"] = 9
        for i in range(2, len(recs)):
            seal(recs[i], recs[i - 1]["hash"])
        seqs = list(range(1, len(recs) + 1))
    elif damage == "after_end":
        recs = _reseal(recs[:1] + recs[-1:] + recs[1:3])  # a command after session_end
    elif damage == "second_start":
        recs[1] = seal(dict(recs[0], seq=2), recs[0]["hash"])
    with pytest.raises(psycopg.Error) as err:
        _ingest(pg, recs, seqs=seqs)
    assert err.value.sqlstate == state
    assert f"session {recs[0]['session_id']} " + message in str(err.value)
    assert _held(admin, recs[0]["session_id"]) == (0, 0, 0)


def test_a_month_across_a_utc_offset_is_still_made(pg: Any, admin: Any) -> None:
    recs = _session(2, started="2031-03-31T10:00:00Z")
    recs[2]["started_at"] = "2031-03-31T23:30:00-02:00"  # the same day's text, April in UTC
    _reseal(recs)
    assert admin.execute("SELECT to_regclass('cfsession.commands_y2031m04')").fetchone()[0] is None
    assert _ingest(pg, recs) == 4
    assert _held(admin, recs[0]["session_id"]) == (2, 2, 4)
    months = admin.execute("SELECT DISTINCT tableoid::regclass::text FROM cfsession.commands"
                           " WHERE session_guid = %s ORDER BY 1", (recs[0]["session_id"],)).fetchall()
    assert months == [("cfsession.commands_y2031m03",), ("cfsession.commands_y2031m04",)]


def test_a_start_not_what_the_line_says_is_refused_and_makes_no_month(pg: Any, admin: Any) -> None:
    import psycopg

    recs = _session(2, started="2032-06-01T10:00:00Z")
    started = ["", "2032-06-01T10:00:00Z", "2037-01-01T00:00:00Z", ""]  # line 3's is not its own
    with pytest.raises(psycopg.Error) as err:
        _ingest(pg, recs, started=started)
    assert err.value.sqlstate == "CF002"
    assert f"session {recs[0]['session_id']} line 3: its prev_hash, event_type or start" in str(err.value)
    assert _held(admin, recs[0]["session_id"]) == (0, 0, 0)
    assert admin.execute("SELECT to_regclass('cfsession.commands_y2037m01')").fetchone()[0] is None


def test_ship_across_an_upgrade_from_version_2(pg: Any, admin: Any, tmp_path: Path) -> None:
    """A version-2 server gets COPY + ingest(); after `admin migrate` the same session goes on
    through ingest_lines(), and the chain the server holds is one."""
    from cfsession.fleet import config, schema, shipper

    db = f"cfs_up_{uuid.uuid4().hex[:6]}"
    admin.execute(f"CREATE DATABASE {db}")
    try:
        with config.connect(pg.url(db=db), autocommit=True) as conn:
            assert schema.migrate(conn, upto=2)[:2] == (0, 2)
        home = tmp_path / "home"
        sid = make_session(home, [Cmd(f"echo {i}", f"out {i}\n") for i in range(30)], host=f"up-{uuid.uuid4().hex[:6]}")
        path = home / "sessions" / f"{sid}.jsonl"
        whole = path.read_bytes()
        lines = whole.splitlines(keepends=True)
        path.write_bytes(b"".join(lines[:12]))  # the session so far

        url = pg.url(SHIPPER, db=db)
        old = shipper.Shipper(url, home=home, batch=5)
        try:
            old.run_once()
            assert old._lines_api is False and old.report.lines == 12
        finally:
            old.close()

        with config.connect(pg.url(db=db), autocommit=True) as conn:
            before, after, applied = schema.migrate(conn)
            assert (before, after) == (2, schema.migrations()[-1][0])
            assert "004_ingest_lines.sql" in applied
        path.write_bytes(whole)  # the rest of the session
        new = shipper.Shipper(url, home=home, batch=7)
        try:
            new.run_once()
            assert new._lines_api is True and new.report.lines == len(lines) - 12
        finally:
            new.close()

        remote = pg.url(db=db)
        with config.connect(remote, autocommit=True) as conn:
            n = conn.execute("SELECT count(*) FROM cfsession.commands WHERE session_guid = %s", (sid,)).fetchone()
            assert n == (30,)
        from cfsession.fleet import api

        got = api.verify(sid, url=remote)
        assert got.status == "intact", got
    finally:
        admin.execute(f"DROP DATABASE {db} WITH (FORCE)")


def test_the_shipper_role_may_not_call_the_parts_of_ingest_lines(pg: Any) -> None:
    import psycopg

    from cfsession.fleet import config

    with config.connect(pg.url(SHIPPER), autocommit=True) as conn:
        for sql in ("SELECT cfsession.ingest_check(NULL, NULL, NULL, NULL, NULL)",
                    "SELECT cfsession.ingest_refuse(NULL, NULL, NULL, NULL, NULL)"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege, match="permission denied"):
                conn.execute(sql)


def test_a_shipped_line_reads_back_as_sent(pg: Any, admin: Any) -> None:
    recs = _session(1)
    recs[1]["output"] = "tab\there, quote \" backslash \\ and ünïcödé\n"
    _reseal(recs)
    from cfsession.integrity import canonical

    assert _ingest(pg, recs) == 3
    row = admin.execute("SELECT output, line FROM cfsession.commands WHERE session_guid = %s",
                        (recs[0]["session_id"],)).fetchone()
    assert row[0] == recs[1]["output"]
    assert row[1] == canonical(recs[1]).decode()
    assert json.loads(row[1])["output"] == recs[1]["output"]
