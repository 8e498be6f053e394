"""Reading the fleet server: search, list/show/replay/verify --remote, row-level security, TLS."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.fleet.conftest import AUDITOR, AUDITOR_WEB, SHIPPER
from tests.sessions_factory import Cmd, make_session

pytestmark = pytest.mark.slow

COMMANDS = [
    Cmd("grep -r TODO src", "src/a.py: TODO remove\n"),
    Cmd("cat /etc/app.conf", "cat: /etc/app.conf: Permission denied\n", exit_code=1),
    Cmd("ls /missing", "ls: cannot access '/missing': ENOENT: no such file\n", exit_code=2),
    Cmd("make deploy-prod", "deploying to production… done\n"),
    Cmd("echo permission granted", "permission granted\n"),
]


def _cfs(home: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    e = {**os.environ, "CFSESSION_HOME": str(home), **(env or {})}
    return subprocess.run([sys.executable, "-m", "cfsession", *args], env=e, capture_output=True,
                          text=True, timeout=120)


@pytest.fixture(scope="module")
def shipped(pg: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Two hosts' sessions on the server: web-* (indexed) and db-* (left pending)."""
    from cfsession.fleet import shipper

    tag = uuid.uuid4().hex[:6]
    web_home = tmp_path_factory.mktemp("web")
    db_home = tmp_path_factory.mktemp("db")
    web = make_session(web_home, COMMANDS, host=f"web-{tag}", name="web session")
    db = make_session(db_home, [Cmd(f"psql -c 'select {tag}'", f"ERROR: relation {tag} does not exist\n", 1)],
                      host=f"db-{tag}")
    shipper.ship(pg.url(SHIPPER), home=web_home)
    shipper.ship(pg.url(SHIPPER), home=db_home, index=False)  # stays in the pending branch
    return {"tag": tag, "web": web, "db": db, "web_home": web_home, "db_home": db_home}


def test_full_text_search_finds_the_right_commands(pg: Any, shipped: dict[str, Any]) -> None:
    from cfsession.fleet import api

    hits = api.search("permission denied", host=f"web-{shipped['tag']}", url=pg.url(AUDITOR))
    assert [(h.session_id, h.seq, h.command) for h in hits] == [(shipped["web"], 2, "cat /etc/app.conf")]
    assert "**Permission**" in hits[0].snippet and "**denied**" in hits[0].snippet
    hits = api.search("permission", host=f"web-{shipped['tag']}", url=pg.url(AUDITOR))
    assert [h.seq for h in hits] == [5, 2]  # newest first
    hits = api.search("permission -granted", host=f"web-{shipped['tag']}", url=pg.url(AUDITOR))
    assert [h.seq for h in hits] == [2]
    # words inside paths and punctuation: "/missing'", "ENOENT:", "deploy-prod"
    for word, seq in (("missing", 3), ("enoent", 3), ("deploy-prod", 4), ("app.conf", 2)):
        hits = api.search(word, host=f"web-{shipped['tag']}", url=pg.url(AUDITOR))
        assert [h.seq for h in hits] == [seq], word


def test_substring_search_finds_text_inside_words(pg: Any, shipped: dict[str, Any]) -> None:
    from cfsession.fleet import api

    hits = api.search("NOENT:", substring=True, host=f"web-{shipped['tag']}", url=pg.url(AUDITOR))
    assert [(h.seq, h.command) for h in hits] == [(3, "ls /missing")]
    assert "E**NOENT:** no such file" in hits[0].snippet
    hits = api.search("ploy-pr", substring=True, url=pg.url(AUDITOR))
    assert [(h.session_id, h.seq) for h in hits] == [(shipped["web"], 4)]
    assert api.search("100%_", substring=True, url=pg.url(AUDITOR)) == []  # LIKE wildcards are text


def test_pending_commands_are_searchable_before_and_after_indexing(pg: Any, shipped: dict[str, Any]) -> None:
    from cfsession.fleet import api, config

    tag = shipped["tag"]
    word = api.search(tag, url=pg.url(AUDITOR))
    sub = api.search(f"relation {tag}", substring=True, url=pg.url(AUDITOR))
    assert [h.session_id for h in word] == [h.session_id for h in sub] == [shipped["db"]]
    with config.connect(pg.url(), autocommit=True) as conn:
        pending = conn.execute("SELECT indexed FROM cfsession.commands WHERE session_guid = %s",
                               (shipped["db"],)).fetchone()
        assert pending == (False,)
    p = _cfs(shipped["db_home"], "admin", "index", "--url", pg.url(SHIPPER))
    assert p.returncode == 0, p.stderr
    assert [h.session_id for h in api.search(tag, url=pg.url(AUDITOR))] == [shipped["db"]]


def test_row_level_security_limits_an_auditor_to_hosts(pg: Any, shipped: dict[str, Any]) -> None:
    from cfsession.fleet import api

    tag = shipped["tag"]
    everyone = {s.host for s in api.list_sessions(url=pg.url(AUDITOR))}
    assert {f"web-{tag}", f"db-{tag}"} <= everyone
    web_only = {s.host for s in api.list_sessions(url=pg.url(AUDITOR_WEB))}
    assert f"web-{tag}" in web_only and not any(h.startswith("db-") for h in web_only)
    assert api.search(tag, substring=True, url=pg.url(AUDITOR_WEB)) == []
    with pytest.raises(Exception, match="not found on the server"):
        api.get_session(shipped["db"], url=pg.url(AUDITOR_WEB))


def test_list_show_verify_replay_remote_match_the_local_store(pg: Any, shipped: dict[str, Any]) -> None:
    home, sid = shipped["web_home"], shipped["web"]
    env = {"CFSESSION_REMOTE_URL": pg.url(AUDITOR)}
    listed = json.loads(_cfs(home, "list", "--remote", "--host", f"web-{shipped['tag']}", "--json", env=env).stdout)
    local_list = json.loads(_cfs(home, "list", "--json").stdout)
    assert [s["session_id"] for s in listed] == [sid]
    for key in ("name", "started_at", "ended_at", "command_count", "failed_count", "host", "status"):
        assert listed[0][key] == local_list[0][key], key

    remote = json.loads(_cfs(home, "show", "--remote", sid[:8], "--json", env=env).stdout)
    local = json.loads(_cfs(home, "show", sid, "--json").stdout)
    assert remote["commands"] == local["commands"]
    assert remote["session"]["command_count"] == 5 and remote["session"]["status"] == "complete"

    p = _cfs(home, "verify", "--remote", sid, env=env)
    assert p.returncode == 0 and "intact" in p.stdout, p.stderr

    r_play = _cfs(home, "replay", "--remote", sid, "--no-wait", env=env)
    l_play = _cfs(home, "replay", sid, "--no-wait")
    assert r_play.returncode == 0, r_play.stderr
    assert r_play.stdout == l_play.stdout and "Permission denied" in r_play.stdout

    p = _cfs(home, "search", "--remote", "ENOENT", "--json", env=env)
    assert [h["seq"] for h in json.loads(p.stdout) if h["session_id"] == sid] == [3]


def test_verify_remote_names_a_line_changed_on_the_server(pg: Any, tmp_path: Path) -> None:
    from cfsession.fleet import api, config, shipper

    sid = make_session(tmp_path, [Cmd("echo a", "a"), Cmd("echo b", "b")], host=f"web-{uuid.uuid4().hex[:6]}")
    shipper.ship(pg.url(SHIPPER), home=tmp_path)
    assert api.verify(sid, url=pg.url(AUDITOR)).status == "intact"
    with config.connect(pg.url(), autocommit=True) as conn:  # a database administrator's edit
        conn.execute("UPDATE cfsession.commands SET line = replace(line, 'echo b', 'echo c')"
                     " WHERE session_guid = %s AND seq = 3", (sid,))
    res = api.verify(sid, url=pg.url(AUDITOR))
    assert (res.status, res.bad_line, res.problem) == ("tampered", 3, "hash_mismatch")
    p = _cfs(tmp_path, "verify", "--remote", sid, env={"CFSESSION_REMOTE_URL": pg.url(AUDITOR)})
    assert p.returncode == 1 and "TAMPERED" in p.stdout


# -- TLS ----------------------------------------------------------------------------------
def test_tls_verify_full_accepts_the_right_ca(pg: Any) -> None:
    from cfsession.fleet import config

    url = f"postgresql://{AUDITOR}@localhost:{pg.port}/cfsession?sslmode=verify-full&sslrootcert={pg.ca}"
    with config.connect(url) as conn:
        assert conn.execute("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").fetchone() == (True,)


def test_tls_wrong_ca_is_refused_with_a_clear_error(pg: Any, tmp_path: Path) -> None:
    url = f"postgresql://{AUDITOR}@localhost:{pg.port}/cfsession?sslmode=verify-full&sslrootcert={pg.other_ca}"
    p = _cfs(tmp_path, "list", "--remote", env={"CFSESSION_REMOTE_URL": url})
    assert p.returncode == 1
    assert p.stderr.startswith("cfsession: TLS: the certificate of postgresql://")
    assert "not signed by a CA you trust" in p.stderr and "sslrootcert" in p.stderr
    assert p.stderr.count("\n") == 1


def test_tls_wrong_host_name_is_refused_with_a_clear_error(pg: Any) -> None:
    from cfsession.errors import CfsessionError
    from cfsession.fleet import config

    url = f"postgresql://{AUDITOR}@127.0.0.1:{pg.port}/cfsession?sslmode=verify-full&sslrootcert={pg.ca}"
    with pytest.raises(CfsessionError, match="TLS: the server's certificate is for another host name"):
        config.connect(url)


def test_remote_hosts_default_to_verify_full() -> None:
    from cfsession.fleet.config import with_tls_default

    assert "sslmode=verify-full" in with_tls_default("postgresql://u@db.example.com/cfs")
    assert "sslmode=verify-full" in with_tls_default("postgresql://u:pw@10.0.0.5:5433/cfs?sslrootcert=/ca")
    assert with_tls_default("postgresql://u@db.example.com/cfs?sslmode=require").endswith("sslmode=require")
    assert with_tls_default("postgresql://u@localhost/cfs") == "postgresql://u@localhost/cfs"
    assert with_tls_default("postgresql://u@127.0.0.1:5432/cfs") == "postgresql://u@127.0.0.1:5432/cfs"
    assert with_tls_default("postgresql:///cfs?host=/run/postgresql") == "postgresql:///cfs?host=/run/postgresql"


def test_actor_filters_remote_lists_and_searches(pg: Any, tmp_path: Path) -> None:
    from cfsession.fleet import api, shipper

    host = f"web-{uuid.uuid4().hex[:6]}"
    agent = make_session(tmp_path, [Cmd("make lint", "ok")], host=host, actor="agent:claude-code")
    human = make_session(tmp_path, [Cmd("make lint", "ok")], host=host, actor="human")
    shipper.ship(pg.url(SHIPPER), home=tmp_path)
    got = {s.session_id: s.actor for s in api.list_sessions(host=host, url=pg.url(AUDITOR))}
    assert got == {agent: "agent:claude-code", human: "human"}
    assert [s.session_id for s in api.list_sessions(host=host, actor="agent", url=pg.url(AUDITOR))] == [agent]
    hits = api.search("lint", host=host, actor="human", url=pg.url(AUDITOR))
    assert [(h.session_id, h.actor) for h in hits] == [(human, "human")]


HYPHENATED = [  # PostgreSQL's parser reads "-2024" here as a signed number, not a word
    Cmd("rm -rf build-2024", ""),
    Cmd("echo hello-97114057", "hello-97114057\n"),
    Cmd("pip install foo-1.5", "Successfully installed foo-1.5\n"),
]


@pytest.mark.parametrize("indexed", [True, False], ids=["indexed", "pending"])
def test_a_word_joined_to_a_number_by_a_hyphen_is_found(pg: Any, tmp_path: Path, indexed: bool) -> None:
    from cfsession.fleet import api, shipper

    host = f"hy-{uuid.uuid4().hex[:6]}"
    sid = make_session(tmp_path, HYPHENATED, host=host)
    shipper.ship(pg.url(SHIPPER), home=tmp_path, index=indexed)
    for query, seq in (("build-2024", 1), ("2024", 1), ("hello-97114057", 2), ("97114057", 2),
                       ("foo-1.5", 3), ("installed foo-1.5", 3)):
        hits = api.search(query, host=host, url=pg.url(AUDITOR))
        assert [(h.session_id, h.seq) for h in hits] == [(sid, seq)], query


def test_migrate_upgrades_a_version_2_database(pg: Any, admin: Any) -> None:
    from cfsession.fleet import config, schema

    db = f"cfs_v2_{uuid.uuid4().hex[:6]}"
    admin.execute(f"CREATE DATABASE {db}")
    try:
        found = ("SELECT cfsession.search_doc('echo hello-97114057', '')"
                 " @@ cfsession.search_words('hello-97114057')")
        with config.connect(pg.url(db=db), autocommit=True) as conn:
            assert schema.migrate(conn, upto=2)[:2] == (0, 2)
            assert conn.execute(found).fetchone()[0] is False  # the bug version 3 fixes
            before, after, applied = schema.migrate(conn)
            assert (before, after) == (2, schema.migrations()[-1][0])
            assert applied[0] == "003_search_hyphens.sql"
            assert conn.execute(found).fetchone()[0] is True
            assert schema.migrate(conn)[2] == []  # once only
    finally:
        admin.execute(f"DROP DATABASE {db}")
