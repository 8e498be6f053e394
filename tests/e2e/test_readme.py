"""The README's Recording, Getting-back and API examples, run as written.

The shell examples run through the real CLI (interactive ones on a real PTY, the rest on
pipes); the Python API example is a doctest run against the store the README's own
one-command session creates.
"""

from __future__ import annotations

import doctest
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pexpect
import pytest

from tests import pty_harness as h
from tests.conftest import require_shell

pytestmark = pytest.mark.pty

README = Path(__file__).resolve().parents[2] / "README.md"


def section(title: str) -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index(f"\n{title}\n")
    end = text.find("\n## ", start + 1)
    return text[start:end if end != -1 else None]


def blocks(text: str, lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", text, re.S)


def commands(title: str, first: int = 99) -> list[str]:
    out = []
    for block in blocks(section(title), "sh")[:first]:
        for line in block.splitlines():
            cmd = line.split("  #", 1)[0].strip()
            if cmd:
                out.append(cmd)
    return out


def _env(tmp_path: Path, cf_home: Path) -> dict[str, str]:
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    (home / ".bashrc").write_text(f"PS1='{h.PROMPT}'\n")
    (home / ".bash_profile").write_text(". ~/.bashrc\n")
    (home / ".zshrc").write_text(f"PS1='{h.PROMPT}'\n")
    env = h.base_env(home, cf_home, SHELL=require_shell("bash"))
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env["PATH"]
    return env


def _cfs(cmd: str) -> list[str]:
    argv = shlex.split(cmd)
    assert argv[0] == "cfsession", cmd
    return h.cfsession_argv(*argv[1:])


def test_recording_examples_run(tmp_path: Path, cf_home: Path) -> None:
    require_shell("zsh")
    require_shell("make")
    env = _env(tmp_path, cf_home)
    work = tmp_path / "work"
    work.mkdir()
    (work / "Makefile").write_text("test:\n\t@echo all tests passed\n")
    examples = commands("## Recording")
    assert len(examples) == 9, examples
    for cmd in examples:
        if " init " in f" {cmd} ":  # prints the rc snippet (appending it is the user's step)
            proc = subprocess.run(_cfs(cmd.split(" >>")[0]), env=env, capture_output=True, text=True,
                                  timeout=60, stdin=subprocess.DEVNULL)
            assert proc.returncode == 0 and proc.stdout.strip(), (cmd, proc.stderr)
        elif "|" in cmd:  # the pipe example: a real shell pipeline
            line = cmd.replace("cfsession", " ".join(shlex.quote(a) for a in h.cfsession_argv()), 1)
            proc = subprocess.run([require_shell("bash"), "-c", line], cwd=work, env=env,
                                  capture_output=True, timeout=60, stdin=subprocess.DEVNULL)
            assert proc.returncode == 0, (cmd, proc.stderr)
            assert (work / "sorted.txt").read_text() == "5\n4\n3\n2\n1\n"
        elif " -- " in cmd:  # one command, on pipes here
            proc = subprocess.run(_cfs(cmd), cwd=work, env=env, capture_output=True, text=True,
                                  timeout=60, stdin=subprocess.DEVNULL)
            assert proc.returncode == 0 and proc.stdout == "all tests passed\n", (cmd, proc.stderr)
            assert re.search(r"1 command, 0 failed .*final hash [0-9a-f]{64}", proc.stderr)
        else:  # an interactive shell on a real terminal: exit it to stop
            argv = _cfs(cmd)
            child = pexpect.spawn(argv[0], argv[1:], cwd=str(work), env=env, encoding="utf-8", timeout=30)
            child.expect(h.PROMPT_RE)
            child.sendline("echo from-the-readme")
            child.expect(h.PROMPT_RE)
            child.sendline("exit")
            child.expect(pexpect.EOF)
            child.close()
            assert child.exitstatus == 0, cmd
    names = [h.load(p)[0].get("name") for p in h.sessions(cf_home)]
    assert "deploy" in names and len(names) == 5


def test_getting_back_examples_and_the_api_doctest(tmp_path: Path, cf_home: Path) -> None:
    env = _env(tmp_path, cf_home)
    work = tmp_path / "work"
    work.mkdir()
    # The one-command session the README's Files section shows, recorded as it says.
    files = section("## Files")
    recorded = re.search(r"\(`(cfsession record -- .*?)`\)", files)
    assert recorded is not None
    proc = subprocess.run(_cfs(recorded.group(1)), cwd=work, env=env, capture_output=True, text=True,
                          timeout=60, stdin=subprocess.DEVNULL)
    assert proc.returncode == 3 and proc.stdout == "hi\n"
    sid = h.sessions(cf_home)[0].stem

    # The API example, as a doctest, against that store.
    (example,) = blocks(section("### Python API"), "pycon")
    test = doctest.DocTestParser().get_doctest(example, {}, "README Python API", str(README), 0)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    old = os.environ.get("CFSESSION_HOME")
    os.environ["CFSESSION_HOME"] = str(cf_home)
    try:
        runner.run(test)
    finally:
        if old is None:
            os.environ.pop("CFSESSION_HOME", None)
        else:
            os.environ["CFSESSION_HOME"] = old
    result = runner.summarize(verbose=False)
    assert result.attempted >= 10 and result.failed == 0, result

    # A second run of the same line, for the `diff` of its last two runs.
    proc = subprocess.run(_cfs(recorded.group(1)), cwd=work, env=env, capture_output=True, text=True,
                          timeout=60, stdin=subprocess.DEVNULL)
    assert proc.returncode == 3
    # Every command of the block, with the example ids and command line replaced by real ones.
    examples = commands("## Getting sessions back", first=1)  # the page section opens a browser
    assert len(examples) >= 9, examples
    line = shlex.split(recorded.group(1))[3:]
    for cmd in examples:
        cmd = re.sub(r"3f2a:\d+", f"{sid[:4]}:1", cmd).replace("3f2a", sid[:4])
        cmd = cmd.replace("'make test'", shlex.quote(shlex.join(line)))
        proc = subprocess.run(_cfs(cmd), cwd=work, env=env, capture_output=True,
                              text=True, timeout=60, stdin=subprocess.DEVNULL)
        assert proc.returncode == 0, (cmd, proc.stderr)
        assert "Traceback" not in proc.stderr
    assert (work / "demo.cast").stat().st_size > 0
