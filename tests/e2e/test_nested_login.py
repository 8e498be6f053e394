"""Login bash, recorders inside recorders, shells inside the recorded shell (§9: 1, 21, 22)."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from tests import pty_harness as h
from tests import shells_factory as sf
from tests.conftest import require_shell

pytestmark = pytest.mark.pty

LOGIN = "shopt -q login_shell && echo LOGIN-YES"


def _by_parent(cf_home: Path) -> tuple[list[dict], list[dict]]:
    """(outer, inner) records of a two-session store."""
    files = [h.load(p) for p in h.sessions(cf_home)]
    outer = [f for f in files if f[0]["parent_session_id"] is None]
    inner = [f for f in files if f[0]["parent_session_id"] is not None]
    assert len(outer) == 1 and len(inner) == 1
    return outer[0], inner[0]


def _commands(lines: list[dict]) -> list[dict]:
    return [r for r in lines if r["event_type"] == "terminal_capture"]


def test_bash_login_shell_gives_the_same_records(user_home: Path, cf_home: Path) -> None:
    """`record --login`: bash reads the profile (not --init-file) and records as usual."""
    bash = require_shell("bash")
    sf.write_rc("bash", user_home)
    sf.make_dirs(user_home)
    sh = sf.start("bash", bash, user_home, cf_home, args=("--login",))
    assert sf.tokens(sh.startup) == ["bash_profile", "bashrc"]  # the profile sources .bashrc
    steps = [sf.Step(LOGIN, LOGIN, 0, "LOGIN-YES\n"), *sf.ORDINARY]
    assert sf.run_steps(sh, steps) == 5
    sf.check_steps(sf.commands(cf_home), sf.steps_for("bash", steps), user_home)
    sf.assert_clean(sh, cf_home)


def test_bash_multiline_paste_is_one_command_per_line(user_home: Path, cf_home: Path) -> None:
    """§9.24: bash runs a pasted buffer line by line with one prompt at the end."""
    bash = require_shell("bash")
    sf.write_rc("bash", user_home)
    sh = sf.start("bash", bash, user_home, cf_home)
    sh.paste("echo p1\necho p2")
    assert sh.finish(None) == 0
    got = [(c["command"], c["exit_code"], c["output"]) for c in sf.commands(cf_home)]
    assert got == [("echo p1", None, "p1\n"), ("echo p2", 0, "p2\n")]
    assert "no_prompt_between" in sf.commands(cf_home)[0]["anomalies"]


def test_nested_recorder_is_a_child_session(user_home: Path, cf_home: Path) -> None:
    bash = require_shell("bash")
    sf.write_rc("bash", user_home)
    sh = sf.start("bash", bash, user_home, cf_home)
    inner_cmd = f"{sys.executable} -m cfsession record --shell {bash}"
    outer_n = sh.n
    sh.child.sendline(inner_cmd)
    sh.n = 0  # the inner bash counts its own prompts
    notice = sh.expect_prompt()
    sh.run("echo in-$CFSESSION_ID")
    sh.child.sendline("exit 7")
    sh.n = outer_n
    after = sh.expect_prompt()
    sh.run("echo back")
    assert sh.finish() == 0

    outer, inner = _by_parent(cf_home)
    outer_id, inner_id = outer[0]["session_id"], inner[0]["session_id"]
    assert inner[0]["parent_session_id"] == outer_id
    # One line tells the user where they are, once.
    assert re.findall(
        r"cfsession: recording ([0-9a-f-]{36}) \(nested in ([0-9a-f-]{36})\)", notice
    ) == [(inner_id, outer_id)]
    got_inner = [(c["command"], c["exit_code"], c["output"]) for c in _commands(inner)]
    assert got_inner == [("echo in-$CFSESSION_ID", 0, f"in-{inner_id}\n")]
    assert inner[-1]["exit_code"] == 7 and inner[-1]["end_command"] == "exit 7"
    got_outer = [(c["command"], c["exit_code"]) for c in _commands(outer)]
    assert got_outer == [(inner_cmd, 7), ("echo back", 0)]  # `exit` ends it: not a command
    nested = _commands(outer)[0]
    assert f"in-{inner_id}" in nested["output"]  # the child session is the outer command's output
    assert "session" in after and inner_id in after  # the inner end-of-session line
    # The read side shows the nesting: show lists the child, list shows the parent.
    from cfsession import api
    from cfsession.cli import listing as cli_listing
    from cfsession.cli import table

    assert api.get_session(outer_id, home=cf_home).session["children"] == [inner_id]
    assert api.get_session(inner_id, home=cf_home).session["children"] == []
    listing = table.render(*cli_listing.list_view(api.list_sessions(home=cf_home), 140), table.Screen(140, None))
    assert f"└ {outer_id[:6]}" in listing and inner_id[:8] in listing


def test_exec_bash_loses_integration(user_home: Path, cf_home: Path) -> None:
    """After `exec bash` no marker comes any more: the rest is one command's output."""
    bash = require_shell("bash")
    sf.write_rc("bash", user_home)
    sh = sf.start("bash", bash, user_home, cf_home)
    sh.run("echo before")
    sh.child.sendline("exec bash")
    sh.n = 0  # a new bash: its own prompt counter, no hooks
    sh.expect_prompt()
    sh.run("echo after-exec")
    assert sh.finish("exit 4") == 4
    lines = sf.records(cf_home)
    cmds = _commands(lines)
    assert [c["command"] for c in cmds] == ["echo before", "exec bash"]
    lost = cmds[1]
    assert "after-exec" in lost["output"]
    if "integration_lost" in lost["anomalies"]:  # SHELL_INTEGRATION.md §8: the exec'd shell's end
        assert lost["exit_code"] == 4
    else:  # what the recorder says without the exec rule: an open command, no status
        assert "missing_end" in lost["anomalies"] and lost["exit_code"] is None
    assert lines[-1]["exit_code"] == 4 and lines[-1]["command_count"] == 2


def test_child_shell_with_its_own_osc133_is_one_command(
    tmp_path: Path, user_home: Path, cf_home: Path
) -> None:
    """A plain child shell (as over ssh) that emits OSC 133 marks of its own: passed through
    to the terminal, recorded as output, never taken as command boundaries."""
    bash = require_shell("bash")
    sf.write_rc("bash", user_home)
    child_rc = tmp_path / "child.rc"
    child_rc.write_text(
        "PS1='CHILD> '\n"
        "PROMPT_COMMAND='printf \"\\033]133;D;%s\\007\\033]133;A\\007\" $?'\n"
        "PS0='\\[\\033]133;C\\007\\]'\n"
    )
    sh = sf.start("bash", bash, user_home, cf_home)
    line = f"bash --rcfile {child_rc} -i"
    sh.child.sendline(line)
    sh.child.expect("CHILD> ")
    sh.child.sendline("echo in-child; false")
    sh.child.expect("CHILD> ")
    seen = str(sh.child.before)
    sh.run("exit 3")
    assert sh.finish() == 3
    cmds = sf.commands(cf_home)
    assert [(c["command"], c["exit_code"]) for c in cmds] == [(line, 3)]
    assert "in-child" in cmds[0]["output"] and "CHILD> " in cmds[0]["output"]
    assert "\x1b]133;D;1\x07" in seen  # foreign marks reach the terminal untouched
    (jsonl,) = h.sessions(cf_home)
    assert "\\u001b]133;A\\u0007" in jsonl.with_suffix(".cast").read_text()
