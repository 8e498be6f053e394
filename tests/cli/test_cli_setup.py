"""``cfsession init`` snippets run by the real shells, and ``cfsession doctor``."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pexpect
import pytest

from cfsession.cli import run
from cfsession.cli.setup import snippet
from tests.conftest import require_shell

RC = {"bash": ".bashrc", "zsh": ".zshrc", "fish": ".config/fish/config.fish"}
PROMPT = {
    "bash": "PS1='PLAIN> '\n",
    "zsh": "PS1='PLAIN> '\n",
    "fish": "function fish_prompt; printf 'PLAIN> '; end\n",
}


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = run(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


# -- init: the text ------------------------------------------------------------------------
@pytest.mark.parametrize("shell", ["bash", "zsh", "fish", "pwsh"])
def test_init_prints_alias_and_guarded_auto(shell: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, plain, err = _run(capsys, "init", shell)
    assert (code, err) == (0, "")
    assert plain == snippet(shell) and "rec" in plain and "exec" not in plain
    code, auto, _ = _run(capsys, "init", shell.upper(), "--auto")
    assert code == 0 and auto == snippet(shell, auto=True)
    assert plain.splitlines()[1] in auto.splitlines()  # the alias is in both
    for guard in ("CFSESSION_ID", "CFSESSION_AUTO", "cfsession record"):
        assert guard in auto


def test_init_unknown_shell_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(capsys, "init", "tcsh")
    assert (code, out) == (2, "")
    assert err == "cfsession: no snippet for 'tcsh' — choose one of bash, zsh, fish, pwsh\n"


# -- init: what the snippets do in the real shells ----------------------------------------
@pytest.fixture
def fake_bin(tmp_path: Path) -> Path:
    """A `cfsession` that only writes down how it was called."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    fake = bindir / "cfsession"
    fake.write_text('#!/bin/sh\nprintf \'%s\\n\' "$@" > "$CFS_ARGV"\necho FAKE-RECORDER\n')
    fake.chmod(0o755)
    return bindir


def _home(tmp_path: Path, shell: str, auto: bool = True) -> Path:
    home = tmp_path / "home"
    rc = home / RC[shell]
    rc.parent.mkdir(parents=True, exist_ok=True)
    rc.write_text(PROMPT[shell] + snippet(shell, auto))
    if shell == "bash":
        # /etc/profile may reset PATH (Debian does for root): put ours back first.
        (home / ".bash_profile").write_text("PATH=$CFS_PATH\n. ~/.bashrc\n")
    if shell == "fish":
        rc.write_text("set -g fish_greeting ''\n" + rc.read_text())
    return home


def _env(home: Path, tmp_path: Path, path: str, **extra: str) -> dict[str, str]:
    env = {
        "HOME": str(home),
        "PATH": path,
        "CFS_PATH": path,
        "TERM": "xterm-256color",
        "LANG": "C.UTF-8",
        "CFS_ARGV": str(tmp_path / "argv"),
    }
    env.update(extra)
    return env


def _interactive(
    shell: str, env: dict[str, str], login: bool = False
) -> tuple[str, list[str] | None]:
    """Start ``shell`` on a terminal: ('exec', argv) if it became the recorder, else ('plain', None)."""
    argv = [shell, "-l", "-i"] if login else [shell, "-i"]
    child = pexpect.spawn(argv[0], argv[1:], env=env, encoding="utf-8", timeout=10, cwd=env["HOME"])
    i = child.expect(["FAKE-RECORDER", "PLAIN> "])
    if i == 1:
        child.sendline("rec --name x")
        child.expect("FAKE-RECORDER")  # the alias
        child.sendline("exit")
    child.expect(pexpect.EOF)
    child.close()
    got = Path(env["CFS_ARGV"]).read_text().split("\n")[:-1]
    Path(env["CFS_ARGV"]).unlink()
    return ("exec" if i == 0 else "plain"), got


@pytest.mark.parametrize("kind", ["bash", "zsh", "fish"])
def test_auto_snippet_guards(kind: str, tmp_path: Path, fake_bin: Path) -> None:
    shell = require_shell(kind)
    home = _home(tmp_path, kind)
    path = f"{fake_bin}:{os.environ.get('PATH', '/usr/bin:/bin')}"

    how, argv = _interactive(shell, _env(home, tmp_path, path))
    assert how == "exec" and argv is not None and argv[:2] == ["record", "--shell"]
    assert os.path.basename(shutil.which(argv[2]) or "") == kind and argv[3:] == []

    how, argv = _interactive(shell, _env(home, tmp_path, path), login=True)
    assert (how, argv[3:] if argv else None) == ("exec", ["--login"])  # a login shell stays one

    for extra in (
        {"CFSESSION_ID": "0" * 8},
        {"CFSESSION_AUTO": "0"},
    ):  # recorded already / opted out
        assert _interactive(shell, _env(home, tmp_path, path, **extra)) == (
            "plain",
            ["record", "--name", "x"],
        )

    # Not on a terminal: input from a pipe, no recorder.
    out = subprocess.run(
        [shell, "-i"],
        input="echo piped-ok\n",
        env=_env(home, tmp_path, path),
        capture_output=True,
        text=True,
        timeout=20,
        cwd=home,
    )
    assert "piped-ok" in out.stdout and "FAKE-RECORDER" not in out.stdout
    assert not (tmp_path / "argv").exists()


@pytest.mark.parametrize("kind", ["bash", "zsh", "fish"])
def test_auto_snippet_without_cfsession_leaves_a_plain_shell(kind: str, tmp_path: Path) -> None:
    shell = require_shell(kind)
    home = _home(tmp_path, kind)
    bare = tmp_path / "bare"
    bare.mkdir()
    for tool in ("sh", "printf", "cat"):
        if shutil.which(tool):
            (bare / tool).symlink_to(shutil.which(tool))  # type: ignore[arg-type]
    child = pexpect.spawn(
        shell,
        ["-i"],
        env=_env(home, tmp_path, str(bare)),
        encoding="utf-8",
        timeout=10,
        cwd=str(home),
    )
    child.expect("PLAIN> ")
    assert "cfsession" not in child.before  # no error about the missing recorder
    child.sendline("echo still-here")
    child.expect("still-here")
    child.sendline("exit")
    child.expect(pexpect.EOF)


# -- doctor ---------------------------------------------------------------------------------
@pytest.fixture
def doctor_home(user_home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HOME", str(user_home))
    monkeypatch.delenv("CFSESSION_ID", raising=False)
    monkeypatch.delenv("ZDOTDIR", raising=False)
    (user_home / ".config" / "fish").mkdir(parents=True)
    (user_home / ".config" / "fish" / "config.fish").write_text("set -g fish_greeting ''\n")
    return user_home


def test_doctor_json_all_good(
    doctor_home: Path, cf_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    wanted = [require_shell(k) for k in ("bash", "zsh", "fish")]
    code, out, err = _run(
        capsys, "doctor", "--json", "--shell", "bash", "--shell", "zsh", "--shell", "fish"
    )
    report = json.loads(out)
    assert (code, report["ok"]) == (0, True), out
    got = [(s["name"], s["path"], s["ok"], s["detail"]) for s in report["shells"]]
    assert got == [(os.path.basename(p), p, True, "integration works") for p in wanted]
    assert all(s["version"] and s["version"][0].isdigit() for s in report["shells"])
    assert report["storage"]["writable"] is True and report["storage"]["path"] == str(cf_home)
    assert report["storage"]["sessions"] == 0 and not cf_home.exists()  # the probes left nothing
    assert isinstance(report["etw"]["status"], str) and report["etw"]["status"]


def test_doctor_reports_a_broken_shell_and_storage(
    doctor_home: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    zsh = require_shell("zsh")
    bindir = tmp_path / "bin"
    bindir.mkdir()
    # A zsh whose global zshenv moves ZDOTDIR: our hooks never load.
    (bindir / "zsh").write_text(
        f'#!/bin/sh\nZDOTDIR="$HOME/elsewhere"; export ZDOTDIR\nexec {zsh} "$@"\n'
    )
    (bindir / "zsh").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bindir}:{os.environ['PATH']}")
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv("CFSESSION_HOME", str(blocker / "store"))
    code, out, err = _run(
        capsys, "doctor", "--shell", "zsh", "--shell", "nosuchshell-cfs", "--timeout", "4"
    )
    assert code == 1
    assert re.search(r"✗ zsh [\d.]+ \S+ — the shell sent no markers", out), out
    assert "· not installed: nosuchshell-cfs\n" in out
    assert f"✗ storage {blocker / 'store'} — not writable" in out
    assert "ETW — " in out


@pytest.mark.parametrize("kind", ["bash", "zsh", "fish"])
def test_auto_snippet_gives_a_shell_when_the_recording_cannot_start(kind: str, tmp_path: Path) -> None:
    # A dependency broken by an upgrade (here: ptyprocess fails to import) made the
    # recorder die at once, and with `exec` every new terminal closed with it.
    shell = require_shell(kind)
    home = _home(tmp_path, kind)
    broken = tmp_path / "broken"
    (broken / "ptyprocess").mkdir(parents=True)
    (broken / "ptyprocess" / "__init__.py").write_text("raise ImportError('ptyprocess is broken')\n")
    bindir = tmp_path / "bin"
    bindir.mkdir()
    real = bindir / "cfsession"
    real.write_text(f"#!/bin/sh\nexec env PYTHONPATH={broken} {sys.executable} -m cfsession \"$@\"\n")
    real.chmod(0o755)
    env = _env(home, tmp_path, f"{bindir}:{os.environ.get('PATH', '/usr/bin:/bin')}",
               CFSESSION_HOME=str(tmp_path / "cf"))
    child = pexpect.spawn(shell, ["-i"], env=env, encoding="utf-8", timeout=20, cwd=str(home))
    child.expect("the recording could not start \\(")
    child.expect("\\); this terminal runs")
    child.expect("PLAIN> ")  # the same shell, from the same rc file, not recorded
    child.sendline("echo still-here $CFSESSION_AUTO")
    child.expect("still-here 0")
    child.sendline("exit")
    child.expect(pexpect.EOF)


def test_a_recording_that_cannot_start_lets_powershell_go_on(tmp_path: Path) -> None:
    # PowerShell's profile runs the recorder as a child (no exec) and exits with its status:
    # a start that failed must not close the terminal. The snippet goes on at status 75.
    broken = tmp_path / "broken"
    (broken / "ptyprocess").mkdir(parents=True)
    (broken / "ptyprocess" / "__init__.py").write_text("raise ImportError('ptyprocess is broken')\n")
    env = {**os.environ, "CFSESSION_FALLBACK": "stay", "PYTHONPATH": str(broken),
           "CFSESSION_HOME": str(tmp_path / "cf")}
    proc = subprocess.run([sys.executable, "-m", "cfsession", "record", "--shell", "sh"], env=env,
                          capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)
    assert proc.returncode == 75, proc.stderr
    assert "the recording could not start (" in proc.stderr and "this terminal goes on without it" in proc.stderr
    assert "if ($LASTEXITCODE -ne 75) { exit $LASTEXITCODE }" in snippet("pwsh", auto=True)
    assert "$env:CFSESSION_FALLBACK = 'stay'" in snippet("pwsh", auto=True)
