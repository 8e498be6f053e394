"""Shipping and reading damaged or hostile input: one clear line, nothing else held up,
nothing lost, no secret shown."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.fleet.conftest import SHIPPER, SHIPPER_B
from tests.fleet.test_ship import _cfs, _counts
from tests.sessions_factory import Cmd, make_session

pytestmark = pytest.mark.slow


def _host() -> str:
    return f"web-{uuid.uuid4().hex[:8]}"


def _damage(home: Path, sid: str, old: bytes, new: bytes) -> None:
    """Edit line 2 (the command) of a session's file in place."""
    path = home / "sessions" / f"{sid}.jsonl"
    lines = path.read_bytes().splitlines(keepends=True)
    assert old in lines[1]
    lines[1] = lines[1].replace(old, new, 1)
    path.write_bytes(b"".join(lines))


@pytest.mark.parametrize("old,new", [
    (b'"exit_code":0', b'"exit_code":0,"deep":' + b"[" * 100_000 + b"]" * 100_000),  # deeper than any parser goes
    (b'"odd', b'"\\ud800odd'),  # a lone surrogate: valid JSON, not encodable as UTF-8
], ids=["deep-json", "lone-surrogate"])
def test_an_unreadable_line_refuses_only_its_session(pg: Any, cf_home: Path, old: bytes, new: bytes) -> None:
    good = make_session(cf_home, [Cmd("echo fine", "fine")], host=(host := _host()))
    bad = make_session(cf_home, [Cmd("echo odd", "odd")], host=host)
    _damage(cf_home, bad, old, new)
    p = _cfs(cf_home, "ship", "--once", "--retry-for", "0", "--url", pg.url(SHIPPER))
    assert p.returncode == 1, p.stderr
    assert f"session {bad} not shipped: {bad}.jsonl:2 cannot be read" in p.stderr
    assert "internal error" not in p.stderr and "refused a batch" not in p.stderr
    again = _cfs(cf_home, "ship", "--once", "--retry-for", "0", "--url", pg.url(SHIPPER))
    assert again.returncode == 0, again.stderr  # set aside: it holds up no later run
    assert _counts(pg, [good]) == (1, 1, 3)
    assert _counts(pg, [bad])[0] == 0


@pytest.mark.parametrize("template", [
    "postgresql://ship_pw@127.0.0.1:{port}/cfsession?password={pw}",  # libpq's query form
    "postgresql://ship_pw:{pw}/x@127.0.0.1:{port}/cfsession",  # unescaped / in the password
    "postgresql://ship_pw:x@{pw}@127.0.0.1:{port}/cfsession",  # unescaped @ in the password
    "host=127.0.0.1 port={port} user=ship_pw password={pw}",  # a libpq keyword string
], ids=["query", "slash", "at", "keywords"])
def test_a_wrong_or_odd_url_never_shows_its_password(pg: Any, cf_home: Path, template: str) -> None:
    pw = "Zq9sEcReT" + uuid.uuid4().hex[:6]
    url = template.format(port=pg.port, pw=pw)
    make_session(cf_home, [Cmd("echo fine", "fine")], host=_host())
    p = _cfs(cf_home, "ship", "--once", "--retry-for", "0", "--url", url)
    assert p.returncode in (1, 2) and p.stderr.startswith("cfsession: "), p.stderr
    assert "Zq9s" not in p.stderr and "ReT" not in p.stderr, p.stderr
    assert p.stderr.count("\n") == 1
    r = _cfs(cf_home, "list", "--remote", env={"CFSESSION_REMOTE_URL": url})
    assert r.returncode in (1, 2) and "Zq9s" not in r.stderr and "ReT" not in r.stderr, r.stderr
    for f in cf_home.rglob("*"):  # nor the checkpoints (keyed by the server's URL)
        if f.is_file():
            assert b"Zq9s" not in f.read_bytes() and b"ReT" not in f.read_bytes(), f


@pytest.fixture(scope="module")
def bare_db(pg: Any) -> str:
    """A database on the fleet server where `admin migrate` never ran."""
    from cfsession.fleet import config

    name = "bare_" + uuid.uuid4().hex[:8]
    with config.connect(pg.url(), autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return name


READS = [("list", "--remote"), ("search", "--remote", "x"), ("search", "--remote", "--substring", "x"),
         ("show", "--remote", "last"), ("verify", "--remote", "last"), ("replay", "--remote", "last")]


def _one_clear_line(p: Any, what: str, todo: str) -> None:
    assert p.returncode == 1, p.stderr
    assert p.stderr.startswith(f"cfsession: {what}"), p.stderr
    assert todo in p.stderr and "internal error" not in p.stderr and p.stderr.count("\n") == 1, p.stderr


@pytest.mark.parametrize("args", READS, ids=lambda a: "-".join(a))
def test_reading_a_database_without_the_schema_is_one_clear_line(pg: Any, cf_home: Path, bare_db: str,
                                                                  args: tuple[str, ...]) -> None:
    p = _cfs(cf_home, *args, env={"CFSESSION_REMOTE_URL": pg.url(db=bare_db)})
    _one_clear_line(p, "the fleet schema is missing or old", "cfsession admin migrate")


def test_admin_index_without_the_schema_is_one_clear_line(pg: Any, cf_home: Path, bare_db: str) -> None:
    p = _cfs(cf_home, "admin", "index", "--url", pg.url(db=bare_db))
    _one_clear_line(p, "the fleet schema is missing or old", "cfsession admin migrate")


@pytest.mark.parametrize("args", READS[:3], ids=lambda a: "-".join(a))
def test_reading_with_a_shipper_login_is_one_clear_line(pg: Any, cf_home: Path, args: tuple[str, ...]) -> None:
    p = _cfs(cf_home, *args, env={"CFSESSION_REMOTE_URL": pg.url(SHIPPER)})
    _one_clear_line(p, "this login may not read the fleet server", "cfsession_reader")


def test_an_unknown_url_parameter_is_one_clear_line(pg: Any, cf_home: Path) -> None:
    make_session(cf_home, [Cmd("echo fine", "fine")], host=_host())
    p = _cfs(cf_home, "ship", "--once", "--url", pg.url(SHIPPER, bogus="1"))
    _one_clear_line(p, "cannot use the URL", "bogus")
    r = _cfs(cf_home, "list", "--remote", env={"CFSESSION_REMOTE_URL": pg.url(bogus="1")})
    _one_clear_line(r, "cannot use the URL", "bogus")


def test_another_recording_under_a_shipped_session_id_is_refused_not_dropped(pg: Any, tmp_path: Path) -> None:
    """A cloned machine, a restored backup: a second recording with an id the server holds.
    Its lines are not the server's: it must say so, not report them shipped and drop them
    (nor add its .cast bytes to the first recording's)."""
    from cfsession.fleet import config

    sid = str(uuid.uuid4())
    first, second = tmp_path / "first", tmp_path / "second"
    make_session(first, [Cmd("echo one", "one")], host=_host(), session_id=sid)
    make_session(second, [Cmd("echo two", "the second recording, longer cast")], host=_host(), session_id=sid)
    _cfs(first, "ship", "--once", "--url", pg.url(SHIPPER), check=True)
    with config.connect(pg.url(), autocommit=True) as conn:
        before = conn.execute("SELECT cast_bytes, last_hash FROM cfsession.sessions WHERE session_guid = %s",
                              (sid,)).fetchone()
    p = _cfs(second, "ship", "--once", "--url", pg.url(SHIPPER))
    assert p.returncode == 1, p.stderr
    assert f"session {sid} not shipped: the server refused it: session {sid} line 1:" in p.stderr
    with config.connect(pg.url(), autocommit=True) as conn:
        after = conn.execute("SELECT cast_bytes, last_hash FROM cfsession.sessions WHERE session_guid = %s",
                             (sid,)).fetchone()
        commands = conn.execute("SELECT command FROM cfsession.commands WHERE session_guid = %s",
                                (sid,)).fetchall()
    assert after == before and commands == [("echo one",)]
    # the first host resending after a lost checkpoint is still no conflict
    for suffix in ("", "-wal", "-shm"):
        (first / f"ship.sqlite{suffix}").unlink(missing_ok=True)
    again = _cfs(first, "ship", "--once", "--url", pg.url(SHIPPER), check=True)
    assert "shipped 0 new lines (3 sent)" in again.stderr


def test_searching_a_version_1_server_says_to_migrate(pg: Any, cf_home: Path) -> None:
    from cfsession.fleet import config, schema

    db = "v1_" + uuid.uuid4().hex[:8]
    with config.connect(pg.url(), autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {db}")
    with config.connect(pg.url(db=db), autocommit=True) as conn:
        schema.migrate(conn, upto=1)
    make_session(cf_home, [Cmd("echo zzfind", "out")], host=_host())
    _cfs(cf_home, "ship", "--once", "--url", pg.url(SHIPPER, db=db), check=True)
    p = _cfs(cf_home, "search", "--remote", "zzfind", env={"CFSESSION_REMOTE_URL": pg.url(db=db)})
    _one_clear_line(p, "the fleet schema is missing or old", "cfsession admin migrate")


@pytest.fixture(scope="module")
def pw_login(pg: Any) -> str:
    """A shipper login that must give a password (scram), on the shared test cluster."""
    from cfsession.fleet import config

    role = "pw_" + uuid.uuid4().hex[:8]
    with config.connect(pg.url(), autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {role} LOGIN PASSWORD 'right-one' IN ROLE cfsession_shipper")
        hba = Path(conn.execute("SHOW hba_file").fetchone()[0])
        hba.write_text(f"host all {role} 127.0.0.1/32 scram-sha-256\n" + hba.read_text())
        conn.execute("SELECT pg_reload_conf()")
    return role


@pytest.mark.parametrize("what", ["password", "role", "database"])
def test_a_refused_login_is_said_at_once_not_retried(pg: Any, cf_home: Path, pw_login: str, what: str) -> None:
    """A wrong password (or a login or database that does not exist) will not get better by
    waiting: `ship --follow` says so and stops, instead of retrying in silence forever."""
    from cfsession.errors import CfsessionError
    from cfsession.fleet import config
    from cfsession.fleet.errors import retryable

    url = {"password": f"postgresql://{pw_login}:wrong-one@127.0.0.1:{pg.port}/cfsession",
           "role": pg.url("no_such_login_here"), "database": pg.url(SHIPPER, db="no_such_db_here")}[what]
    with pytest.raises(CfsessionError) as got:
        config.connect(url)
    assert not retryable(got.value), got.value.message
    make_session(cf_home, [Cmd("echo fine", "fine")], host=_host())
    p = _cfs(cf_home, "ship", "--follow", "--url", url, timeout=60)
    _one_clear_line(p, "the server refused the login", "check the user")
    assert "wrong-one" not in p.stderr


def test_the_right_password_ships(pg: Any, cf_home: Path, pw_login: str) -> None:
    sid = make_session(cf_home, [Cmd("echo fine", "fine")], host=_host())
    _cfs(cf_home, "ship", "--once", "--url",
         f"postgresql://{pw_login}:right-one@127.0.0.1:{pg.port}/cfsession", check=True)
    assert _counts(pg, [sid]) == (1, 1, 3)


def test_a_session_id_another_login_holds_refuses_only_that_session(pg: Any, tmp_path: Path) -> None:
    """Two hosts, each with its own login, one session id (a cloned machine): the second
    host's other sessions still ship; only the one the server holds for the first host's
    login is set aside. Before, every run of the second host stopped at it."""
    sid = str(uuid.uuid4())
    first, second = tmp_path / "first", tmp_path / "second"
    make_session(first, [Cmd("echo one", "one")], host=_host(), session_id=sid)
    _cfs(first, "ship", "--once", "--url", pg.url(SHIPPER), check=True)
    host_b = _host()
    # ids sorted around the clash, all in one batch
    others = [make_session(second, [Cmd(f"echo b{i}", "b")], host=host_b, session_id=s)
              for i, s in enumerate(("00000000-" + sid[9:], "ffffffff-" + sid[9:]))]
    make_session(second, [Cmd("echo two", "two")], host=host_b, session_id=sid)
    p = _cfs(second, "ship", "--once", "--url", pg.url(SHIPPER_B))
    assert p.returncode == 1, p.stderr
    assert f"session {sid} not shipped: the server refused it: " in p.stderr
    assert f"ships as login {SHIPPER}, not as {SHIPPER_B}" in p.stderr
    assert _counts(pg, others) == (2, 2, 6)
    again = _cfs(second, "ship", "--once", "--url", pg.url(SHIPPER_B))
    assert again.returncode == 0, again.stderr


def test_admin_migrate_against_a_newer_server_says_so(pg: Any, cf_home: Path) -> None:
    """A server a newer cfsession migrated: this one applies nothing and says why, instead
    of calling the schema up to date."""
    from cfsession.fleet import config, schema

    db = "newer_" + uuid.uuid4().hex[:8]
    with config.connect(pg.url(), autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {db}")
    try:
        latest = schema.migrations()[-1][0]
        with config.connect(pg.url(db=db), autocommit=True) as conn:
            schema.migrate(conn)
            conn.execute("INSERT INTO cfsession.schema_version (version, name) VALUES (%s, 'from-a-newer-cfsession')",
                         (latest + 1,))
        p = _cfs(cf_home, "admin", "migrate", "--url", pg.url(db=db))
        assert p.returncode == 0, p.stderr
        assert "up to date" not in p.stdout
        assert f"schema version {latest + 1}" in p.stdout and f"newer than this cfsession's ({latest})" in p.stdout
        assert "upgrade cfsession" in p.stdout
        p = _cfs(cf_home, "admin", "migrate", "--url", pg.url())
        assert p.returncode == 0 and f"schema version {latest}: up to date" in p.stdout, p.stdout
    finally:
        with config.connect(pg.url(), autocommit=True) as conn:
            conn.execute(f"DROP DATABASE {db}")


@pytest.mark.parametrize("field", ["query", "cwd", "host"])
def test_a_nul_in_a_remote_search_is_a_usage_error(pg: Any, field: str) -> None:
    """PostgreSQL text cannot hold NUL: a search text or filter with one (an agent's JSON can
    carry it) is the caller's to fix, not 'see the server log'."""
    from cfsession.errors import UsageError
    from cfsession.fleet import api
    from tests.fleet.conftest import AUDITOR

    kwargs: dict[str, Any] = {"query": "echo", field: "a\x00b"}
    with pytest.raises(UsageError) as err:
        api.search(url=pg.url(AUDITOR), **kwargs)
    assert "NUL" in str(err.value) and "server log" not in (err.value.hint or "")
