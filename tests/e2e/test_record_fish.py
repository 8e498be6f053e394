"""fish recorded through a real PTY (SHELL_INTEGRATION.md §3.3, §9): same records as bash."""

from __future__ import annotations

from pathlib import Path

import pytest

from cfsession.shell import LaunchContext
from cfsession.shell import fish as fish_mod
from tests import shells_factory as sf
from tests.conftest import require_shell

pytestmark = pytest.mark.pty


def test_ordinary_session(user_home: Path, cf_home: Path) -> None:
    fish = require_shell("fish")
    sf.write_rc("fish", user_home)
    sf.make_dirs(user_home)
    sh = sf.start("fish", fish, user_home, cf_home)
    assert sf.tokens(sh.startup) == ["config.fish"]
    assert sf.startup_lines(sh) == [
        sf.TOKEN + t for t in ["config.fish"]
    ]  # our init prints nothing
    assert sf.run_steps(sh, sf.ORDINARY) == 5
    sf.check_steps(sf.commands(cf_home), sf.steps_for("fish", sf.ORDINARY), user_home)
    lines = sf.records(cf_home)
    assert lines[0]["shell_kind"] == "fish" and lines[0]["integration"] == "active"
    assert not [r for r in lines if r["event_type"] == "integration"]
    assert lines[-1]["exit_code"] == 5
    sf.assert_clean(sh, cf_home)


def test_login_shell(user_home: Path, cf_home: Path) -> None:
    fish = require_shell("fish")
    sf.write_rc("fish", user_home)
    sh = sf.start("fish", fish, user_home, cf_home, args=("--login",))
    assert sf.tokens(sh.startup) == ["config.fish"]
    sh.run("status is-login; and echo LOGIN-YES")
    sh.run("set -q __cfs_nonce; and set -qx __cfs_nonce; or echo not-exported")
    sh.run("false")
    assert sh.finish(None) == 0  # Ctrl-D: no record; fish itself leaves with 0 then
    got = [(c["command"], c["output"]) for c in sf.commands(cf_home)]
    assert len(got) == 3
    assert got[:2] == [
        ("status is-login; and echo LOGIN-YES", "LOGIN-YES\n"),
        ("set -q __cfs_nonce; and set -qx __cfs_nonce; or echo not-exported", "not-exported\n"),
    ]


def test_private_mode_hides_every_command(user_home: Path, cf_home: Path) -> None:
    fish = require_shell("fish")
    sf.write_rc("fish", user_home, "set -g fish_private_mode 1\n")
    sh = sf.start("fish", fish, user_home, cf_home)
    sh.run("echo private-output")
    sh.finish()
    got = [(c["command"], c["command_source"], c["output"]) for c in sf.commands(cf_home)]
    assert got == [(None, "hidden", "private-output\n"), (None, "hidden", "")]
    (jsonl,) = sf.h.sessions(cf_home)
    assert "echo private-output" not in jsonl.read_text()


def test_multiline_paste_and_long_lines(user_home: Path, cf_home: Path) -> None:
    fish = require_shell("fish")
    sf.write_rc("fish", user_home)
    sh = sf.start("fish", fish, user_home, cf_home)
    sh.run("for i in 1 2\necho n$i\nend")
    sh.paste("echo p1\necho p2")  # one buffer, one command in fish (bash: two)
    sh.run("echo a \\\nb")
    long10, long100, wide, over = sf.paste_long_lines(sh, "true")
    sh.finish()
    cmds = sf.commands(cf_home)
    got = [(c["command"], c["exit_code"], c["output"]) for c in cmds[:3]]
    assert got == [
        ("for i in 1 2\necho n$i\nend", 0, "n1\nn2\n"),  # $argv keeps the newlines
        ("echo p1\necho p2", 0, "p1\np2\n"),
        ("echo a \\\nb", 0, "a b\n"),
    ]
    sf.assert_long_lines(cmds[3:7], long10, long100, wide, over)
    sf.assert_clean(sh, cf_home)  # no marker was too long to be recognised and shown instead


def test_user_prompt_hooks_and_status_preserved(user_home: Path, cf_home: Path) -> None:
    fish = require_shell("fish")
    extra = (
        "function fish_prompt; printf '[%s] CFTP%s> ' $status $__n; end\n"
        "function fish_mode_prompt; printf '[M]'; end\n"
        "function __pre --on-event fish_preexec; echo '[pre]'; end\n"
    )
    sf.write_rc("fish", user_home, extra)
    sh = sf.start("fish", fish, user_home, cf_home)
    out = sh.run("sh -c 'exit 4'")
    assert out.rstrip().endswith("[M][4]")  # the user's prompt sees the real status
    out = sh.run("echo x")
    assert "[pre]" in out
    sh.finish()
    got = [(c["command"], c["exit_code"], c["output"]) for c in sf.commands(cf_home)]
    # [pre] came before our C (our preexec handler runs last): not part of the output.
    assert got == [("sh -c 'exit 4'", 4, ""), ("echo x", 0, "x\n")]


def test_fish_trace_shows_nothing_of_ours(user_home: Path, cf_home: Path) -> None:
    sh = sf.typed("fish", require_shell("fish"), user_home, cf_home, "set fish_trace 1", "echo traced", "set -e fish_trace")
    cmds = sf.commands(cf_home)
    assert [c["command"] for c in cmds] == [
        "set fish_trace 1",
        "echo traced",
        "set -e fish_trace",
    ]
    assert cmds[1]["output"] == "> echo traced\ntraced\n"
    sf.assert_clean(sh, cf_home)


def test_launch(tmp_path: Path) -> None:
    fish = require_shell("fish")
    weird = tmp_path / "it's \\ here"
    weird.mkdir()
    ctx = LaunchContext(
        shell=fish, kind="fish", nonce="ab" * 16, login=True, env={"A": "1"}, tmpdir=weird
    )
    launch = fish_mod.prepare(ctx)
    init = weird / "init.fish"
    assert launch.argv[:3] == [fish, "-l", "-i"] and launch.secrets == [init]
    assert launch.env == {"A": "1"}  # nothing about us in the environment
    # fish itself reads the quoted path back exactly.
    out = sf.h.pexpect.run(
        fish, args=["--no-config", "-c", f"echo {launch.argv[-1].split(' ', 1)[1]}"]
    )
    assert out.decode().strip() == str(init)
