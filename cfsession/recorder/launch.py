"""What ``cfsession record`` runs: the shell or command, how (PTY or pipes), and the
shell's answers when it cannot run (127 not found, 126 not runnable)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any, NamedTuple

from cfsession.errors import CfsessionError, ExitCode
from cfsession.recorder.options import Options


class Plan(NamedTuple):
    """What to run: the launch (argv, env, integration) and what the start record says of it."""

    launch: Any  # shell.Launch
    shell_path: str
    kind: str
    session_type: str
    pipes: bool
    tmpdir: Path | None
    nonce: str


def plan(opts: Options, env: dict[str, str], default_shell: str | None) -> Plan:
    from cfsession import shell as shell_mod

    nonce = os.urandom(16).hex()  # 128 bits from the OS CSPRNG, as secrets.token_hex
    if opts.command:
        exe = find_command(opts.command[0])
        launch = shell_mod.Launch(argv=list(opts.command), env=env, integrated=False, reason="single command")
        return Plan(launch, exe, shell_mod.shell_kind(exe), opts.session_type or "command",
                     use_pipes(opts.pty), None, nonce)
    if opts.pty is False:
        err = CfsessionError("--no-pty needs a command", "use `cfsession record --no-pty -- CMD ARGS…`")
        err.exit_code = ExitCode.USAGE
        raise err
    shell_path = resolve_shell(opts.shell, env, default_shell)
    kind = shell_mod.shell_kind(shell_path)
    tmpdir = shell_mod.make_tmpdir()
    ctx = shell_mod.LaunchContext(shell=shell_path, kind=kind, nonce=nonce, login=opts.login, env=env, tmpdir=tmpdir)
    return Plan(shell_mod.prepare(ctx), shell_path, kind, opts.session_type or "interactive", False, tmpdir, nonce)


def resolve_shell(requested: str | None, env: dict[str, str], platform_default: str | None = None) -> str:
    cands = (requested, platform_default) if platform_default else (requested, env.get("SHELL"), "bash", "sh")
    for cand in cands:
        if not cand:
            continue
        found = shutil.which(cand)
        if found:
            return found
        if requested and cand == requested:
            raise CfsessionError(f"shell {requested!r} not found", "pass --shell with the path of an installed shell")
    raise CfsessionError("no shell found", "pass --shell PATH")


def use_pipes(pty: bool | None) -> bool:
    """``record -- CMD``: pipes unless both stdin and stdout are terminals (or --pty/--no-pty).

    Windows keeps the console by default: its console programs write a pipe in the
    console's code page (cmd's `echo café`), which the record would misread; ``--no-pty``
    still chooses pipes there.
    """
    if pty is not None:
        return not pty
    if os.name == "nt":
        return False
    try:
        return not (os.isatty(0) and os.isatty(1))
    except OSError:
        return True


def find_command(name: str) -> str:
    """The command's path, or the shell's answer: 127 not found, 126 found but not runnable."""
    exe = shutil.which(name)
    if exe is not None:
        return exe
    if os.sep in name or (os.altsep and os.altsep in name):
        if os.path.isdir(name):
            raise cannot_run(name, IsADirectoryError(21, "is a directory"))
        if os.path.exists(name):
            raise cannot_run(name, PermissionError(13, "permission denied"))
    err = CfsessionError(f"{name}: command not found", "check the name or PATH")
    err.exit_code = ExitCode.NOT_FOUND
    raise err


def cannot_run(name: str, exc: OSError) -> CfsessionError:
    if isinstance(exc, FileNotFoundError):
        err = CfsessionError(f"{name}: command not found", "check the name or PATH")
        err.exit_code = ExitCode.NOT_FOUND
        return err
    err = CfsessionError(f"{name}: cannot run: {exc.strerror or exc}", "check its permissions and format")
    err.exit_code = ExitCode.CANNOT_EXECUTE
    return err
