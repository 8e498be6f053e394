"""fish: ``--init-command 'source <file>'`` (SHELL_INTEGRATION.md §3.3).

``--init-command`` runs after ``config.fish``, so the hooks see the user's final prompt and
handlers, and nothing of ours touches ``XDG_DATA_DIRS`` (which children would inherit).
Commands come from ``fish_preexec`` (the full line, newlines included), status and
``$pipestatus`` from ``fish_postexec``; ``fish_cancel``/``fish_posterror`` close prompt
cycles in which nothing ran; ``$fish_private_mode`` and lines kept out of history are sent
as hidden. Login shells are ``fish -l``.
"""

from __future__ import annotations

from importlib import resources

from cfsession.shell import OSC_NUM, Launch, LaunchContext


def fish_quote(value: str) -> str:
    """``value`` as one fish single-quoted word (only ``\\`` and ``'`` need escaping)."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def render(ctx: LaunchContext) -> str:
    template = resources.files("cfsession.shell").joinpath("fish.fish").read_text(encoding="utf-8")
    return template.replace("@NONCE@", ctx.nonce).replace("@OSC@", str(OSC_NUM))


def prepare(ctx: LaunchContext) -> Launch:
    init = ctx.tmpdir / "init.fish"
    init.write_text(render(ctx), encoding="utf-8")
    init.chmod(0o600)
    argv = [
        ctx.shell,
        *(["-l"] if ctx.login else []),
        "-i",
        "--init-command",
        f"source {fish_quote(str(init))}",
    ]
    return Launch(argv=argv, env=dict(ctx.env), secrets=[init])
