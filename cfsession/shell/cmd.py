"""cmd.exe integration (SHELL_INTEGRATION.md §3.6): PROMPT markers, richer with Clink.

Launch: ``cmd.exe /k %CFSESSION_CMD_INIT%``. The variable holds the quoted path of the
generated ``init.cmd``: cmd expands it when it runs the ``/k`` text, so no path — with
spaces, ``&``, ``%``, quotes or non-ASCII characters — ever has to survive cmd's quote
rules or pywinpty's ``list2cmdline`` (which escapes quotes the MSVC way, not cmd's).
No ``/d``: the user's AutoRun (often ``clink inject``) still runs.

Without Clink (``H`` says ``rich=0``) cmd offers no hook but PROMPT, expanded each time
the prompt is shown. The markers give prompt boundaries and the cwd only:

* every marker has seq ``0`` — a static PROMPT cannot count — so the segmenter must take
  seq 0 as "unsequenced" (no replay check) for this session;
* the prompt sends ``H``, ``D`` (bare), ``P;rawcwd=<$P>`` (the path raw, not escaped: it
  runs to the terminator, ``;`` and ``\\x`` included), ``A``, the user's prompt, ``B``;
* there is no ``C``: a command is whatever output comes between ``B`` and the next ``D``,
  with ``command`` and ``exit_code`` null (documented; Enter on an empty line looks the
  same, so cycles with no output are dropped).

With Clink injected (AutoRun), ``cfsession.lua`` is found through ``CLINK_PATH``; it
removes the seq-0 markers from the prompt and sends sequenced ``H`` (``rich=1``), ``D``
(``st`` from ``os.geterrorlevel()``, empty when unknown), ``P;cwd``, ``A`` and ``C`` with
the exact line (``src=hidden`` for a leading space under ``history.ignore_space``), with
the same ASCII escaping and parts as PowerShell (see :mod:`cfsession.shell.pwsh`).

The nonce is in PROMPT, which ``set`` prints and child cmd.exe processes inherit: cmd
segmentation cannot be authenticated strongly (§2.3). Both generated files are deleted
once the shell has reported in (the first prompt — init.cmd has finished by then).
"""

from __future__ import annotations

from importlib import resources

from cfsession.shell import OSC_NUM, Launch, LaunchContext
from cfsession.shell.pwsh import MAX_CMD, PART

INIT_VAR = "CFSESSION_CMD_INIT"


def _template(name: str, ctx: LaunchContext) -> str:
    text = resources.files("cfsession.shell").joinpath(name).read_text(encoding="ascii")
    for key, value in {
        "@NONCE@": ctx.nonce,
        "@OSC@": str(OSC_NUM),
        "@PART@": str(PART),
        "@MAXCMD@": str(MAX_CMD),
    }.items():
        text = text.replace(key, value)
    return text


def render_init(ctx: LaunchContext) -> str:
    """init.cmd with CRLF line ends (cmd mis-parses LF-only batch files)."""
    text = _template("cmd_init.cmd", ctx)
    return text.replace("\r\n", "\n").replace("\n", "\r\n")


def render_clink(ctx: LaunchContext) -> str:
    return _template("cmd_clink.lua", ctx)


def prepare(ctx: LaunchContext) -> Launch:
    init = ctx.tmpdir / "init.cmd"
    lua = ctx.tmpdir / "cfsession.lua"
    if '"' in str(init):  # impossible on Windows; a POSIX path may hold one
        return Launch(
            [ctx.shell], dict(ctx.env), integrated=False, reason="temp path contains a double quote"
        )
    init.write_bytes(render_init(ctx).encode("ascii"))
    lua.write_bytes(render_clink(ctx).encode("ascii"))
    for f in (init, lua):
        f.chmod(0o600)
    env = dict(ctx.env)
    env[INIT_VAR] = f'"{init}"'
    # Clink (when the user's AutoRun injects it) loads every *.lua in CLINK_PATH's dirs.
    old = env.get("CLINK_PATH")
    env["CLINK_PATH"] = f"{ctx.tmpdir};{old}" if old else str(ctx.tmpdir)
    argv = [ctx.shell, "/k", f"%{INIT_VAR}%"]
    return Launch(argv=argv, env=env, secrets=[init, lua])
