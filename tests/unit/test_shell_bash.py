"""The generated bash init file: one template, a history read per bash version."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from cfsession.shell import LaunchContext, bash, shell_kind, template
from tests.conftest import require_bash


def _rendered(tmp_path: Path, shell: str) -> Path:
    ctx = LaunchContext(shell=shell, kind=shell_kind(shell), nonce="0" * 32, login=False,
                        env={"HOME": str(tmp_path)}, tmpdir=tmp_path)
    rc = tmp_path / "rc.sh"
    rc.write_text(bash.render(ctx))
    return rc


def test_template_holds_the_prompt_hook_once() -> None:
    text = template("bash.sh")
    assert text.count("#@53{\n") == 1 and text.count("#@53}\n") == 1 and text.count("@HIST1@") == 1
    out = bash.by_version(text)
    assert out.count("\n__cfs_pc() {") == 2 and "@HIST1@" not in out and "#@53" not in out


@pytest.mark.parametrize("version, uses_file", [("system", True), ("5.3", False)])
def test_each_bash_defines_the_hook_it_can_run(tmp_path: Path, version: str, uses_file: bool) -> None:
    # bash 5.3 reads `history 1` with `${ …; }`; 5.2 (and 4.4-5.1) through the file. The
    # other form is parsed, never run: sourcing the file must not complain under either.
    shell = require_bash(version)
    rc = _rendered(tmp_path, shell)
    got = subprocess.run([shell, "--norc", "--noprofile", "-c", f"source {rc} >/dev/null; declare -f __cfs_pc"],
                         capture_output=True, text=True, env={"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}, timeout=20)
    assert got.returncode == 0 and got.stderr == ""
    assert ('"$__cfs_dir/h"' in got.stdout) is uses_file
    assert ("${ builtin history 1; }" in got.stdout) is (not uses_file)
