"""When the shell never reports in, recording goes on unsegmented and says why."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests import pty_harness as h
from tests.conftest import require_shell

pytestmark = pytest.mark.pty


def test_no_hook_falls_back_to_unsegmented(user_home: Path, cf_home: Path) -> None:
    bash = require_shell("bash")
    # The user's rc replaces the shell: our hooks never load, no marker ever arrives.
    (user_home / ".bashrc").write_text(f"export PS1='{h.PROMPT}'\nexec {bash} --norc -i\n")
    env = h.base_env(user_home, cf_home, CFSESSION_INTEGRATION_TIMEOUT="0.5")
    rec = h.start(bash, user_home, cf_home, env=env, wait_prompt=False)
    rec.child.expect("without command boundaries")  # the one warning line
    rec.child.sendline("")
    rec.expect_prompt()
    rec.run("echo plain-output")
    assert rec.finish("exit 4") == 4
    (jsonl,) = h.sessions(cf_home)
    lines = h.load(jsonl)
    integ = [r for r in lines if r["event_type"] == "integration"]
    assert integ and integ[0]["status"] == "unsegmented" and "marker" in integ[0]["reason"]
    warnings = [r for r in lines if r["event_type"] == "warning"]
    assert [w["code"] for w in warnings] == ["unsegmented"]
    (cmd,) = h.commands(cf_home)
    assert cmd["command"] is None and cmd["command_source"] == "unsegmented"
    assert cmd["exit_code"] == 4
    assert "plain-output" in cmd["output"]
    assert lines[-1]["event_type"] == "session_end" and lines[-1]["exit_code"] == 4


def test_shell_without_integration(user_home: Path, cf_home: Path) -> None:
    sh = require_shell("sh")
    env = h.base_env(user_home, cf_home, PS1=h.PROMPT)
    rec = h.start(sh, user_home, cf_home, env=env)
    rec.run("echo from-sh")
    assert rec.finish("exit 2") == 2
    lines = h.load(h.sessions(cf_home)[0])
    assert lines[0]["integration"].startswith("unsegmented: no integration for sh")
    (cmd,) = h.commands(cf_home)
    assert cmd["exit_code"] == 2 and "from-sh" in cmd["output"]
