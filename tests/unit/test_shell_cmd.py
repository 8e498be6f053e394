"""The generated cmd.exe integration: /k launch, PROMPT markers, and the Clink Lua script."""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from cfsession.parts import PartJoiner
from cfsession.segmenter import Mark, Segmenter
from cfsession.shell import OSC_NUM, LaunchContext, prepare, pwsh
from cfsession.shell import cmd as cmd_mod

NONCE = "fedcba9876543210fedcba9876543210"


def ctx_for(tmp: Path, env: dict[str, str] | None = None) -> LaunchContext:
    return LaunchContext(
        shell="C:\\Windows\\System32\\cmd.exe",
        kind="cmd",
        nonce=NONCE,
        login=False,
        env=dict(env or {"PATH": "C:\\Windows"}),
        tmpdir=tmp,
    )


def cmd_expand_percent(text: str, env: dict[str, str]) -> str:
    """cmd's one-pass %VAR% expansion of a command line (no re-expansion of the result)."""
    return re.sub(r"%([^%]+)%", lambda m: env.get(m.group(1), m.group(0)), text)


@pytest.mark.parametrize(
    "dirname",
    ["plain", "with space", "a&b (x86) ^caret", "100%%d %PATH% it's", "J\u00fcrgen \u65e5\u672c"],
)
def test_launch_needs_no_quoting_on_the_command_line(tmp_path: Path, dirname: str) -> None:
    tmp = tmp_path / dirname
    tmp.mkdir()
    launch = prepare(ctx_for(tmp))
    init = tmp / "init.cmd"
    assert launch.integrated
    assert launch.argv == ["C:\\Windows\\System32\\cmd.exe", "/k", "%CFSESSION_CMD_INIT%"]
    # pywinpty builds the command line with list2cmdline: nothing to escape there.
    assert subprocess.list2cmdline(launch.argv[1:]) == "/k %CFSESSION_CMD_INIT%"
    assert launch.env["CFSESSION_CMD_INIT"] == f'"{init}"'
    # cmd expands the variable once: the quoted path, special characters and all.
    assert cmd_expand_percent(launch.argv[2], launch.env) == f'"{init}"'
    assert launch.secrets == [init, tmp / "cfsession.lua"]
    for f in launch.secrets:
        assert stat.S_IMODE(f.stat().st_mode) == 0o600
    assert all(NONCE not in v for v in launch.env.values())
    assert all(NONCE not in a for a in launch.argv)


def test_clink_path_is_prepended(tmp_path: Path) -> None:
    launch = prepare(ctx_for(tmp_path, {"CLINK_PATH": "C:\\clink\\scripts"}))
    assert launch.env["CLINK_PATH"] == f"{tmp_path};C:\\clink\\scripts"
    assert prepare(ctx_for(tmp_path)).env["CLINK_PATH"] == str(tmp_path)


def test_a_double_quote_in_the_temp_path_means_unsegmented(tmp_path: Path) -> None:
    tmp = tmp_path / 'a"b'
    tmp.mkdir()
    launch = prepare(ctx_for(tmp))
    assert not launch.integrated and "double quote" in (launch.reason or "")
    assert launch.argv == ["C:\\Windows\\System32\\cmd.exe"]


def test_init_cmd_is_ascii_crlf_and_path_free(tmp_path: Path) -> None:
    raw = cmd_mod.render_init(ctx_for(tmp_path)).encode("ascii")
    assert b"\n" not in raw.replace(b"\r\n", b"")  # CRLF only
    text = raw.decode()
    assert str(tmp_path) not in text  # the file never names its own path (non-ASCII safe)
    assert not re.search(r"@[A-Z]+@", text)
    assert text.startswith("@echo off\r\n")
    assert 'set "CFSESSION_CMD_INIT="' in text  # not inherited by child processes
    # cmd expands %…% even in remarks (and %~ there is a syntax error): none in comments.
    assert all("%" not in ln for ln in text.splitlines() if ln.lower().startswith("rem"))


def prompt_value(tmp: Path) -> str:
    text = cmd_mod.render_init(ctx_for(tmp))
    (line,) = [ln for ln in text.splitlines() if ln.startswith('set "PROMPT=$E')]
    return line[len('set "PROMPT=') : -1]


def cmd_expand_prompt(value: str, cwd: str) -> str:
    """What cmd prints for a PROMPT value ($-codes as documented for `prompt /?`)."""
    codes = {
        "E": "\x1b",
        "P": cwd,
        "G": ">",
        "L": "<",
        "B": "|",
        "A": "&",
        "Q": "=",
        "S": " ",
        "_": "\r\n",
        "$": "$",
    }
    return re.sub(r"\$(.)", lambda m: codes.get(m.group(1).upper(), ""), value)


def test_prompt_markers_in_order_with_the_users_prompt_kept(tmp_path: Path) -> None:
    value = prompt_value(tmp_path)
    users = "$P$G"  # cmd's default, used when PROMPT is unset
    cwd = "C:\\Users\\x64;dir\\\\xff"  # `;` and `\x..` stay raw in rawcwd
    shown = cmd_expand_prompt(cmd_expand_percent(value, {"PROMPT": users}), cwd)
    marks = re.findall(rf"\x1b\]{OSC_NUM};{NONCE};(\d+);(.*?)\x1b\\", shown)
    assert [m[1].split(";", 1)[0] for m in marks] == ["H", "D", "P", "A", "B"]
    assert {m[0] for m in marks} == {"0"}  # a static PROMPT cannot count: unsequenced
    assert marks[0][1] == "H;shell=cmd;proto=1;rich=0"
    assert marks[2][1] == f"P;rawcwd={cwd}"  # last field, raw, up to the terminator
    # Between A and B: exactly the user's own prompt.
    between = shown.split("0;A\x1b\\", 1)[1].rsplit(f"\x1b]{OSC_NUM}", 1)[0]
    assert between == cwd + ">"


def test_first_prompt_marker_passes_the_recorder_segmenter(tmp_path: Path) -> None:
    value = prompt_value(tmp_path)
    shown = cmd_expand_prompt(cmd_expand_percent(value, {"PROMPT": "$P$G"}), "C:\\w")
    pieces = Segmenter(NONCE).feed(shown.encode())
    marks = [p for p in pieces if isinstance(p, Mark)]
    # The first seq-0 marker parses; the ones after it need the segmenter to take seq 0 as
    # "unsequenced" for cmd sessions (a change in segmenter.py, asked of its owner).
    assert marks[0] == Mark("H", 0, {"shell": "cmd", "proto": "1", "rich": "0"})


# -- Clink ------------------------------------------------------------------------------------

LUA = shutil.which("lua5.4") or shutil.which("lua5.3") or shutil.which("lua")

DRIVER = r"""
local out = {}
NONL = {}
SETTINGS = {["history.ignore_space"] = true, ["cmd.get_errorlevel"] = true}
settings = {get = function(name) return SETTINGS[name] end}
local on_begin, on_end, filters = nil, nil, {}
clink = {
  version_encoded = 10060013,
  print = function(...)
    for _, v in ipairs({...}) do if v ~= NONL then out[#out + 1] = v end end
  end,
  onbeginedit = function(f) on_begin = f end,
  onendedit = function(f) on_end = f end,
  promptfilter = function(prio) local t = {prio = prio}; filters[#filters + 1] = t; return t end,
}
local cwd, el = "C:\\Users\\J\195\188rgen\\x64;dir", 0
os.getpid = function() return 4242 end
os.getcwd = function() return cwd end
os.geterrorlevel = function() return el end
local function slurp(p) local f = assert(io.open(p, "rb")); local s = f:read("*a"); f:close(); return s end
dofile(arg[1])
on_begin()                    -- first prompt: H, bare D, P, A
on_end("echo hi")
el = 3; on_begin()            -- D st=3
on_end("   ")                 -- blank line: no command
on_begin()                    -- bare D
on_end(" secret --token x")   -- leading space: hidden
el = 0; on_begin()
on_end(slurp(arg[2]))         -- a long non-ASCII line: parts
SETTINGS["cmd.get_errorlevel"] = false
on_begin()                    -- st empty: ran, code unknown
io.write(table.concat(out))
io.write("\n--PROMPT--\n")
io.write(filters[1]:filter(slurp(arg[3])))
io.write("\n--PRIO--\n" .. tostring(filters[1].prio))
"""


@pytest.fixture
def clink_run(tmp_path: Path) -> tuple[list[Mark], bytes, str, str]:
    if LUA is None:
        if os.environ.get("CI"):
            pytest.fail("no Lua interpreter: .ci/run installs lua5.4")
        pytest.skip("no Lua interpreter (apt-get install lua5.4)")
    lua_file = tmp_path / "cfsession.lua"
    lua_file.write_text(cmd_mod.render_clink(ctx_for(tmp_path)), encoding="ascii")
    driver = tmp_path / "driver.lua"
    driver.write_text(DRIVER, encoding="ascii")
    long_line = "echo " + "\u00e9t\u00e9;\\x64 \u65e5\u672c \U0001f600 " * 40
    (tmp_path / "long.txt").write_bytes(long_line.encode())
    shown = cmd_expand_prompt(
        cmd_expand_percent(prompt_value(tmp_path), {"PROMPT": "$P$G"}), "C:\\w"
    )
    (tmp_path / "prompt.txt").write_bytes(shown.encode())
    res = subprocess.run(
        [LUA, str(driver), str(lua_file), str(tmp_path / "long.txt"), str(tmp_path / "prompt.txt")],
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert res.returncode == 0, res.stderr.decode(errors="replace")
    wire, rest = res.stdout.split(b"\n--PROMPT--\n")
    prompt, prio = rest.split(b"\n--PRIO--\n")
    seg = Segmenter(NONCE)
    joiner = PartJoiner()
    marks = []
    for piece in seg.feed(wire) + [seg.flush()]:
        if isinstance(piece, Mark):
            m = joiner.feed(piece)
            if m is not None:
                marks.append(m)
        else:
            assert piece == b"", piece  # nothing but markers
    assert joiner.lost == 0 and seg.spoof_attempts == 0
    return marks, wire, prompt.decode(), long_line + "|" + prio.decode()


def test_clink_events(clink_run: tuple[list[Mark], bytes, str, str]) -> None:
    marks, _wire, _prompt, _ = clink_run
    cwd = "C:\\Users\\J\u00fcrgen\\x64;dir"
    pid = {"pid": "4242"}
    ev = [(m.event, m.fields) for m in marks]
    assert ev[:5] == [
        ("H", {"shell": "cmd", "proto": "1", "rich": "1", "clink": "10060013", **pid}),
        ("D", {"cmdno": "0", **pid}),
        ("P", {"cwd": cwd, **pid}),
        ("A", pid),
        ("C", {"cmd": "echo hi", "src": "readline", "cmdno": "1", **pid}),
    ]
    assert ev[5] == ("D", {"cmdno": "1", "st": "3", **pid})
    assert ev[8] == ("D", {"cmdno": "1", **pid})  # the blank line ran nothing
    assert ev[11] == ("C", {"src": "hidden", "cmdno": "2", **pid})  # no text at all
    assert ev[12] == ("D", {"cmdno": "2", "st": "0", **pid})
    assert ev[-3] == ("D", {"cmdno": "3", "st": "", **pid})  # errorlevel off: ran, code unknown
    assert [m.seq for m in marks] == sorted(m.seq for m in marks)


def test_clink_long_line_in_parts_matches_the_reference(
    clink_run: tuple[list[Mark], bytes, str, str],
) -> None:
    marks, wire, _prompt, extra = clink_run
    long_line = extra.rsplit("|", 1)[0]
    (c,) = [m for m in marks if m.event == "C" and m.fields.get("cmdno") == "3"]
    assert c.fields == {"cmd": long_line, "src": "readline", "cmdno": "3", "pid": "4242"}
    # Byte for byte what the Python reference (and the PowerShell code) would send.
    seq = c.seq - len(pwsh.split_escaped(pwsh.escape_ascii(long_line), pwsh.PART))
    ref, _ = pwsh.encode_event(
        NONCE,
        seq,
        "C",
        ["src=readline", "cmdno=3", "pid=4242"],
        "cmd",
        pwsh.escape_ascii(long_line),
    )
    assert ref in wire
    assert max(len(m) for m in wire.split(b"\x07")) < 200


def test_clink_strips_the_prompt_markers(clink_run: tuple[list[Mark], bytes, str, str]) -> None:
    _marks, _wire, prompt, extra = clink_run
    assert prompt == "C:\\w>"
    assert extra.endswith("|-1000")  # runs before other prompt filters


def test_lua_template_rendered(tmp_path: Path) -> None:
    text = cmd_mod.render_clink(ctx_for(tmp_path))
    assert not re.search(r"@[A-Z]+@", text)
    assert text.count(NONCE) == 2  # the marker intro and the prompt-strip pattern
    assert f"local PART = {pwsh.PART}" in text and f"local MAXCMD = {pwsh.MAX_CMD}" in text
    assert text.isascii()


@pytest.mark.windows
@pytest.mark.skipif(os.name != "nt", reason="needs cmd.exe")
def test_real_cmd_runs_init(tmp_path: Path) -> None:
    launch = prepare(ctx_for(tmp_path, dict(os.environ)))
    res = subprocess.run(
        [
            os.environ.get("COMSPEC", "cmd.exe"),
            "/d",
            "/c",
            "call %CFSESSION_CMD_INIT% && set PROMPT",
        ],
        env=launch.env,
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert f"{OSC_NUM};{NONCE};0;H".encode() in res.stdout
