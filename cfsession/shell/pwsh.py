"""PowerShell 7 (pwsh) and Windows PowerShell 5.1 integration (SHELL_INTEGRATION.md §3.5).

Launch: ``pwsh [-Login] -NoLogo -NoExit -Command ". '<tmpdir>/init.ps1'"`` — the profiles
run first, then our script wraps whatever ``prompt`` they installed and, when PSReadLine
is loaded, ``PSConsoleHostReadLine``. Windows PowerShell 5.1 gets the dot-source inside
``try { } catch { }`` (an execution policy that refuses scripts must not print an error
at start-up; the session then runs unsegmented). The nonce is written only into the
generated file (deleted once the shell reports in) and lives in the module scope of a
dynamic module inside the shell — never in the environment.

Wire details specific to the Windows integrations (pwsh here, cmd/Clink in ``cmd.py``):

* Values are ASCII-only: ``\\``, ``;``, bytes 0x00-0x1F and 0x7F *and every byte >= 0x80*
  are sent as ``\\xHH`` (``\\`` itself as ``\\x5c``). The usual decoder (``\\\\`` and any
  ``\\xHH`` back to bytes, then UTF-8) reads them unchanged. ASCII survives any console
  code page (5.1 writes through the OEM code page), and in such text every ``\\`` starts a
  4-character escape, which makes cutting safe.
* Parts: a value longer than :data:`PART` escaped characters is sent as several markers,
  each with its own (consecutive) seq: ``E;part=1/3;cmd=<piece>``, ``E;part=2/3;cmd=<piece>``,
  ``E;part=3/3;cmd=<piece>;src=readline;cmdno=4;pid=99``. Pieces never split an escape or a
  UTF-8 character; concatenated in order they give the escaped value. The last part
  carries the event's other fields; the event takes effect when it arrives. Every marker
  then stays under ~200 bytes (ConPTY on Windows 10 drops OSC strings over ~256
  characters, microsoft/terminal#15551). :class:`cfsession.parts.PartJoiner` reassembles them.
* ``C``: ``cmd``, ``src`` (``readline``; ``hidden`` when PSReadLine's AddToHistoryHandler
  keeps the line out of the history file — SkipAdding, MemoryOnly or ``$false``; ``history``
  with ``late=1`` without PSReadLine, sent at the next prompt, after the output), ``cmdno``,
  ``pid``; ``trunc=1;len=<chars>`` for lines over :data:`MAX_CMD` characters.
* ``D``: ``cmdno``; when a command ran also ``st`` plus the raw inputs ``ok`` ($? as 1/0),
  ``lec`` ($LASTEXITCODE, empty when unset), ``lec_changed``, ``err`` (a new $Error entry).
  ``st`` = 0 if ``ok``; else ``lec`` if it is non-zero and either changed or no PowerShell
  error was raised; else 1 (atuin's rule, without blaming a stale native exit code for a
  cmdlet error).
* ``P``: ``cwd`` (FileSystem provider path) or ``loc`` (any other provider's path).
* ``H``: ``shell``, ``ver``, ``pid``, ``proto=1``, ``rl`` (1 = PSReadLine hooks active).
* No ``X``: PowerShell has no exit hook short of an engine-event job the user would see
  in ``Get-Job``; the recorder takes the exit status from the process.
"""

from __future__ import annotations

from importlib import resources

from cfsession.shell import OSC_NUM, Launch, LaunchContext

PART = 80  # escaped characters per marker part (marker <= ~200 bytes with its other fields)
MAX_CMD = 16384  # characters of one command line sent; longer lines are cut (trunc=1)
_SAFE = frozenset(range(0x20, 0x7F)) - {0x3B, 0x5C}
_PS_QUOTES = "'\u2018\u2019\u201a\u201b"  # PowerShell ends a single-quoted string on any of these


def escape_ascii(value: str) -> str:
    """Escape ``value`` exactly as the generated PowerShell and Lua code do (reference form)."""
    out: list[str] = []
    for b in value.encode("utf-8", "surrogatepass"):
        out.append(chr(b) if b in _SAFE else f"\\x{b:02x}")
    return "".join(out)


def split_escaped(text: str, limit: int = PART) -> list[str]:
    """Cut escaped text into pieces of at most ``limit`` characters (reference form).

    Never inside an ``\\xHH`` escape (every ``\\`` in :func:`escape_ascii` output starts
    one) and never between the bytes of one UTF-8 character (continuation bytes are
    ``\\x80``-``\\xbf``).
    """
    parts: list[str] = []
    i = 0
    while len(text) - i > limit:
        cut = i + limit
        b = text.rfind("\\", cut - 3, cut)
        if b >= 0:
            cut = b
        while cut - 4 > i and text[cut] == "\\" and text[cut + 2] in "89ab":
            cut -= 4
        parts.append(text[i:cut])
        i = cut
    parts.append(text[i:])
    return parts


def encode_event(
    nonce: str,
    seq: int,
    event: str,
    fields: list[str],
    key: str | None = None,
    value: str | None = None,
) -> tuple[bytes, int]:
    """Wire bytes of one event as the PowerShell and Lua code write it, and the last seq used.

    ``fields`` are already-escaped ``key=value`` strings; ``value`` (escaped with
    :func:`escape_ascii`) is sent in parts when longer than :data:`PART`.
    """
    intro = f"\x1b]{OSC_NUM};{nonce};"
    tail = "".join(";" + f for f in fields)
    bodies: list[str] = []
    if key is None:
        bodies.append(event + tail)
    else:
        pieces = split_escaped(value or "", PART)
        if len(pieces) == 1:
            bodies.append(f"{event};{key}={value or ''}{tail}")
        else:
            n = len(pieces)
            for k, piece in enumerate(pieces, 1):
                bodies.append(f"{event};part={k}/{n};{key}={piece}" + (tail if k == n else ""))
    out = []
    for body in bodies:
        seq += 1
        out.append(f"{intro}{seq};{body}\x07")
    return "".join(out).encode("ascii"), seq


def ps_single_quote(value: str) -> str:
    """``value`` as a PowerShell single-quoted string literal (all five quote characters doubled)."""
    out = "".join(c + c if c in _PS_QUOTES else c for c in value)
    return f"'{out}'"


def render(ctx: LaunchContext) -> str:
    template = resources.files("cfsession.shell").joinpath("pwsh.ps1").read_text(encoding="ascii")
    kind = "powershell" if ctx.kind == "powershell" else "pwsh"
    subs = {
        "@NONCE@": ctx.nonce,
        "@OSC@": str(OSC_NUM),
        "@PART@": str(PART),
        "@MAXCMD@": str(MAX_CMD),
        "@KIND@": kind,
    }
    for key, value in subs.items():
        template = template.replace(key, value)
    return template


def command_arg(script: str, kind: str) -> str:
    """The text after ``-Command``: dot-source ``script`` (5.1: errors swallowed)."""
    dot = ". " + ps_single_quote(script)
    if kind == "powershell":
        return "try { " + dot + " } catch { }"
    return dot


def prepare(ctx: LaunchContext) -> Launch:
    script = ctx.tmpdir / "init.ps1"
    # ASCII, CRLF: Windows PowerShell 5.1 reads BOM-less files in the ANSI code page.
    script.write_bytes(render(ctx).replace("\r\n", "\n").replace("\n", "\r\n").encode("ascii"))
    script.chmod(0o600)
    argv = [ctx.shell]
    if ctx.login and ctx.kind == "pwsh":
        argv.append("-Login")  # must come first; pwsh on Linux/macOS only (ignored elsewhere)
    argv += ["-NoLogo", "-NoExit", "-Command", command_arg(str(script), ctx.kind)]
    return Launch(argv=argv, env=dict(ctx.env), secrets=[script])
