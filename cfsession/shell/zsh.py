"""zsh: a private ``ZDOTDIR`` holding only our ``.zshenv`` (kitty's method), SHELL_INTEGRATION.md §3.2.

zsh reads ``$ZDOTDIR/.zshenv`` right after the global zshenv. Ours puts the user's
``ZDOTDIR`` back (or unsets it) before anything else, sources the user's ``.zshenv``, and
defines the hooks; zsh then reads the user's ``.zprofile``/``.zshrc``/``.zlogin`` from
their own directory, so each runs exactly once and ``HISTFILE`` & co. are never pointed
at our directory. Login shells are simply ``zsh -l``.

If the global zshenv sets ``ZDOTDIR`` itself our file is never read. That is checked
before launch (cheaply: only when a global zshenv mentions ``ZDOTDIR`` is zsh asked what
it ends up with) and reported as an unsegmented session; any other reason for the hooks
not to load is caught by the recorder's start-up deadline.
"""

from __future__ import annotations

import os
import subprocess
from importlib import resources
from pathlib import Path

from cfsession.shell import OSC_NUM, Launch, LaunchContext

# Where zsh builds look for the global zshenv (Debian: /etc/zsh, most others: /etc).
GLOBAL_ZSHENV: tuple[str, ...] = ("/etc/zshenv", "/etc/zsh/zshenv")
PROBE_TIMEOUT_S = 5.0


def sh_quote_single(value: str) -> str:
    """Text safe inside single quotes in a generated script."""
    return value.replace("'", "'\\''")


def render(ctx: LaunchContext) -> str:
    template = resources.files("cfsession.shell").joinpath("zshenv.zsh").read_text(encoding="utf-8")
    user_zdotdir = ctx.env.get("ZDOTDIR")
    subs = {
        "@NONCE@": ctx.nonce,
        "@OSC@": str(OSC_NUM),
        "@ZDOTDIR_SET@": "1" if user_zdotdir is not None else "0",
        "@ZDOTDIR@": sh_quote_single(user_zdotdir or ""),
    }
    for key, value in subs.items():
        template = template.replace(key, value)
    return template


def zdotdir_override(shell: str, env: dict[str, str], probe: Path) -> str | None:
    """The global zshenv that moves ``ZDOTDIR`` away from ours, or None if ours will be read."""
    suspects = [p for p in GLOBAL_ZSHENV if _mentions_zdotdir(p)]
    if not suspects:
        return None
    try:
        # -f (NO_RCS) still reads the global zshenv and nothing else: exactly the question.
        out = subprocess.run(
            [shell, "-f", "-c", 'print -rn -- "${ZDOTDIR-}"'],
            env={**env, "ZDOTDIR": str(probe)},
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=PROBE_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None  # cannot tell: the start-up deadline will catch a missing hello
    if os.fsdecode(out.stdout) == str(probe):
        return None
    return suspects[0]


def _mentions_zdotdir(path: str) -> bool:
    try:
        with open(path, "rb") as f:
            return b"ZDOTDIR" in f.read(1 << 20)
    except OSError:
        return False


def prepare(ctx: LaunchContext) -> Launch:
    argv = [ctx.shell, *(["-l"] if ctx.login else []), "-i"]
    culprit = zdotdir_override(ctx.shell, ctx.env, ctx.tmpdir)
    if culprit is not None:
        return Launch(
            argv,
            dict(ctx.env),
            integrated=False,
            reason=f"{culprit} sets ZDOTDIR, so zsh never reads cfsession's hooks",
        )
    rc = ctx.tmpdir / ".zshenv"
    rc.write_text(render(ctx), encoding="utf-8")
    rc.chmod(0o600)
    env = dict(ctx.env)
    env["ZDOTDIR"] = str(ctx.tmpdir)  # only until our .zshenv gives the user's back
    return Launch(argv=argv, env=env, secrets=[rc])
