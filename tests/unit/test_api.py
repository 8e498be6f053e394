"""api: typed records for agents, serialising to exactly the CLI's --json."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from cfsession import api
from cfsession.cli import run
from cfsession.errors import AmbiguousSessionId, SessionNotFound, UsageError
from tests.sessions_factory import T0, Cmd, make_session


@pytest.fixture
def store3(cf_home: Path) -> dict[str, str]:
    a = make_session(cf_home, [Cmd("git status", "On branch main\n", cwd="/w/repo"),
                               Cmd("git push", "rejected: non-fast-forward\n", exit_code=1, cwd="/w/repo")],
                     name="work", started=T0)
    b = make_session(cf_home, [Cmd("make test", "3 passed\n", cwd="/w/app", duration=4.0)],
                     name="build", started=T0 + 86400, parent=a)
    c = make_session(cf_home, [Cmd("pytest", "1 failed, rejected\n", exit_code=1, cwd="/w/app")],
                     name="agent", started=T0 + 2 * 86400, correlation_id=a, complete=False)
    return {"a": a, "b": b, "c": c}


def _cli_json(capsys: pytest.CaptureFixture[str], *argv: str) -> object:
    assert run(list(argv)) == 0
    return json.loads(capsys.readouterr().out)


def test_list_sessions_equals_list_json(store3: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    sessions = api.list_sessions()
    assert [s.session_id for s in sessions] == [store3["c"], store3["b"], store3["a"]]
    assert [s.status for s in sessions] == ["incomplete", "complete", "complete"]
    b = sessions[1]
    assert (b.name, b.command_count, b.failed_count, b.parent_session_id) == ("build", 1, 0, store3["a"])
    assert _cli_json(capsys, "list", "--json") == [s.to_dict() for s in sessions]
    assert {"session_id", "name", "started_at", "duration_ms", "command_count", "failed_count",
            "shell", "host", "cwd", "parent_session_id", "status"} <= set(b.to_dict())
    assert [s.session_id for s in api.list_sessions(failed=True)] == [store3["c"], store3["a"]]
    assert len(api.list_sessions(limit=2)) == 2


def test_get_session_equals_show_json(store3: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    detail = api.get_session(store3["a"][:6])
    assert detail.session["session_id"] == store3["a"] and detail.session["status"] == "complete"
    assert detail.session["command_count"] == 2 and detail.session["failed_count"] == 1
    cmd = detail.commands[1]
    for key in ("command", "exit_code", "output", "cwd", "duration_ms", "cast_start", "cast_end",
                "command_seq", "started_at", "anomalies", "redactions", "pipestatus"):
        assert key in cmd
    assert cmd["output"] == "rejected: non-fast-forward\n"
    assert _cli_json(capsys, "show", store3["a"], "--json") == detail.to_dict()


def test_iter_commands_filters(store3: dict[str, str]) -> None:
    everything = list(api.iter_commands())
    assert [c.command for c in everything] == ["git status", "git push", "make test", "pytest"]
    assert everything[0].output == "On branch main\n"
    assert [c.seq for c in api.iter_commands(store3["a"])] == [1, 2]
    assert [c.command for c in api.iter_commands(failed=True)] == ["git push", "pytest"]
    assert [c.command for c in api.iter_commands(cwd="/w/app")] == ["make test", "pytest"]
    since = datetime.fromtimestamp(T0, timezone.utc) + timedelta(hours=12)
    assert [c.command for c in api.iter_commands(since=since)] == ["make test", "pytest"]
    assert [c.output for c in api.iter_commands(limit=1, with_output=False)] == [None]


def test_search_equals_search_json(store3: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    hits = api.search("rejected")
    assert [(h.session_id, h.seq) for h in hits] == [(store3["c"], 1), (store3["a"], 2)]
    assert "**rejected**" in hits[0].snippet
    assert _cli_json(capsys, "search", "rejected", "--json") == [h.to_dict() for h in hits]
    assert [h.command for h in api.search("rejected", session=store3["a"][:8])] == ["git push"]
    assert api.search("passed", failed=True) == []
    # Not FTS syntax: searched as the words typed instead of failing.
    assert [h.command for h in api.search("non-fast-forward")] == ["git push"]
    with pytest.raises(UsageError):
        api.search("  ")


def test_session_history_for_agents(store3: dict[str, str]) -> None:
    history = api.get_session_history(store3["a"])
    # Session a and session c (which carries a's correlation id), oldest first.
    assert {e.session_id for e in history} == {store3["a"], store3["c"]}
    assert history[0].event_type == "session_start" and history[0].session_id == store3["a"]
    assert all(e.correlation_id == store3["a"] for e in history)
    commands = api.get_session_history(store3["a"], event_types=("terminal_capture",))
    assert [e.data["command"] for e in commands] == ["git status", "git push", "pytest"]
    assert commands[0].timestamp and commands[0].to_dict()["data"]["exit_code"] == 0
    assert len(api.get_session_history(event_types=("session_start",))) == 3


def test_stats_equals_stats_json(store3: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    st = api.stats()
    assert (st.session_count, st.command_count, st.failed_count) == (3, 4, 2)
    assert st.failure_rate == 0.5
    assert st.most_used[0].program == "git" and st.most_used[0].count == 2
    assert st.slowest[0].command == "make test" and st.slowest[0].duration_ms == 4000.0
    assert [p.program for p in st.failure_rate_by_command] == ["pytest", "git"]
    assert sum(d.commands for d in st.by_day) == 4
    assert _cli_json(capsys, "stats", "--json") == st.to_dict()
    later = api.stats(since=datetime.fromtimestamp(T0 + 86400 + 1, timezone.utc))
    assert (later.session_count, later.command_count) == (1, 1)


def test_resolve_ids(store3: dict[str, str], cf_home: Path) -> None:
    assert api.resolve_session_id("last") == store3["c"]
    assert api.resolve_session_id(store3["b"][:4]) in store3.values()
    with pytest.raises(SessionNotFound):
        api.resolve_session_id("ffffffff-ffff-4fff-8fff-ffffffffffff")
    twins = [make_session(cf_home, [], session_id=f"abcd{n}000-0000-4000-8000-000000000000") for n in (1, 2)]
    with pytest.raises(AmbiguousSessionId):
        api.resolve_session_id("abcd")
    assert api.resolve_session_id("abcd1") == twins[0]


def test_empty_store(cf_home: Path) -> None:
    assert api.list_sessions() == []
    assert api.search("anything") == []
    assert api.stats().command_count == 0
    with pytest.raises(SessionNotFound):
        api.get_session("last")


def test_parse_when() -> None:
    now = datetime(2024, 5, 10, 15, 30, tzinfo=timezone.utc)
    assert api.parse_when("2h", now) == now - timedelta(hours=2)
    assert api.parse_when("3d", now) == now - timedelta(days=3)
    assert api.parse_when("1w", now) == now - timedelta(weeks=1)
    assert api.parse_when("30m", now) == now - timedelta(minutes=30)
    assert api.parse_when("today", now) == datetime(2024, 5, 10, tzinfo=timezone.utc)
    assert api.parse_when("yesterday", now) == datetime(2024, 5, 9, tzinfo=timezone.utc)
    assert api.parse_when("2024-05-01T10:00:00Z") == datetime(2024, 5, 1, 10, tzinfo=timezone.utc)
    assert api.parse_when("2024-05-01").tzinfo is not None
    with pytest.raises(UsageError):
        api.parse_when("last tuesday")


def test_documented_calls_exist_and_are_exported() -> None:
    import re

    called = set(re.findall(r"api\.(\w+)\(", api.__doc__ or ""))
    assert called == {"list_sessions", "get_session", "iter_commands", "search",
                      "get_session_history", "stats", "record"}
    assert called <= set(api.__all__) and all(callable(getattr(api, n)) for n in called)


def test_a_store_owned_by_someone_else_is_refused(cf_home: Path) -> None:
    import os

    from cfsession.errors import StoreError

    if not hasattr(os, "getuid") or os.getuid() != 0:
        pytest.skip("needs root to give the store to another uid")
    sid = make_session(cf_home, [Cmd("ls")])
    os.chown(cf_home, 65534, -1)
    for call in (lambda: api.list_sessions(), lambda: api.get_session(sid), lambda: api.search("ls")):
        with pytest.raises(StoreError, match="belongs to uid 65534"):
            call()
