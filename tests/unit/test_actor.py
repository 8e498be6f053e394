"""Who ran it: the actor of a session, its signals, the index column and ``--actor``."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from cfsession import actor, api
from cfsession.index import INDEX_VERSION
from tests.sessions_factory import Cmd, make_session


@pytest.mark.parametrize(("env", "tty", "want"), [
    ({}, True, "human"),
    ({}, False, "unknown"),
    ({"CLAUDECODE": "1"}, True, "agent:claude-code"),
    ({"CLAUDECODE": "0"}, True, "human"),  # only the documented value
    ({"GEMINI_CLI": "1"}, False, "agent:gemini-cli"),
    ({"CODEX_SANDBOX_NETWORK_DISABLED": "1"}, False, "agent:codex"),
    ({"CODEX_SANDBOX": "seatbelt"}, False, "agent:codex"),
    ({"CODEX_HOME": "/x", "CURSOR_AGENT": "1"}, True, "human"),  # not documented signals
    ({"CFSESSION_ACTOR": "agent:nightly", "CLAUDECODE": "1"}, True, "agent:nightly"),
    ({"CFSESSION_ACTOR": " bad\x1b[31m name "}, True, "bad[31mname"),
    ({"CFSESSION_ACTOR": "   "}, True, "human"),
])
def test_detect(env: dict[str, str], tty: bool, want: str) -> None:
    assert actor.detect(env=env, interactive=tty) == want


def test_explicit_wins_and_is_cleaned() -> None:
    assert actor.detect("agent:ci", env={"CLAUDECODE": "1"}, interactive=True) == "agent:ci"
    assert actor.detect("x" * 100, env={}) == "x" * 64


def test_recorder_writes_the_actor(cf_home: Path) -> None:
    def start(**env: str) -> str:
        full = {k: v for k, v in os.environ.items()
                if k not in ("CLAUDECODE", "GEMINI_CLI", "CODEX_SANDBOX", "CODEX_SANDBOX_NETWORK_DISABLED",
                             "CFSESSION_ACTOR")}
        full.update(CFSESSION_HOME=str(cf_home), **env)
        done = subprocess.run([sys.executable, "-m", "cfsession", "record", "-q", "--", "true"],
                              env=full, stdin=subprocess.DEVNULL, capture_output=True, timeout=60)
        assert done.returncode == 0, done.stderr
        newest = max((cf_home / "sessions").glob("*.jsonl"), key=lambda p: p.stat().st_mtime_ns)
        return str(json.loads(newest.read_text().splitlines()[0])["actor"])

    assert start(CLAUDECODE="1") == "agent:claude-code"
    assert start(CFSESSION_ACTOR="agent:me") == "agent:me"
    assert start() == "unknown"  # no terminal, no signal


def test_filters_and_a_rebuilt_index(cf_home: Path) -> None:
    old = make_session(cf_home, [Cmd("make old", "old\n")], name="before actors")
    with api.record("ci", actor="agent:ci", home=cf_home) as ci:
        ci.run(["echo", "from-ci"], pty=False)
    with api.record("me", actor="human", home=cf_home) as me:
        me.run(["echo", "from-me"], pty=False)
        me.run(["false"], pty=False)
    ids = lambda rows: {r.session_id for r in rows}  # noqa: E731
    assert ids(api.list_sessions(home=cf_home)) == {old, ci.session_id, me.session_id}
    assert ids(api.list_sessions(actor="agent", home=cf_home)) == {ci.session_id}
    assert ids(api.list_sessions(actor="agent:ci", home=cf_home)) == {ci.session_id}
    assert ids(api.list_sessions(actor="agent:c", home=cf_home)) == set()  # no partial names
    assert ids(api.list_sessions(actor="human", failed=True, home=cf_home)) == {me.session_id}
    assert [h.command for h in api.search("from", actor="human", home=cf_home)] == ["echo from-me"]
    st = api.stats(actor="agent", home=cf_home)
    assert (st.session_count, st.command_count, st.failed_count) == (1, 1, 0)
    assert api.stats(actor="human", home=cf_home).failed_count == 1
    assert [c.actor for c in api.iter_commands(actor="agent:ci", home=cf_home)] == ["agent:ci"]

    # An index from before the column is rebuilt from the files, not migrated.
    index = cf_home / "index.sqlite"
    con = sqlite3.connect(index)
    con.execute(f"PRAGMA user_version = {INDEX_VERSION - 1}")
    con.execute("DELETE FROM sessions")
    con.commit()
    con.close()
    assert ids(api.list_sessions(actor="agent", home=cf_home)) == {ci.session_id}
    assert sqlite3.connect(index).execute("PRAGMA user_version").fetchone()[0] == INDEX_VERSION
