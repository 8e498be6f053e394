"""``cfsession mcp`` driven by the MCP SDK's own stdio client over a store recorded for real.

The store holds a bash session recorded through a real PTY and a session recorded with
the recording API (the same recorder sinks) holding a 10 MB output and terminal controls
in its name, command and output.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from cfsession import api
from tests import pty_harness as h
from tests.conftest import require_module, require_shell

pytestmark = [pytest.mark.pty, pytest.mark.slow]

BIG_LINES = 200_000
BIG_LINE = "line {:07d} " + "x" * 38 + "\n"  # 51 characters: 10.2 MB in all
EVIL = "\x1b]52;c;c2VjcmV0\x07"  # OSC 52: set the clipboard
CONTROLS = ("\x1b", "\x07", "\x9b", "\x9d")


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    bash = require_shell("bash")
    base = tmp_path_factory.mktemp("mcp")
    home, cf_home = base / "home", base / "cf"
    home.mkdir()
    cf_home.mkdir(mode=0o700)
    (home / ".bashrc").write_text(f"PS1='{h.PROMPT}'\n")
    rec = h.start(bash, home, cf_home)
    rec.run("echo hello-mcp")
    rec.run("echo one > state.txt")
    rec.run("cat state.txt")
    rec.run("echo two > state.txt")
    rec.run("cat state.txt")
    rec.run(r"printf 'A\033]52;c;c2VjcmV0\007B\302\23331mC\n'")
    rec.run("false")
    assert rec.finish("exit 0") == 0
    (shell_file,) = h.sessions(cf_home)
    shell_sid = h.load(shell_file)[0]["session_id"]

    script = f"import sys\nfor i in range({BIG_LINES}): sys.stdout.write({BIG_LINE!r}.format(i))\n"
    with api.record("evil " + EVIL, actor="agent:test", home=cf_home) as r:
        big = r.run([sys.executable, "-c", script], pty=False)
        evil = r.run(["printf", "%s", f"X{EVIL}Y\x9b31mZ\x9d0;t\x07"], pty=False)
    # The record keeps head and tail (output_cap); get_output reads the whole from the .cast.
    assert big.exit_code == 0 and big.output_truncated
    yield {"cf_home": cf_home, "shell": shell_sid, "api": r.session_id, "evil_seq": evil.seq}


def _text(result: Any) -> str:
    return "".join(c.text for c in result.content if getattr(c, "type", "") == "text")


def _json(result: Any) -> Any:
    assert not result.is_error, _text(result)
    return json.loads(_text(result))


async def _session(store: dict[str, Any], body: Any) -> None:
    mcp = require_module("mcp")
    from mcp.client.stdio import stdio_client

    params = mcp.StdioServerParameters(
        command=sys.executable, args=["-m", "cfsession", "mcp"],
        env={"CFSESSION_HOME": str(store["cf_home"]), "LANG": "C.UTF-8"},
    )
    async with stdio_client(params) as (read, write), mcp.ClientSession(read, write) as s:
        await s.initialize()
        await body(s)


def run(store: dict[str, Any], body: Any) -> None:
    import anyio

    anyio.run(_session, store, body)


def test_tools_answer_about_a_real_store(store: dict[str, Any]) -> None:
    shell, api_sid = store["shell"], store["api"]

    async def body(s: Any) -> None:
        tools = {t.name: t for t in (await s.list_tools()).tools}
        assert set(tools) == {"list_sessions", "search", "get_session", "get_command",
                              "get_output", "diff_output", "verify_session", "stats"}
        assert all(t.description for t in tools.values())

        listed = _json(await s.call_tool("list_sessions", {}))
        assert {x["session_id"] for x in listed["sessions"]} == {shell, api_sid}
        assert {x["session_id"]: x["actor"] for x in listed["sessions"]}[shell] == "human"
        agents = _json(await s.call_tool("list_sessions", {"actor": "agent"}))
        assert [x["session_id"] for x in agents["sessions"]] == [api_sid]
        failed = _json(await s.call_tool("list_sessions", {"failed": True, "actor": "human"}))
        assert [x["session_id"] for x in failed["sessions"]] == [shell]

        hits = _json(await s.call_tool("search", {"query": "hello-mcp"}))["hits"]
        assert [(x["session_id"], x["seq"], x["command"]) for x in hits] == [(shell, 1, "echo hello-mcp")]
        assert "**hello" in hits[0]["snippet"]
        out_hit = _json(await s.call_tool("search", {"query": "0000001", "actor": "agent:test"}))["hits"]
        assert [(x["session_id"], x["seq"]) for x in out_hit] == [(api_sid, 1)]  # found in output
        assert _json(await s.call_tool("search", {"query": "hello-mcp", "actor": "agent"}))["hits"] == []

        detail = _json(await s.call_tool("get_session", {"session": shell[:8]}))
        assert detail["session"]["session_id"] == shell
        assert [c["command"] for c in detail["commands"]][:3] == ["echo hello-mcp", "echo one > state.txt", "cat state.txt"]
        assert [c["exit_code"] for c in detail["commands"] if c["command"] == "false"] == [1]

        cmd = _json(await s.call_tool("get_command", {"session": shell, "seq": 3}))
        assert (cmd["command"], cmd["exit_code"], cmd["output_head"]) == ("cat state.txt", 0, "one\n")

        diff = _json(await s.call_tool("diff_output", {"a": "cat state.txt"}))
        assert (diff["a"]["ref"], diff["b"]["ref"]) == (f"{shell}:3", f"{shell}:5")
        assert "-one" in diff["diff"].split("\n") and "+two" in diff["diff"].split("\n")
        same = _json(await s.call_tool("diff_output", {"a": f"{shell}:3", "b": f"{shell}:3"}))
        assert same["identical"] and same["diff"] == ""

        for sid in (shell, api_sid):
            v = _json(await s.call_tool("verify_session", {"session": sid}))
            assert v["status"] == "intact" and v["complete"], v

        st = _json(await s.call_tool("stats", {"actor": "agent:test"}))
        assert (st["session_count"], st["command_count"]) == (1, 2)
        st_all = _json(await s.call_tool("stats", {}))
        assert st_all["command_count"] == detail["commands_total"] + 2

    run(store, body)


def test_get_output_pages_a_10_mb_output(store: dict[str, Any]) -> None:
    expected = "".join(BIG_LINE.format(i) for i in range(BIG_LINES))

    async def body(s: Any) -> None:
        offset: int | None = 0
        pages: list[str] = []
        line = 1
        while offset is not None:
            res = await s.call_tool("get_output", {"session": store["api"], "seq": 1, "offset": offset})
            raw = _text(res)
            assert len(raw.encode()) < 70 * 1024  # the whole answer, JSON and all
            page = _json(res)
            assert page["total_chars"] == len(expected) and page["source"] == "cast"
            assert page["total_lines"] == BIG_LINES + 1  # the empty line after the last \n
            assert page["first_line"] == line
            assert len(page["text"]) <= 64 * 1024 and page["text"].endswith("\n")
            pages.append(page["text"])
            line = page["last_line"] + 1
            offset = page["next_offset"]
        assert "".join(pages) == expected
        assert len(pages) == -(-len(expected) // (64 * 1024 // 51 * 51))

        hits = _json(await s.call_tool("get_output", {"session": store["api"], "seq": 1,
                                                       "grep": "^line 012345[0-2] "}))
        assert hits["total_matches"] == 3
        assert [m["line"] for m in hits["matches"]] == [123451, 123452, 123453]
        many = _json(await s.call_tool("get_output", {"session": store["api"], "seq": 1, "grep": "x$"}))
        assert many["total_matches"] == BIG_LINES and len(many["matches"]) == 200
        assert many["next_offset"] == 200

    run(store, body)


def test_terminal_controls_never_come_back(store: dict[str, Any]) -> None:
    async def body(s: Any) -> None:
        answers = [
            await s.call_tool("list_sessions", {}),
            await s.call_tool("get_session", {"session": store["api"]}),
            await s.call_tool("get_session", {"session": store["shell"]}),
            await s.call_tool("get_command", {"session": store["api"], "seq": store["evil_seq"]}),
            await s.call_tool("get_output", {"session": store["api"], "seq": store["evil_seq"]}),
            await s.call_tool("get_command", {"session": store["shell"], "seq": 6}),
            await s.call_tool("search", {"query": "c2VjcmV0"}),
            await s.call_tool("diff_output", {"a": f"{store['api']}:{store['evil_seq']}", "b": f"{store['shell']}:6"}),
        ]
        for res in answers:
            text = _text(res)
            data = _json(res)
            decoded = json.dumps(data, ensure_ascii=False)
            for c in CONTROLS:
                assert c not in text and c not in decoded, (c, text[:300])
        evil = _json(answers[4])
        assert evil["text"] == "XYZ"  # the controls went, the text around them stayed
        assert _json(answers[5])["output_head"] == "ABC\n"
        names = [x["name"] for x in _json(answers[0])["sessions"]]
        assert "evil c;c2VjcmV0" not in names and any(n and n.startswith("evil") for n in names)

    run(store, body)


def test_bad_ids_are_tool_errors_and_the_server_stays_up(store: dict[str, Any]) -> None:
    async def body(s: Any) -> None:
        bad = await s.call_tool("get_session", {"session": "00000000-0000-4000-8000-000000000000"})
        assert bad.is_error and "cfsession: session 00000000-0000-4000-8000-000000000000 not found" in _text(bad)
        bad = await s.call_tool("get_command", {"session": "last", "seq": 999})
        assert bad.is_error and "command 999 not found" in _text(bad)
        bad = await s.call_tool("get_output", {"session": "last", "seq": 1, "grep": "(unclosed"})
        assert bad.is_error and "cannot read the pattern" in _text(bad)
        bad = await s.call_tool("diff_output", {"a": "never-run-this"})
        assert bad.is_error and "no command 'never-run-this' recorded" in _text(bad)
        bad = await s.call_tool("search", {"query": "   "})
        assert bad.is_error and "empty search" in _text(bad)
        ok = _json(await s.call_tool("list_sessions", {"limit": 1}))
        assert len(ok["sessions"]) == 1 and ok["more"] is True

    run(store, body)
