"""Everyday use as a new user meets it: the real CLI, on a real PTY where a terminal
matters and on pipes where it does not.

Display never changes data; capture state is visible; counts follow one rule in every
shell; `last` and the nesting tree; and the smaller things a user trips over.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pexpect
import pytest

from tests import pty_harness as h
from tests import shells_factory as sf
from tests.conftest import require_shell

pytestmark = pytest.mark.pty

_SGR = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def cli(cf_home: Path, *args: str, cwd: Path | None = None, **env: str) -> subprocess.CompletedProcess[str]:
    """The CLI on pipes (stdout and stderr captured)."""
    full = {**os.environ, "CFSESSION_HOME": str(cf_home), **env}
    full.pop("CFSESSION_ID", None)
    return subprocess.run(h.cfsession_argv(*args), capture_output=True, text=True, env=full,
                          cwd=cwd, timeout=60, stdin=subprocess.DEVNULL)


def on_terminal(cf_home: Path, *args: str, cols: int = 80, cwd: Path | None = None) -> str:
    """The CLI's output on a real terminal ``cols`` wide, escape sequences removed."""
    env = {**os.environ, "CFSESSION_HOME": str(cf_home), "TERM": "xterm-256color", "NO_COLOR": "1"}
    for name in ("COLUMNS", "LINES", "CFSESSION_ID"):
        env.pop(name, None)
    child = pexpect.spawn(sys.executable, ["-m", "cfsession", *args], env=env, cwd=str(cwd) if cwd else None,
                          encoding="utf-8", timeout=30, dimensions=(50, cols))
    child.expect(pexpect.EOF)
    child.close()
    return _SGR.sub("", str(child.before)).replace("\r", "")  # the terminal's CR LF, as LF


def load_last(cf_home: Path) -> list[dict[str, Any]]:
    return h.load(h.sessions(cf_home)[-1])


# -- 2. display never changes data ------------------------------------------------------------
def test_show_output_on_a_pipe_is_never_wrapped(cf_home: Path, tmp_path: Path) -> None:
    where = tmp_path / "a-rather-long-working-directory"
    where.mkdir()
    assert cli(cf_home, "record", "-q", "--", "sh", "-c", "printf '%0200d\\n' 7", cwd=where).returncode == 0
    out = cli(cf_home, "show", "last", "--output", COLUMNS="80").stdout
    assert "0" * 199 + "7" in out.splitlines()  # one line, as recorded, whatever $COLUMNS says
    assert sum("0" * 10 in line for line in out.splitlines()) == 1  # grep -c counts right
    listed = cli(cf_home, "list", COLUMNS="40").stdout
    assert "complete" in listed and str(where) in listed  # nothing cut on a pipe


@pytest.fixture
def narrow_store(cf_home: Path, tmp_path: Path) -> Path:
    where = tmp_path / "a-rather-long-working-directory" / "ux1"
    where.mkdir(parents=True)
    for argv in (["seq", "1", "300000"], ["sh", "-c", "echo permission denied >&2; exit 1"]):
        assert cli(cf_home, "record", "-q", "--", *argv, cwd=where).returncode in (0, 1)
    return where


@pytest.mark.parametrize("cols", [40, 60, 80, 120])
def test_tables_on_a_terminal_mark_every_cut(cf_home: Path, narrow_store: Path, cols: int) -> None:
    names = {"id", "parent", "started", "duration", "cmds", "failed", "status", "name", "shell", "host",
             "cwd", "seq", "exit", "command", "session", "match"}
    for args in (("list",), ("show", "last"), ("search", "denied")):
        out = on_terminal(cf_home, *args, cols=cols, cwd=narrow_store)
        lines = out.splitlines()
        assert all(len(line) <= cols for line in lines), (args, out)
        header = next(line for line in lines if line.strip().startswith(("id", "seq", "session")))
        assert set(header.split()) <= names, (args, header)  # no header cut to "c" or "matc"
        assert not re.search(r"complet(?!e)", out), out  # a status is shown whole or not at all
        for line in lines[lines.index(header):]:  # in the table, a piece of the cwd is the whole cwd or says it was cut
            if "ux1" in line or "a-rather" in line:
                assert str(narrow_store) in line or "…" in line, (args, line)
    show = on_terminal(cf_home, "show", re.sub(r"\s.*", "", _id_of(cf_home, "seq 1 300000")), cols=cols)
    assert "300000" in show  # the command column takes the space: never `seq 1 30`


def _id_of(cf_home: Path, command: str) -> str:
    for path in h.sessions(cf_home):
        recs = h.load(path)
        if any(r.get("command") == command for r in recs):
            return str(recs[0]["session_id"])
    raise AssertionError(command)


# -- 3. capture state is visible ---------------------------------------------------------------
def test_pause_key_named_announced_and_shown_everywhere(user_home: Path, cf_home: Path, tmp_path: Path) -> None:
    (user_home / ".bashrc").write_text(f"PS1='{h.PROMPT}'\n")
    rec = h.start(require_shell("bash"), user_home, cf_home, args=("--pause-key", "C-]"), wait_prompt=False)
    rec.child.expect("Ctrl-\\] pauses and resumes capture")
    assert "\\x1d" not in str(rec.child.before)
    rec.expect_prompt()
    rec.run("echo one")
    rec.child.send("\x1d")
    rec.child.expect(re.escape("[cfsession: recording paused — Ctrl-] resumes]"))
    rec.run("echo hidden-while-paused")
    rec.child.send("\x1d")
    rec.child.expect(re.escape("[cfsession: recording resumed]"))
    rec.run("echo two")
    assert rec.finish() == 0
    jsonl = h.sessions(cf_home)[0]
    sid = jsonl.stem
    cast = jsonl.with_suffix(".cast").read_text()
    assert "Ctrl-] resumes" not in cast and "hidden-while-paused" not in cast  # not in the recording
    show = cli(cf_home, "show", sid).stdout
    assert "capture paused" in show and "paused" in show
    detail = json.loads(cli(cf_home, "show", sid, "--json").stdout)
    (gap,) = detail["gaps"]
    assert gap["after_command"] == 1 and gap["skipped_commands"] == 1 and gap["paused_ms"] > 0
    assert "[cfsession: recording paused]" in cli(cf_home, "replay", sid, "--no-wait").stdout
    text = cli(cf_home, "export", sid, "--format", "text").stdout
    assert re.search(r"\$ echo one\none\n\n\[capture paused [0-9.]+ s; 1 command not recorded\]\n\n\$ echo two", text), text
    assert "capture paused" in cli(cf_home, "export", sid, "--format", "markdown").stdout
    page = cli(cf_home, "export", sid, "--format", "html").stdout
    assert "Capture was paused 1 time: [capture paused " in page
    from cfsession import api

    (g,) = api.get_session(sid, home=cf_home).gaps
    assert g.after_command == 1 and g.resumed_at is not None


# -- 4. honest counts: one rule in every shell -------------------------------------------------
@pytest.mark.parametrize("kind", ["bash", "zsh", "fish"])
def test_exit_is_the_end_not_a_command_in_every_shell(kind: str, user_home: Path, cf_home: Path) -> None:
    sf.write_rc(kind, user_home)
    sh = sf.start(kind, require_shell(kind), user_home, cf_home)
    sh.run("false")
    sh.run("echo ok")
    assert sh.finish("exit") == 0
    recs = load_last(cf_home)
    assert [r["command"] for r in recs if r["event_type"] == "terminal_capture"] == ["false", "echo ok"]
    end = recs[-1]
    assert (end["command_count"], end["failed_count"], end["end_command"]) == (2, 1, "exit")
    listed = json.loads(cli(cf_home, "list", "--json").stdout)
    assert (listed[0]["command_count"], listed[0]["failed_count"]) == (2, 1)
    stats = json.loads(cli(cf_home, "stats", "--json").stdout)
    assert [p["program"] for p in stats["most_used"]] == ["echo", "false"]  # no `exit`
    assert (stats["command_count"], stats["failed_count"]) == (2, 1)


def test_a_stopped_job_is_not_a_failure(user_home: Path, cf_home: Path) -> None:
    (user_home / ".bashrc").write_text(f"PS1='{h.PROMPT}'\n")
    rec = h.start(require_shell("bash"), user_home, cf_home)
    rec.child.sendline("sleep 30")
    h.wait_foreground(rec.child.pid, "sleep")
    rec.child.sendcontrol("z")
    rec.expect_prompt()
    # `wait`: bash must have reaped the killed job before `exit`, or it refuses with
    # "There are stopped jobs." (it learns of the kill asynchronously).
    rec.run("kill -9 %1; wait")
    assert rec.finish() == 0
    caps = [r for r in load_last(cf_home) if r["event_type"] == "terminal_capture"]
    assert (caps[0]["status_kind"], caps[0]["exit_code"]) == ("stopped", 148)
    assert load_last(cf_home)[-1]["failed_count"] == 0
    assert "0 failed" in cli(cf_home, "show", "last").stdout


# -- 5. last and the nesting tree ------------------------------------------------------------------
def test_last_is_the_outer_session_and_the_tree_reads_down(user_home: Path, cf_home: Path) -> None:
    (user_home / ".bashrc").write_text(f"PS1='{h.PROMPT}'\n")
    rec = h.start(require_shell("bash"), user_home, cf_home)
    inner = " ".join(shlex.quote(a) for a in h.cfsession_argv("record", "-q", "--", "true"))
    rec.run(inner)
    # Inside the outer shell, `last` is the nested one it just ran.
    inside = rec.run(" ".join(shlex.quote(a) for a in h.cfsession_argv("show", "last", "--json")))
    assert '"session_type": "command"' in inside
    assert rec.finish() == 0
    outer_id = json.loads(cli(cf_home, "list", "--json").stdout)[-1]["session_id"]
    by_type = {json.loads(p.read_text().splitlines()[0])["session_type"]: p.stem for p in h.sessions(cf_home)}
    assert outer_id == by_type["interactive"]
    shown = json.loads(cli(cf_home, "show", "last", "--json").stdout)
    assert shown["session"]["session_id"] == by_type["interactive"]  # not the child
    rows = [line for line in cli(cf_home, "list").stdout.splitlines() if line.strip()[:8] in (
        by_type["interactive"][:8], by_type["command"][:8])]
    assert [r.strip()[:8] for r in rows] == [by_type["interactive"][:8], by_type["command"][:8]]
    assert "└" in rows[1]
    assert "top-level" in cli(cf_home, "show", "--help").stdout


# -- 7. the smaller things -----------------------------------------------------------------------
def test_end_line_full_hash_singular_and_column_zero_after_ctrl_c(cf_home: Path, user_home: Path) -> None:
    proc = cli(cf_home, "record", "--", "true")
    assert re.search(r": 1 command, 0 failed — .*\(final hash [0-9a-f]{64}\)\n$", proc.stderr), proc.stderr
    env = h.base_env(user_home, cf_home)
    child = pexpect.spawn(sys.executable, ["-m", "cfsession", "record", "--", "sh", "-c", "printf partial; sleep 30"],
                          env=env, encoding="utf-8", timeout=30)
    child.expect("partial")
    h.wait_foreground(child.pid, "sleep")
    child.sendcontrol("c")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 130
    assert re.search(r"\n\r?cfsession: session ", str(child.before)), repr(child.before)


def test_typeahead_is_flagged(user_home: Path, cf_home: Path) -> None:
    (user_home / ".bashrc").write_text(f"PS1='{h.PROMPT}'\n")
    rec = h.start(require_shell("bash"), user_home, cf_home)
    rec.child.sendline("sleep 2")
    h.wait_foreground(rec.child.pid, "sleep")
    rec.child.sendline("echo ahead")  # typed while sleep runs: the terminal echoes it
    rec.expect_prompt()
    rec.expect_prompt()
    rec.run("echo after")
    assert rec.finish() == 0
    caps = {c["command"]: c for c in h.commands(cf_home)}
    assert "typeahead" in caps["sleep 2"]["anomalies"]
    assert "typeahead" not in caps["echo after"]["anomalies"]


def test_replay_command_shows_its_line_and_ends_at_column_zero(cf_home: Path) -> None:
    cli(cf_home, "record", "-q", "--", "sh", "-c", "printf partial")
    out = on_terminal(cf_home, "replay", "last", "--command", "1", "--no-wait")
    assert out.startswith("$ sh -c 'printf partial'\npartial")
    assert out.endswith("partial\n")  # the next prompt starts on a line of its own


def test_help_flags_queries_and_verify_messages(cf_home: Path, user_home: Path) -> None:
    helped = cli(cf_home, "record", "--help")
    assert helped.returncode == 0 and "╭─ Options" in helped.stdout and "--no-pty" in helped.stdout
    cli(cf_home, "record", "-q", "--", "sh", "-c", "echo hi")
    assert cli(cf_home, "show", "last", "-O").stdout.count("hi") >= 2  # -O: --output
    bad = cli(cf_home, "show", "last", "-o")
    assert bad.returncode == 2  # -o is a file (export -o FILE), never something else
    query = cli(cf_home, "search", '"unclosed')
    assert query.returncode == 2 and "invalid query" in query.stderr
    assert cli(cf_home, "search", "foo-bar").returncode == 0  # punctuation only: the words
    # A hand-edited file: show still shows it, and says verify would fail.
    path = h.sessions(cf_home)[0]
    path.write_text(path.read_text().replace('"exit_code":0,', '"exit_code":5,', 1))
    shown = cli(cf_home, "show", "last")
    assert shown.returncode == 0 and "would fail" in shown.stderr
    # verify of a session still being recorded says so.
    (user_home / ".bashrc").write_text(f"PS1='{h.PROMPT}'\n")
    rec = h.start(require_shell("bash"), user_home, cf_home)
    seen = rec.run(" ".join(shlex.quote(a) for a in h.cfsession_argv("verify")) + ' "$CFSESSION_ID"')
    assert "still recording" in seen
    assert rec.finish() == 0
