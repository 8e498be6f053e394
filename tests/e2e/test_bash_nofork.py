"""bash without a fork per command: every way a line can be entered keeps its text and its
boundaries (the start marker carries no text; it comes with the end marker, or from the
echoed line when no end comes)."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

import pytest

from tests import pty_harness as h
from tests.conftest import require_bash

pytestmark = pytest.mark.pty

PS1 = f"PS1='{h.PROMPT}'\n"
PASTE_ON, PASTE_OFF = "\x1b[200~", "\x1b[201~"
_BASH = ""


@pytest.fixture(autouse=True, params=["system", "5.3"], ids=["bash", "bash5.3"])
def _each_bash(request: pytest.FixtureRequest) -> None:
    """Every test here runs under Debian's bash 5.2 and under bash 5.3."""
    global _BASH
    _BASH = require_bash(request.param)


def session(home: Path, cf_home: Path, rc: str = "") -> h.Recording:
    (home / ".bashrc").write_text(PS1 + rc)
    return h.start(_BASH, home, cf_home)


def cmds(cf_home: Path) -> list[dict[str, Any]]:
    return h.commands(cf_home)


def recorded(home: Path, cf_home: Path, rc: str, *lines: str) -> list[dict[str, Any]]:
    """Type each line at a prompt, end the session, and read its commands back."""
    rec = session(home, cf_home, rc)
    for line in lines:
        rec.run(line)
    rec.finish()
    return cmds(cf_home)


def test_pasted_lines(user_home: Path, cf_home: Path) -> None:
    rec = session(user_home, cf_home)
    rec.child.send(PASTE_ON + "echo a; echo b" + PASTE_OFF + "\r")  # one line, two commands
    rec.expect_prompt()
    rec.child.send(PASTE_ON + "echo p1\necho p2\necho p3" + PASTE_OFF + "\r")  # a block
    rec.expect_prompt()
    rec.run("true")
    rec.finish()
    got = [(c["command"], c["exit_code"], c["output"]) for c in cmds(cf_home)]
    assert got[:5] == [
        ("echo a; echo b", 0, "a\nb\n"),
        ("echo p1", None, "p1\n"),  # no prompt after it: no status (bash runs the next line)
        ("echo p2", None, "p2\n"),
        ("echo p3", 0, "p3\n"),
        ("true", 0, ""),
    ]
    assert [c["anomalies"] for c in cmds(cf_home)][1:3] == [["no_prompt_between"]] * 2


def test_pasted_block_with_a_hidden_line(user_home: Path, cf_home: Path) -> None:
    rec = session(user_home, cf_home, "HISTCONTROL=ignorespace\n")
    rec.child.send(PASTE_ON + "echo q1\n echo q2\necho q3" + PASTE_OFF + "\r")
    rec.expect_prompt()
    rec.finish()
    got = [(c["command"], c["command_source"]) for c in cmds(cf_home)][:3]
    assert got[1] == (None, "hidden")  # never the text of a neighbour
    assert got[2] == ("echo q3", "history")
    assert got[0][0] in ("echo q1", None)


def test_history_off(user_home: Path, cf_home: Path) -> None:
    got = [(c["command"], c["command_source"], c["exit_code"])
           for c in recorded(user_home, cf_home, "HISTSIZE=0\n", "echo nohist", "false")]
    # No history to read the line from: it is not recorded as text, only its run.
    assert got[:2] == [(None, "hidden", 0), (None, "hidden", 1)]


@pytest.mark.parametrize("line", ["exec bash --norc -i", "exec sleep 1"])
def test_exec(user_home: Path, cf_home: Path, line: str) -> None:
    rec = session(user_home, cf_home)
    rec.run("echo before")
    if line.startswith("exec bash"):
        rec.child.sendline(line)
        rec.child.expect(r"bash-[0-9.]+[$#] ")  # the new bash's own prompt
        rec.child.sendline("exit 3")
        rec.child.expect(h.pexpect.EOF)
        rec.child.close()
        code = 3
    else:
        code = rec.finish(line)
    c = cmds(cf_home)
    assert c[0]["command"] == "echo before" and c[0]["exit_code"] == 0
    assert (c[1]["command"], c[1]["exit_code"]) == (line, code if line.startswith("exec bash") else 0)
    assert "integration_lost" in c[1]["anomalies"]


def test_command_killed_with_the_recorder(user_home: Path, cf_home: Path) -> None:
    rec = session(user_home, cf_home)
    rec.run("echo before")
    rec.child.sendline("echo st''arted; sleep 30")
    rec.child.expect("started")
    os.kill(rec.child.pid, signal.SIGTERM)
    rec.child.expect(h.pexpect.EOF)
    rec.child.close()
    c = cmds(cf_home)
    assert [x["command"] for x in c] == ["echo before", "echo st''arted; sleep 30"]
    assert c[1]["output"].startswith("started") and "missing_end" in c[1]["anomalies"]


def test_marker_bytes_in_the_text(user_home: Path, cf_home: Path) -> None:
    rec = session(user_home, cf_home)
    # Ctrl-V Ctrl-G and Ctrl-V ESC: a literal BEL (our terminator) and ESC in the line.
    rec.child.send("echo 'a\x16\x07b' '\x16\x1b]6973;x'\r")
    rec.expect_prompt()
    rec.run("printf '%s\\n' '\\a' ';' '\\\\'")
    rec.finish()
    c = cmds(cf_home)
    assert c[0]["command"] == "echo 'a\x07b' '\x1b]6973;x'" and c[0]["exit_code"] == 0
    assert c[1]["command"] == "printf '%s\\n' '\\a' ';' '\\\\'"


def test_reverse_search_and_completion(user_home: Path, cf_home: Path) -> None:
    rec = session(user_home, cf_home)
    (user_home / "uniqfile-cfs.txt").write_text("x")
    rec.run("echo uniq-marker-1")
    rec.run("true")
    rec.child.send("\x12uniq-m")  # Ctrl-R
    rec.child.expect("reverse-i-search")
    rec.child.expect("arker-1")  # (the match is drawn with the search text highlighted)
    rec.child.send("\r")
    rec.expect_prompt()
    rec.child.send("cat uniqf\t")  # tab completion builds the line
    rec.child.expect("uniqfile-cfs.txt")
    rec.child.send("\r")
    rec.expect_prompt()
    rec.finish()
    got = [(c["command"], c["command_source"]) for c in cmds(cf_home)][:4]
    assert got == [
        ("echo uniq-marker-1", "history"),
        ("true", "history"),
        ("echo uniq-marker-1", "history"),
        ("cat uniqfile-cfs.txt ", "history"),
    ]


def test_vi_mode(user_home: Path, cf_home: Path) -> None:
    rec = session(user_home, cf_home, "set -o vi\n")
    rec.run("echo vi-one")
    rec.child.send("echo typo")
    rec.child.expect("typo")
    rec.child.send("\x1b0cwprintf\x1b")  # ESC, to the start, change the word
    rec.child.expect("printf")
    rec.child.send("A\\\\n\r")
    rec.expect_prompt()
    rec.finish()
    got = [(c["command"], c["exit_code"]) for c in cmds(cf_home)][:2]
    assert got == [("echo vi-one", 0), ("printf typo\\\\n", 0)]


def test_user_prompt_command_array_and_ps0_kept(user_home: Path, cf_home: Path) -> None:
    rec = session(user_home, cf_home, "PROMPT_COMMAND=('echo \"[a=$?]\"' 'echo \"[b=$?]\"')\nPS0='[ps0]'\n")
    out = rec.run("sh -c 'exit 4'")
    rec.finish()
    assert out.count("[ps0]") == 1 and "[a=4]" in out and "[b=4]" in out
    assert out.index("[ps0]") < out.index("[a=4]") < out.index("[b=4]")
    c = cmds(cf_home)
    assert (c[0]["command"], c[0]["exit_code"], c[0]["output"]) == ("sh -c 'exit 4'", 4, "")


def test_last_prompt_element_dropped(user_home: Path, cf_home: Path) -> None:
    # Our first PROMPT_COMMAND element saves $? for both of ours and the last clears it:
    # a user who keeps only element 0 must not leave the first reading a stale status.
    lines = ('PROMPT_COMMAND=("${PROMPT_COMMAND[0]}")', "false | true | (exit 3)", "true", "(exit 4)")
    got = [(c["command"], c["exit_code"], c["pipestatus"]) for c in recorded(user_home, cf_home, "", *lines)]
    assert got[1:4] == [("false | true | (exit 3)", 3, [1, 0, 3]), ("true", 0, [0]), ("(exit 4)", 4, [4])]


def test_child_shell_with_everything_exported(user_home: Path, cf_home: Path) -> None:
    # `set -a` exports every variable assigned after it, our hooks' too, and the child
    # inherits PS0 and PS1 with our markers in them: it must not add boundaries of its own
    # (the markers' head is an array, which bash never exports).
    rec = session(user_home, cf_home, "set -a\nexport PS0 PS1\n")
    rec.run("echo before")
    rec.run("bash --norc -i")  # the child prints the same prompt
    rec.run("echo in-child")
    rec.run("exit")
    rec.run("echo after")
    rec.finish()
    c = cmds(cf_home)
    assert [x["command"] for x in c] == ["echo before", "bash --norc -i", "echo after"]
    assert "in-child" in c[1]["output"] and c[1]["exit_code"] == 0
    assert "\x1b]" not in c[1]["output"]  # nor any marker of the child's in the output


@pytest.mark.parametrize(
    "line",
    [
        "PROMPT_COMMAND='echo \"[pc=$?]\"'",  # replaces element 0, our hook
        "PROMPT_COMMAND+=('echo \"[pc=$?]\"')",  # runs after ours
        "PROMPT_COMMAND=\"$PROMPT_COMMAND; echo \\\"[pc=\\$?]\\\"\"",  # our hook's text in it
    ],
)
def test_prompt_command_added_to_none(user_home: Path, cf_home: Path, line: str) -> None:
    # With no prompt command of the user's, PROMPT_COMMAND holds one function of ours and
    # a last element that runs none unless that function did not run: every way of adding
    # one keeps every boundary and status, and the user's runs once per prompt.
    rec = session(user_home, cf_home)
    rec.run("true")
    rec.run(line)
    out = rec.run("sh -c 'exit 3'")
    out2 = rec.run("false")
    rec.finish()
    got = [(c["command"], c["exit_code"], c["pipestatus"]) for c in cmds(cf_home)]
    assert got == [("true", 0, [0]), (line, 0, [0]), ("sh -c 'exit 3'", 3, [3]), ("false", 1, [1])]
    assert out.count("[pc=") == 1 and "[pc=3]" in out and out2.count("[pc=") == 1 and "[pc=1]" in out2
    assert cmds(cf_home)[3]["output"] == ""  # the prompt command's output is the prompt's


def test_multi_line_command_kept_as_typed(user_home: Path, cf_home: Path) -> None:
    # lithist keeps a multi-line command's newlines in history, trailing spaces included:
    # the text read back loses only history's own line end.
    lines = ("for i in 1 2; do\necho n$i  \ndone", "echo 'tail '  ")
    got = [(c["command"], c["exit_code"], c["output"]) for c in recorded(user_home, cf_home, "shopt -s lithist\n", *lines)]
    assert got == [("for i in 1 2; do\necho n$i  \ndone", 0, "n1\nn2\n"), ("echo 'tail '  ", 0, "tail \n")]


def test_the_users_fd_3_is_left_as_it_was(user_home: Path, cf_home: Path) -> None:
    """The hook reads `history` back through fd 3: a user's own fd 3 (a log opened in the
    rc file) keeps its file and its offset across prompts."""
    log = user_home / "fd3.log"
    got = recorded(user_home, cf_home, f"exec 3>>'{log}'\n", "echo a >&3", "echo b >&3; echo shown", "readlink /proc/$$/fd/3")
    assert log.read_text() == "a\nb\n"
    assert [c["command"] for c in got] == ["echo a >&3", "echo b >&3; echo shown", "readlink /proc/$$/fd/3"]
    assert got[1]["output"] == "shown\n"
    assert got[2]["output"] == f"{log}\n"


def test_first_prompt_left_empty_then_commands(user_home: Path, cf_home: Path) -> None:
    # bash 5.3 numbers the first prompt 1 where 5.2 numbers it 0 (both call the first
    # command 1): nothing typed there, then an interrupted line, must not become a command,
    # and the first real one keeps its text and status.
    rec = session(user_home, cf_home)
    rec.child.sendline("")
    rec.expect_prompt()
    rec.child.send("echo never\x03")
    rec.expect_prompt()
    rec.run("false")
    rec.run("echo x")
    rec.finish()
    got = [(c["command"], c["exit_code"], c["command_source"]) for c in cmds(cf_home)]
    assert got == [("false", 1, "history"), ("echo x", 0, "history")]


def test_first_command_of_the_session(user_home: Path, cf_home: Path) -> None:
    got = [(c["command"], c["exit_code"], c["command_source"])
           for c in recorded(user_home, cf_home, "", "echo first", "false")]
    assert got == [("echo first", 0, "history"), ("false", 1, "history")]
