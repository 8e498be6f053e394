"""``cfsession mcp --remote``: the MCP tools over a real fleet server, through the SDK's client.

A bash session recorded through a real PTY and a session recorded with the recording
API (a 200 KB output the record keeps only the head and tail of, and terminal controls)
are shipped to the throw-away cluster; the SDK's stdio client then asks the server
started with ``--remote`` about them, as an auditor.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests import pty_harness as h
from tests.conftest import require_module, require_shell
from tests.fleet.conftest import AUDITOR, SHIPPER

pytestmark = [pytest.mark.pty, pytest.mark.slow]

BIG_LINES = 4000
BIG_LINE = "line {:07d} " + "x" * 38 + "\n"  # 51 characters: 204 KB, past the record's 64 KiB
EVIL = "\x1b]52;c;c2VjcmV0\x07"  # OSC 52: set the clipboard
CONTROLS = ("\x1b", "\x07", "\x9b", "\x9d")


@pytest.fixture(scope="module")
def shipped(pg: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    from cfsession import api
    from cfsession.fleet import shipper

    bash = require_shell("bash")
    tag = uuid.uuid4().hex[:8]
    base = tmp_path_factory.mktemp("mcpremote")
    home, cf_home = base / "home", base / "cf"
    home.mkdir()
    cf_home.mkdir(mode=0o700)
    (home / ".bashrc").write_text(f"PS1='{h.PROMPT}'\n")
    rec = h.start(bash, home, cf_home)
    rec.run(f"echo hello-{tag}")
    rec.run(f"echo one > state-{tag}.txt")
    rec.run(f"cat state-{tag}.txt")
    rec.run(f"echo two > state-{tag}.txt")
    rec.run(f"cat state-{tag}.txt")
    rec.run("false")
    assert rec.finish("exit 0") == 0
    (shell_file,) = h.sessions(cf_home)
    shell_sid = h.load(shell_file)[0]["session_id"]

    actor = f"agent:mcp{tag}"
    script = f"import sys\nfor i in range({BIG_LINES}): sys.stdout.write({BIG_LINE!r}.format(i))\n"
    with api.record("evil " + EVIL, actor=actor, home=cf_home) as r:
        big = r.run([sys.executable, "-c", script], pty=False)
        evil = r.run(["printf", "%s", f"X{EVIL}Y\x9b31mZ\x9d0;t\x07"], pty=False)
    assert big.exit_code == 0 and big.output_truncated

    report = shipper.ship(pg.url(SHIPPER), home=cf_home)
    assert report is not None
    tmp = base / "tmp"
    tmp.mkdir()
    yield {"url": pg.url(AUDITOR), "shell": shell_sid, "api": r.session_id, "actor": actor,
           "tag": tag, "evil_seq": evil.seq, "home": home, "tmp": tmp, "empty_home": base / "nothing"}


def _text(result: Any) -> str:
    return "".join(c.text for c in result.content if getattr(c, "type", "") == "text")


def _json(result: Any) -> Any:
    assert not result.is_error, _text(result)
    return json.loads(_text(result))


def run(args: list[str], env: dict[str, str], body: Any) -> None:
    import anyio

    mcp = require_module("mcp")

    async def session() -> None:
        from mcp.client.stdio import stdio_client

        params = mcp.StdioServerParameters(command=sys.executable, args=["-m", "cfsession", "mcp", *args],
                                           env={"LANG": "C.UTF-8", **env})
        async with stdio_client(params) as (read, write), mcp.ClientSession(read, write) as s:
            await s.initialize()
            await body(s)

    anyio.run(session)


def _env(shipped: dict[str, Any]) -> dict[str, str]:
    # an empty local store: every answer must come from the server
    return {"CFSESSION_HOME": str(shipped["empty_home"]), "TMPDIR": str(shipped["tmp"])}


def test_remote_tools_answer_from_postgresql(shipped: dict[str, Any]) -> None:
    shell, api_sid, tag, actor = shipped["shell"], shipped["api"], shipped["tag"], shipped["actor"]

    async def body(s: Any) -> None:
        tools = {t.name for t in (await s.list_tools()).tools}
        assert tools == {"list_sessions", "search", "get_session", "get_command", "get_output",
                         "diff_output", "verify_session", "stats"}

        mine = _json(await s.call_tool("list_sessions", {"actor": actor}))
        assert [x["session_id"] for x in mine["sessions"]] == [api_sid] and mine["more"] is False
        listed = _json(await s.call_tool("list_sessions", {"limit": 200}))
        by_id = {x["session_id"]: x for x in listed["sessions"]}
        assert by_id[shell]["actor"] == "human" and by_id[shell]["status"] == "complete"
        failed = _json(await s.call_tool("list_sessions", {"failed": True, "actor": "human", "limit": 200}))
        assert shell in {x["session_id"] for x in failed["sessions"]}
        assert api_sid not in {x["session_id"] for x in failed["sessions"]}

        in_home = _json(await s.call_tool("list_sessions", {"cwd": str(shipped["home"]), "limit": 200}))
        assert [x["session_id"] for x in in_home["sessions"]] == [shell]
        one = _json(await s.call_tool("search", {"query": "state", "session": shell[:8]}))["hits"]
        assert [x["seq"] for x in one] == [5, 4, 3, 2]  # newest first, this session only

        hits = _json(await s.call_tool("search", {"query": f"hello-{tag}"}))["hits"]
        assert [(x["session_id"], x["seq"], x["command"]) for x in hits] == [(shell, 1, f"echo hello-{tag}")]
        assert "**hello**" in hits[0]["snippet"]
        in_output = _json(await s.call_tool("search", {"query": "0000001", "actor": actor}))["hits"]
        assert [(x["session_id"], x["seq"]) for x in in_output] == [(api_sid, 1)]  # found in output

        detail = _json(await s.call_tool("get_session", {"session": shell[:8]}))
        assert detail["session"]["session_id"] == shell and detail["commands_total"] == 6
        assert [c["command"] for c in detail["commands"]][:3] == [
            f"echo hello-{tag}", f"echo one > state-{tag}.txt", f"cat state-{tag}.txt"]

        cmd = _json(await s.call_tool("get_command", {"session": shell, "seq": 3}))
        assert (cmd["command"], cmd["exit_code"], cmd["output_head"]) == (f"cat state-{tag}.txt", 0, "one\n")

        diff = _json(await s.call_tool("diff_output", {"a": f"cat state-{tag}.txt"}))
        assert (diff["a"]["ref"], diff["b"]["ref"]) == (f"{shell}:3", f"{shell}:5")
        assert "-one" in diff["diff"].split("\n") and "+two" in diff["diff"].split("\n")

        for sid in (shell, api_sid):
            v = _json(await s.call_tool("verify_session", {"session": sid}))
            assert (v["status"], v["complete"], v["path"]) == ("intact", True, f"server:{sid}"), v

        st = _json(await s.call_tool("stats", {"actor": actor}))
        assert (st["session_count"], st["command_count"], st["failed_count"]) == (1, 2, 0)
        assert {p["program"] for p in st["most_used"]} == {Path(sys.executable).name, "printf"}
        human = _json(await s.call_tool("stats", {"actor": "human"}))
        assert any(p["program"] == "false" and p["failed"] >= 1 for p in human["failure_rate_by_command"])

    run(["--remote", shipped["url"]], _env(shipped), body)
    assert list(shipped["tmp"].iterdir()) == []  # the copies went with the server


def test_remote_get_output_pages_the_whole_output_from_the_cast(shipped: dict[str, Any]) -> None:
    expected = "".join(BIG_LINE.format(i) for i in range(BIG_LINES))
    api_sid = shipped["api"]

    async def body(s: Any) -> None:
        offset: int | None = 0
        pages: list[str] = []
        while offset is not None:
            page = _json(await s.call_tool("get_output", {"session": api_sid, "seq": 1, "offset": offset}))
            assert page["total_chars"] == len(expected) and page["source"] == "cast"
            assert len(page["text"]) <= 64 * 1024
            pages.append(page["text"])
            offset = page["next_offset"]
        assert "".join(pages) == expected and len(pages) == 4
        # one private copy of the session while the server runs
        (copy,) = list(shipped["tmp"].iterdir())
        assert copy.name.startswith("cfsession-mcp-") and copy.stat().st_mode & 0o777 == 0o700

        hits = _json(await s.call_tool("get_output", {"session": api_sid, "seq": 1, "grep": "^line 000123[4-5] "}))
        assert [m["line"] for m in hits["matches"]] == [1235, 1236]

        evil = _json(await s.call_tool("get_output", {"session": api_sid, "seq": shipped["evil_seq"]}))
        assert evil["text"] == "XYZ"
        listed = await s.call_tool("list_sessions", {"actor": shipped["actor"]})
        for c in CONTROLS:
            assert c not in _text(listed) and c not in json.dumps(_json(listed), ensure_ascii=False)

    run(["--remote"], {**_env(shipped), "CFSESSION_REMOTE_URL": shipped["url"]}, body)
    assert list(shipped["tmp"].iterdir()) == []


def test_remote_bad_ids_are_tool_errors_and_the_server_stays_up(shipped: dict[str, Any]) -> None:
    async def body(s: Any) -> None:
        unknown = "00000000-0000-4000-8000-000000000000"
        for tool, args in (("get_session", {"session": unknown}), ("verify_session", {"session": unknown}),
                           ("get_output", {"session": unknown, "seq": 1})):
            bad = await s.call_tool(tool, args)
            assert bad.is_error and f"cfsession: session {unknown} not found on the server" in _text(bad), tool
        bad = await s.call_tool("get_command", {"session": shipped["shell"], "seq": 999})
        assert bad.is_error and "command 999 not found" in _text(bad) and "show --remote" in _text(bad)
        bad = await s.call_tool("search", {"query": "   "})
        assert bad.is_error and "empty search" in _text(bad)
        bad = await s.call_tool("search", {"query": "echo", "cwd": "a\x00b"})  # PostgreSQL text holds no NUL
        assert bad.is_error and "NUL byte" in _text(bad) and "check that it runs" not in _text(bad), _text(bad)
        bad = await s.call_tool("diff_output", {"a": f"never-run-{shipped['tag']}"})
        assert bad.is_error and f"no command 'never-run-{shipped['tag']}' recorded" in _text(bad)
        ok = _json(await s.call_tool("list_sessions", {"actor": shipped["actor"]}))
        assert [x["session_id"] for x in ok["sessions"]] == [shipped["api"]]

    run(["--remote", shipped["url"]], _env(shipped), body)


def test_unreachable_server_is_a_tool_error_not_a_crash(shipped: dict[str, Any]) -> None:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]

    async def body(s: Any) -> None:
        for _ in range(2):
            bad = await s.call_tool("list_sessions", {})
            assert bad.is_error and "cfsession: cannot connect to postgresql://nobody@127.0.0.1" in _text(bad)
        assert len((await s.list_tools()).tools) == 8  # still serving

    run(["--remote", f"postgresql://nobody@127.0.0.1:{port}/cfsession"], _env(shipped), body)


def test_remote_needs_a_server_and_plain_mcp_never_loads_psycopg(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CFSESSION_")}
    env["CFSESSION_HOME"] = str(tmp_path)
    env["XDG_CONFIG_HOME"] = str(tmp_path / "config")
    p = subprocess.run([sys.executable, "-m", "cfsession", "mcp", "--remote"], env=env,
                       capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert p.returncode == 2 and p.stderr.startswith("cfsession: no fleet server given"), p.stderr
    p = subprocess.run([sys.executable, "-m", "cfsession", "mcp", "postgresql://x@db/cfs"], env=env,
                       capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert p.returncode == 2 and "goes with --remote" in p.stderr, p.stderr
    probe = ("import sys; from cfsession import mcp_server; mcp_server.build(home=None);"
             " print('psycopg' in sys.modules)")
    p = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0 and p.stdout.strip() == "False", p.stderr


def test_copies_are_deleted_when_the_server_is_terminated(shipped: dict[str, Any], tmp_path: Path) -> None:
    """A client that stops the server with SIGTERM (not by closing stdin) leaves nothing behind."""
    import signal

    env = {**os.environ, **_env(shipped), "TMPDIR": str(tmp_path)}
    proc = subprocess.Popen([sys.executable, "-m", "cfsession", "mcp", "--remote", shipped["url"]],
                            env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert proc.stdin is not None and proc.stdout is not None
    try:
        for msg in (
            {"jsonrpc": "2.0", "id": 1, "method": "initialize",
             "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                        "clientInfo": {"name": "test", "version": "0"}}},
            {"jsonrpc": "2.0", "method": "notifications/initialized"},
            {"jsonrpc": "2.0", "id": 2, "method": "tools/call",
             "params": {"name": "get_command", "arguments": {"session": shipped["shell"], "seq": 3}}},
        ):
            proc.stdin.write(json.dumps(msg) + "\n")
            proc.stdin.flush()
        while True:  # the answer to the call (after initialize's)
            answer = json.loads(proc.stdout.readline())
            if answer.get("id") == 2:
                break
        assert not answer["result"].get("isError"), answer
        (copy,) = list(tmp_path.iterdir())
        assert copy.name.startswith("cfsession-mcp-")
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert list(tmp_path.iterdir()) == []


def test_a_server_restart_costs_one_call_at_most(pg: Any, shipped: dict[str, Any]) -> None:
    async def body(s: Any) -> None:
        args = {"actor": shipped["actor"]}
        assert [x["session_id"] for x in _json(await s.call_tool("list_sessions", args))["sessions"]] == [shipped["api"]]
        pg.restart()  # the MCP server's connection dies under it
        first = await s.call_tool("list_sessions", args)  # reported, and the connection dropped
        assert first.is_error and "cfsession: the fleet server failed" in _text(first), _text(first)
        again = _json(await s.call_tool("list_sessions", args))
        assert [x["session_id"] for x in again["sessions"]] == [shipped["api"]]

    run(["--remote", shipped["url"]], _env(shipped), body)
