"""Shipping to a real PostgreSQL: exactly once through crashes and restarts, chains checked
by the server, and what a shipper login may not do."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.fleet.conftest import SHIPPER, SHIPPER_B
from tests.sessions_factory import Cmd, make_session

pytestmark = pytest.mark.slow


def _store(home: Path, host: str, sessions: int, commands: int) -> list[str]:
    return [
        make_session(home, [Cmd(f"echo {s}-{i}", f"line {i} of session {s}\nsecond line")
                            for i in range(commands)], host=host, started=1714564800.0 + s * 86400 * 20)
        for s in range(sessions)
    ]


def _host() -> str:
    return f"web-{uuid.uuid4().hex[:8]}"


def _cfs(home: Path, *args: str, env: dict[str, str] | None = None,
         check: bool = False, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    e = {**os.environ, "CFSESSION_HOME": str(home), **(env or {})}
    p = subprocess.run([sys.executable, "-m", "cfsession", *args], env=e, capture_output=True,
                       text=True, timeout=timeout)
    if check:
        assert p.returncode == 0, p.stderr
    return p


def _counts(pg: Any, ids: list[str]) -> tuple[int, int, int]:
    """(command rows, distinct (session, seq), lines in total) the server holds for ids."""
    from cfsession.fleet import config

    with config.connect(pg.url(), autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*), count(DISTINCT (session_guid, seq)) FROM cfsession.commands"
            " WHERE session_guid = ANY(%s::uuid[])", (ids,)).fetchone()
        ev = conn.execute("SELECT count(*) FROM cfsession.events WHERE session_guid = ANY(%s::uuid[])",
                          (ids,)).fetchone()
    return int(row[0]), int(row[1]), int(row[0]) + int(ev[0])


def _start_shipper(home: Path, url: str, *args: str, stall: str) -> subprocess.Popen[str]:
    env = {**os.environ, "CFSESSION_HOME": str(home), "CFSESSION_SHIP_TEST_STALL": stall}
    return subprocess.Popen([sys.executable, "-m", "cfsession", "ship", "--url", url, *args],
                            env=env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)


def _wait_for_hold(proc: subprocess.Popen[str]) -> None:
    assert proc.stderr is not None
    for line in proc.stderr:  # ends when the process does: no sleeping on a guess
        if "test hook: holding batch" in line:
            return
    raise AssertionError(f"the shipper ended (rc {proc.wait()}) before holding a batch")


def test_ship_10000_sigkill_mid_batch_then_restart_is_exactly_once(pg: Any, cf_home: Path) -> None:
    ids = _store(cf_home, _host(), sessions=10, commands=1000)
    proc = _start_shipper(cf_home, pg.url(SHIPPER), "--follow", "--batch", "700", stall="6")
    try:
        _wait_for_hold(proc)
        held = _counts(pg, ids)
        proc.send_signal(signal.SIGKILL)  # COPY sent, ingest not yet called: mid-batch
    finally:
        proc.kill()
        proc.wait(timeout=30)
    assert 0 < held[2] <= 5 * 700, held  # five batches stored, the sixth was in flight
    assert _counts(pg, ids)[2] == held[2]  # the killed batch left nothing behind

    _cfs(cf_home, "ship", "--once", "--url", pg.url(SHIPPER), check=True)
    rows, distinct, lines = _counts(pg, ids)
    assert rows == distinct == 10_000
    assert lines == 10 * 1002  # session_start + 1000 commands + session_end each

    for sid in ids[:2]:
        got = json.loads(_cfs(cf_home, "verify", "--remote", sid, "--json",
                              env={"CFSESSION_REMOTE_URL": pg.url()}, check=True).stdout)
        assert got["sessions"][0]["status"] == "intact"
        assert got["sessions"][0]["cast_checks"] == 1001


def test_crash_after_commit_before_checkpoint_resends_nothing_twice(pg: Any, cf_home: Path) -> None:
    ids = _store(cf_home, _host(), sessions=4, commands=150)
    _cfs(cf_home, "ship", "--once", "--streams", "3", "--url", pg.url(SHIPPER), check=True)
    before = _counts(pg, ids)
    (cf_home / "ship.sqlite").unlink()  # as if every checkpoint write had been lost
    for suffix in ("-wal", "-shm"):
        (cf_home / f"ship.sqlite{suffix}").unlink(missing_ok=True)
    p = _cfs(cf_home, "ship", "--once", "--streams", "2", "--url", pg.url(SHIPPER), check=True)
    assert "shipped 0 new lines (608 sent)" in p.stderr
    assert _counts(pg, ids) == before == (600, 600, 608)


def test_server_restart_mid_ship_loses_nothing(pg: Any, cf_home: Path, tmp_path: Path) -> None:
    ids = _store(cf_home, _host(), sessions=3, commands=500)
    release = tmp_path / "release"
    proc = _start_shipper(cf_home, pg.url(SHIPPER), "--once", "--batch", "200",
                          stall=f"3:{release}")
    try:
        _wait_for_hold(proc)
        pg.restart()  # the shipper's connection dies with batch 3 open
        release.touch()
        assert proc.wait(timeout=90) == 0
    finally:
        proc.kill()
    assert _counts(pg, ids) == (1500, 1500, 1506)


def test_tampered_line_is_refused_by_the_server(pg: Any, cf_home: Path) -> None:
    host = _host()
    sid = make_session(cf_home, [Cmd(f"echo {i}", f"out {i}") for i in range(20)], host=host)
    path = cf_home / "sessions" / f"{sid}.jsonl"
    lines = path.read_bytes().splitlines(keepends=True)
    rec = json.loads(lines[11])  # line 12
    rec["output"] = "nothing to see"  # edited, hash kept: the line no longer matches it
    lines[11] = json.dumps(rec, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"
    path.write_bytes(b"".join(lines))

    p = _cfs(cf_home, "ship", "--once", "--batch", "5", "--url", pg.url(SHIPPER))
    assert p.returncode == 1
    assert f"session {sid} not shipped: the server refused it" in p.stderr
    assert "line 12: its hash does not match its content" in p.stderr
    from cfsession.fleet import config

    with config.connect(pg.url(), autocommit=True) as conn:
        last = conn.execute("SELECT last_seq FROM cfsession.sessions WHERE session_guid = %s",
                            (sid,)).fetchone()
    assert last == (10,)  # batches 1-5 and 6-10 stored; 11-15 held the edited line


def test_rehashed_forgery_does_not_link_and_is_refused(pg: Any, cf_home: Path) -> None:
    from cfsession.integrity import seal

    sid = make_session(cf_home, [Cmd(f"echo {i}", f"out {i}") for i in range(6)], host=_host())
    path = cf_home / "sessions" / f"{sid}.jsonl"
    lines = path.read_bytes().splitlines(keepends=True)
    rec = json.loads(lines[3])
    rec["command"] = "echo innocent"
    seal(rec, rec["prev_hash"])  # a forger who recomputes the edited line's hash
    lines[3] = json.dumps(rec, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"
    path.write_bytes(b"".join(lines))
    p = _cfs(cf_home, "ship", "--once", "--url", pg.url(SHIPPER))
    assert p.returncode == 1
    assert "line 5: it does not link to line 4" in p.stderr


def test_server_refuses_a_bad_link_sent_directly(pg: Any) -> None:
    """No shipper involved: the ingest function itself decides."""
    import psycopg

    from cfsession.fleet import config
    from cfsession.integrity import GENESIS, canonical, seal

    sid = str(uuid.uuid4())
    start = seal({"event_type": "session_start", "session_id": sid, "seq": 1, "host": _host(),
                  "ts": "2024-05-01T12:00:00.000000Z", "started_at": "2024-05-01T12:00:00.000000Z"}, GENESIS)
    cmd = seal({"event_type": "terminal_capture", "session_id": sid, "seq": 2, "command": "id",
                "started_at": "2024-05-01T12:00:01.000000Z", "output": "uid=0"}, "f" * 64)
    with config.connect(pg.url(SHIPPER)) as conn:
        with conn.transaction():
            conn.execute("SELECT cfsession.open_batch()")
        with pytest.raises(psycopg.Error) as err, conn.transaction(), conn.cursor() as cur:
            with cur.copy("COPY pg_temp.cfs_stage (line, hash) FROM STDIN") as copy:
                for rec in (start, cmd):
                    copy.write_row((canonical(rec).decode(), rec["hash"]))
            cur.execute("SELECT cfsession.ingest()")
    assert err.value.sqlstate == "CF002"
    assert "line 2: it does not link to line 1" in str(err.value)


@pytest.mark.parametrize("sql", [
    "SELECT count(*) FROM cfsession.commands",
    "SELECT * FROM cfsession.sessions",
    "SELECT * FROM cfsession.events",
    "SELECT * FROM cfsession.cast_chunks",
    "UPDATE cfsession.sessions SET name = 'x'",
    "UPDATE cfsession.commands SET output = 'x'",
    "DELETE FROM cfsession.commands",
    "DELETE FROM cfsession.events",
    "INSERT INTO cfsession.hosts (name) VALUES ('evil')",
    "SELECT cfsession.ensure_partition(now())",
])
def test_shipper_role_is_denied_everything_but_ingest(pg: Any, sql: str) -> None:
    import psycopg

    from cfsession.fleet import config

    with config.connect(pg.url(SHIPPER), autocommit=True) as conn, \
            pytest.raises(psycopg.errors.InsufficientPrivilege, match="permission denied"):
        conn.execute(sql)


def test_a_host_ships_only_under_its_own_login(pg: Any, cf_home: Path, tmp_path: Path) -> None:
    host = _host()
    make_session(cf_home, [Cmd("true")], host=host)
    _cfs(cf_home, "ship", "--once", "--url", pg.url(SHIPPER), check=True)
    other = tmp_path / "other"
    make_session(other, [Cmd("true")], host=host)  # same host name, another login
    p = _cfs(other, "ship", "--once", "--url", pg.url(SHIPPER_B))
    assert p.returncode == 1
    assert f"host {host} ships as login {SHIPPER}, not as {SHIPPER_B}" in p.stderr


def test_a_line_the_server_cannot_store_refuses_only_its_session(pg: Any, cf_home: Path) -> None:
    good = make_session(cf_home, [Cmd("echo fine", "fine")], host=(host := _host()))
    bad = make_session(cf_home, [Cmd("echo odd", "odd", extra={"exit_code": "not a number"})], host=host)
    p = _cfs(cf_home, "ship", "--once", "--url", pg.url(SHIPPER))
    assert p.returncode == 1
    assert f"session {bad} not shipped: the server refused it: invalid input syntax for type integer" in p.stderr
    assert good not in p.stderr
    assert _counts(pg, [good]) == (1, 1, 3) and _counts(pg, [bad])[0] == 0
