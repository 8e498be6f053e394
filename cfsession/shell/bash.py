"""bash: ``--init-file`` (non-login) or ``--posix`` + ``ENV`` (login), SHELL_INTEGRATION.md §3.1."""

from __future__ import annotations

from cfsession.shell import OSC_NUM, Launch, LaunchContext, template


def sh_quote_single(value: str) -> str:
    """Text safe inside single quotes in a generated script."""
    return value.replace("'", "'\\''")


# How __cfs_pc reads `history 1` into t: bash >= 5.3 runs it in the shell with `${ …; }`
# (no fork, no file of ours); older bash writes it to a file and reads that back. The
# template holds the function once, between "#@53{" and "#@53}"; the init file gets
# both versions, chosen by the running bash when it reads the file (bash 4.4-5.2 parse
# the `${ …; }` form without complaint and never run it).
_HIST_53 = "t=${ builtin history 1; }"
_HIST_FILE = """{ builtin history 1; builtin printf '\\0'; } 1<>"$__cfs_dir/h"
    builtin read -r -d '' -u 3 t 3<"$__cfs_dir/h\""""


def by_version(text: str) -> str:
    """The template's __cfs_pc, once per history-reading method, under a version test."""
    head, rest = text.split("#@53{\n", 1)
    block, tail = rest.split("#@53}\n", 1)
    return (
        head
        + "if ((BASH_VERSINFO[0] * 100 + BASH_VERSINFO[1] >= 503)); then\n"
        + block.replace("@HIST1@", _HIST_53)
        + "else\n"
        + block.replace("@HIST1@", _HIST_FILE)
        + "fi\n"
        + tail
    )


def render(ctx: LaunchContext) -> str:
    text = by_version(template("bash.sh"))
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
