"""Shell integration: generate per-session init files that make a shell report its commands.

Every integration speaks the private marker protocol of SHELL_INTEGRATION.md §2::

    ESC ] 6973 ; <nonce> ; <seq> ; <event> [; key=value]* BEL

``nonce`` is 32 lowercase hex chars, new per session, written only into the generated
files (a 0700 temp dir) and never into the environment. Values escape ``\\`` as ``\\\\``
and every byte 0x00-0x1F, 0x7F and ``;`` as ``\\xHH``. Events: H (hello, after the
user's rc files), D (``cmdno``, ``st`` only when a command ran, ``ps``), P (``cwd``),
A (prompt), C (``cmd``, ``src``, ``cmdno``, ``pid``), X (shell leaving, ``st``).

Each shell has one module here exposing ``prepare(ctx) -> Launch``.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

OSC_NUM = 6973

SHELL_KINDS = ("bash", "zsh", "fish", "pwsh", "powershell", "cmd", "sh", "other")


# Plain classes, not dataclasses: `dataclasses` imports `inspect` (~7 ms) on the way to
# the first prompt.
class LaunchContext:
    """What an integration needs to build a launch."""

    def __init__(self, shell: str, kind: str, nonce: str, login: bool, env: dict[str, str],
                 tmpdir: Path) -> None:
        self.shell = shell  # path or name of the shell executable
        self.kind = kind  # one of SHELL_KINDS
        self.nonce = nonce
        self.login = login
        self.env = env  # the environment the shell will get (may be edited by prepare)
        self.tmpdir = tmpdir  # private 0700 dir for generated files, removed by the recorder


class Launch:
    """How to start the shell: argv, environment, and whether hooks were injected."""

    def __init__(self, argv: list[str], env: dict[str, str], integrated: bool = True,
                 reason: str | None = None, secrets: list[Path] | None = None) -> None:
        self.argv = argv
        self.env = env
        self.integrated = integrated  # False: run unsegmented (reason says why)
        self.reason = reason
        # Files to delete as soon as the shell has reported in (they hold the nonce).
        self.secrets: list[Path] = secrets if secrets is not None else []

    def __repr__(self) -> str:
        return f"Launch(argv={self.argv!r}, integrated={self.integrated}, reason={self.reason!r})"


def template(name: str, encoding: str = "utf-8") -> str:
    """A generated file's template, shipped beside this module as package data.

    Read by path: importlib.resources would cost ~9 ms of imports on the way to the
    first prompt.
    """
    return (Path(__file__).parent / name).read_text(encoding=encoding)


def shell_kind(shell: str) -> str:
    name = os.path.basename(shell).lower()
    for suffix in (".exe",):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
    if name.startswith("-"):
        name = name[1:]
    if name in ("bash", "zsh", "fish", "pwsh", "powershell", "cmd", "sh", "dash", "ksh"):
        return "sh" if name in ("dash", "ksh") else name
    return "other"


def make_tmpdir() -> Path:
    return Path(tempfile.mkdtemp(prefix="cfsession-"))  # mkdtemp creates it 0700


def remove_tmpdir(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


def prepare(ctx: LaunchContext) -> Launch:
    """Build the argv/env that start ``ctx.shell`` with our hooks (or plainly, with a reason)."""
    kind = ctx.kind
    if kind == "bash":
        from cfsession.shell import bash as mod
    elif kind == "zsh":
        from cfsession.shell import zsh as mod  # type: ignore[no-redef]
    elif kind == "fish":
        from cfsession.shell import fish as mod  # type: ignore[no-redef]
    elif kind in ("pwsh", "powershell"):
        from cfsession.shell import pwsh as mod  # type: ignore[no-redef]
    elif kind == "cmd":
        from cfsession.shell import cmd as mod  # type: ignore[no-redef]
    else:
        argv = [ctx.shell, "-l"] if ctx.login and kind == "sh" else [ctx.shell]
        return Launch(argv, ctx.env, integrated=False, reason=f"no integration for {kind} shells")
    # An adapter's own error is a bug to see, not "integration not available".
    return mod.prepare(ctx)
