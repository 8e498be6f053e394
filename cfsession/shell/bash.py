"""bash: ``--init-file`` (non-login) or ``--posix`` + ``ENV`` (login), SHELL_INTEGRATION.md §3.1."""

from __future__ import annotations

from cfsession.shell import OSC_NUM, Launch, LaunchContext, template


def sh_quote_single(value: str) -> str:
    """Text safe inside single quotes in a generated script."""
    return value.replace("'", "'\\''")


def render(ctx: LaunchContext) -> str:
    text = template("bash.sh")
    histfile = ctx.env.get("HISTFILE")
    subs = {
        "@NONCE@": ctx.nonce,
        "@OSC@": str(OSC_NUM),
        "@DIR@": sh_quote_single(str(ctx.tmpdir)),
        "@LOGIN@": "1" if ctx.login else "0",
        "@HISTFILE_SET@": "1" if histfile else "",
        "@HISTFILE@": sh_quote_single(histfile or ""),
    }
    for key, value in subs.items():
        text = text.replace(key, value)
    return text


def prepare(ctx: LaunchContext) -> Launch:
    rc = ctx.tmpdir / "bashrc"
    rc.write_text(render(ctx), encoding="utf-8")
    rc.chmod(0o600)
    env = dict(ctx.env)
    if ctx.login:
        # A login bash ignores --init-file; in POSIX mode it reads $ENV even as a login
        # shell and nothing else, and our file then reads the profile files itself.
        env["ENV"] = str(rc)
        argv = [ctx.shell, "--login", "--posix", "-i"]
    else:
        argv = [ctx.shell, "--init-file", str(rc), "-i"]
    return Launch(argv=argv, env=env, secrets=[rc])
