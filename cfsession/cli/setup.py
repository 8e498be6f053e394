# Over ~400 lines: init's rc snippets and doctor's real-shell checks, both about installing into a user's shells.
"""``cfsession init`` (the rc-file snippet) and ``cfsession doctor`` (is this machine ready?).

``init`` prints text for the user's rc file and nothing else, so ``cfsession init zsh >>
~/.zshrc`` is the whole installation. ``doctor`` checks what recording needs: each shell
is really started under the recorder on a pseudo-terminal (with the user's own startup
files, into a throw-away store) and must report a command through its hooks.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import typer

from cfsession.cli import _common
from cfsession.errors import ExitCode

INIT_SHELLS = ("bash", "zsh", "fish", "pwsh")
PROBE_TIMEOUT_S = 10.0
# When to type `exit`: the line editor switched bracketed paste on and then went quiet
# (typed earlier, zsh can lose it while it sets up the terminal), or for shells that never
# send that, a longer quiet spell after the first output.
PASTE_ON = b"\x1b[?2004h"
PROBE_SETTLE_S = (0.1, 0.5)

_HEAD = (
    "# cfsession — from `cfsession init {shell}{auto}`. `rec` records a session (exit to stop).\n"
)
_AUTO_NOTE = (
    "# Every interactive terminal starts under the recorder, except: inside a recorded\n"
    "# shell (CFSESSION_ID is set there), when not on a terminal, with CFSESSION_AUTO=0, or\n"
    "# when cfsession is not installed. exec: leaving the recording closes the terminal.\n"
    "# CFSESSION_FALLBACK=shell: if the recording cannot start, the terminal gets the shell.\n"
    "# Put this near the top: whatever runs before it runs again inside the recording.\n"
)
_SNIPPETS = {
    "bash": (
        "alias rec='cfsession record'\n",
        "if [[ $- == *i* && -z ${CFSESSION_ID-} && ${CFSESSION_AUTO-1} != 0 && -t 0 && -t 1 ]] &&\n"
        "  command -v cfsession >/dev/null 2>&1; then\n"
        '  if shopt -q login_shell; then CFSESSION_FALLBACK=shell exec cfsession record --shell "$BASH" --login\n'
        '  else CFSESSION_FALLBACK=shell exec cfsession record --shell "$BASH"; fi\n'
        "fi\n",
    ),
    "zsh": (
        "alias rec='cfsession record'\n",
        "if [[ -o interactive && -z ${CFSESSION_ID-} && ${CFSESSION_AUTO-1} != 0 && -t 0 && -t 1 ]] &&\n"
        "  (( $+commands[cfsession] )); then\n"
        '  if [[ -o login ]]; then CFSESSION_FALLBACK=shell exec cfsession record --shell "${${ZSH_ARGZERO#-}:-zsh}" --login\n'
        '  else CFSESSION_FALLBACK=shell exec cfsession record --shell "${${ZSH_ARGZERO#-}:-zsh}"; fi\n'
        "fi\n",
    ),
    "fish": (
        "function rec --description 'cfsession record'; cfsession record $argv; end\n",
        'if status is-interactive; and not set -q CFSESSION_ID; and test "$CFSESSION_AUTO" != 0\n'
        "    and isatty stdin; and isatty stdout; and command -q cfsession\n"
        "    if status is-login\n"
        "        exec env CFSESSION_FALLBACK=shell cfsession record --shell (status fish-path) --login\n"
        "    else\n"
        "        exec env CFSESSION_FALLBACK=shell cfsession record --shell (status fish-path)\n"
        "    end\n"
        "end\n",
    ),
    "pwsh": (
        "function rec { cfsession record @args }\n",
        # PowerShell has no exec: run the recorder, then leave with its status. Profiles
        # also run for `pwsh -c`/`-File`; those are not interactive terminals.
        "if (-not $env:CFSESSION_ID -and $env:CFSESSION_AUTO -ne '0' -and\n"
        "    -not [Console]::IsInputRedirected -and -not [Console]::IsOutputRedirected -and\n"
        "    (Get-Command cfsession -CommandType Application -ErrorAction SilentlyContinue) -and\n"
        "    -not ([Environment]::GetCommandLineArgs() | Where-Object {\n"
        "        $_ -match '^-(c|command|f|file|e|ec|encodedcommand|noni|noninteractive)$' })) {\n"
        "    $env:CFSESSION_FALLBACK = 'stay'\n"
        "    cfsession record --shell (Get-Process -Id $PID).Path\n"
        "    Remove-Item Env:CFSESSION_FALLBACK -ErrorAction SilentlyContinue\n"
        "    # 75: the recording could not start (it said why): this terminal goes on.\n"
        "    if ($LASTEXITCODE -ne 75) { exit $LASTEXITCODE }\n"
        "}\n",
    ),
}


def snippet(shell: str, auto: bool = False) -> str:
    """The text ``cfsession init <shell> [--auto]`` prints."""
    alias, auto_part = _SNIPPETS[shell]
    text = _HEAD.format(shell=shell, auto=" --auto" if auto else "") + alias
    return text + (_AUTO_NOTE + auto_part if auto else "")


# -- doctor ------------------------------------------------------------------------------
@dataclass
class ShellCheck:
    name: str
    path: str | None
    version: str | None = None
    default: bool = False
    ok: bool | None = None  # None: not checked (not installed, or not checkable here)
    detail: str = ""
    seconds: float | None = None


@dataclass
class Report:
    shells: list[ShellCheck] = field(default_factory=list)
    storage: dict[str, Any] = field(default_factory=dict)
    etw: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return all(s.ok is not False for s in self.shells) and bool(self.storage.get("writable"))

    def to_dict(self) -> dict[str, Any]:
        shells = [asdict(s) for s in self.shells]
        return {"ok": self.ok, "shells": shells, "storage": self.storage, "etw": self.etw}


# Every shell cfsession integrates; which exist is up to the machine, not to a platform test.
SHELLS = ("bash", "zsh", "fish", "pwsh", "powershell", "cmd")


def shell_version(path: str) -> str | None:
    """``X.Y[.Z]`` from ``<shell> --version`` (cmd has none)."""
    try:
        out = subprocess.run(
            [path, "--version"],
            capture_output=True,
            timeout=5,
            stdin=subprocess.DEVNULL,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    m = re.search(rb"\d+\.\d+(?:\.\d+)?", out.stdout or out.stderr)
    return m.group().decode() if m else None


def probe(shell: str, timeout: float = PROBE_TIMEOUT_S) -> tuple[bool, str]:
    """Record ``shell`` briefly on a pseudo-terminal; True when a command came through its hooks.

    The user's real HOME and startup files are used (that is what is being checked), the
    recording goes to a temporary store that is removed afterwards.
    """
    import tempfile

    from cfsession.recorder.pty import spawn

    with tempfile.TemporaryDirectory(prefix="cfsession-doctor-") as store:
        env = dict(os.environ, CFSESSION_HOME=store, CFSESSION_AUTO="0")
        env["CFSESSION_INTEGRATION_TIMEOUT"] = str(max(timeout * 0.6, 0.5))
        env.pop("CFSESSION_ID", None)  # a probe run inside a recording is not its child
        argv = [sys.executable, "-m", "cfsession", "record", "-q", "--no-etw", "--shell", shell]
        pty = spawn(argv, env=env, cwd=None, cols=80, rows=24)
        try:
            finished = _drive(pty, timeout)
        finally:
            if pty.poll() is None:
                pty.terminate(force=True)
                pty.wait()
            pty.close()
        return _verdict(Path(store), finished, timeout)


def _drive(pty: Any, timeout: float) -> bool:
    """Wait for the prompt, type ``exit``, wait for the end; False on timeout."""
    import select

    deadline = time.monotonic() + timeout
    sent = False
    first_output: float | None = None
    editor = False
    last_output = time.monotonic()
    while time.monotonic() < deadline:
        now = time.monotonic()
        quiet = first_output is not None and now - last_output >= PROBE_SETTLE_S[not editor]
        if not sent and (quiet or now > deadline - timeout / 3):  # prompt up, or never quiet
            pty.write(b"exit\r")
            sent = True
        ready, _, _ = select.select([pty.fileno()], [], [], 0.05)
        if ready:
            try:
                data = pty.read(65536)
            except OSError:
                data = b""
            if not data:
                break
            first_output = first_output or time.monotonic()
            editor = editor or PASTE_ON in data
            last_output = time.monotonic()
        elif pty.poll() is not None:
            break
    else:
        return False
    pty.wait()
    return True


def _verdict(store: Path, finished: bool, timeout: float) -> tuple[bool, str]:
    import json

    records: list[dict[str, Any]] = []
    for path in (store / "sessions").glob("*.jsonl"):
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                records.append(json.loads(line))
            except ValueError:
                continue
    start = next((r for r in records if r.get("event_type") == "session_start"), None)
    if start is None:
        return False, "the recorder did not start"
    if str(start.get("integration", "")).startswith("unsegmented"):
        return False, str(start["integration"]).partition(": ")[2] or "no integration"
    for r in records:
        if r.get("event_type") == "integration" and r.get("status") == "unsegmented":
            return False, f"no command boundaries: {r.get('reason')}"
    cmds = [r for r in records if r.get("event_type") == "terminal_capture"]
    ends = [r for r in records if r.get("event_type") == "session_end"]
    # The shell's `exit` reached us through its hooks: session_end names it (it is the
    # session's end, not a command); older recordings held it as a command.
    if any(e.get("end_command") == "exit" for e in ends) or any(
            c.get("command") == "exit" and c.get("command_source") != "unsegmented" for c in cmds):
        return True, "integration works"
    if not finished:
        return False, f"no prompt within {timeout:g} s (does a startup file wait for input?)"
    return False, "the shell sent no markers: its hooks did not load"


def check_shells(names: list[str] | None, timeout: float) -> list[ShellCheck]:
    from concurrent.futures import ThreadPoolExecutor

    from cfsession.recorder.pty import default_shell

    user_shell = os.environ.get("SHELL") or default_shell(os.environ) or ""
    default = os.path.splitext(os.path.basename(user_shell))[0].lower() or None
    checks = []
    for name in names or SHELLS:
        path = shutil.which(name)
        checks.append(ShellCheck(name, path, default=(name == default)))

    def run(check: ShellCheck) -> None:
        if check.path is None:
            check.detail = "not installed"
            return
        check.version = shell_version(check.path)
        t0 = time.monotonic()
        try:
            check.ok, check.detail = probe(check.path, timeout)
        except Exception as exc:  # a probe that cannot even start is a finding, not a crash
            check.ok, check.detail = False, f"could not start: {exc}"
        check.seconds = round(time.monotonic() - t0, 2)
        if check.ok is False and check.detail.startswith("not checked"):
            check.ok = None

    with ThreadPoolExecutor(max_workers=max(len(checks), 1)) as pool:
        list(pool.map(run, checks))
    return checks


def check_storage() -> dict[str, Any]:
    """Whether recordings can be written, and how much is stored. Creates nothing."""
    from cfsession import paths

    root = paths.home()
    sdir = paths.sessions_dir(root)
    info: dict[str, Any] = {"path": str(root), "writable": False, "sessions": 0, "bytes": 0}
    try:
        if root.exists():
            paths.check_owner(root)  # what a recording checks first (a file, a shared dir)
        if sdir.is_dir():
            paths.check_owner(sdir)
            probe_file = sdir / f".doctor-{os.getpid()}"
            os.close(paths.open_private(probe_file, "wb"))
            probe_file.unlink()
        else:
            # Not created yet (nothing recorded): the first recording creates it there.
            parent = next(p for p in (root, *root.parents) if p.exists())
            if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
                raise PermissionError(f"cannot create {root}: {parent} is not a writable directory")
            info["note"] = "created by the first recording"
        info["writable"] = True
    except Exception as exc:  # whatever stops a recording from being written is the answer
        info["error"] = str(exc)
        return info
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            try:
                info["bytes"] += os.stat(os.path.join(dirpath, name)).st_size
            except OSError:
                continue
    info["sessions"] = sum(1 for _ in sdir.glob("*.jsonl")) if sdir.is_dir() else 0
    existing = next(p for p in (root, *root.parents) if p.exists())
    info["free_bytes"] = shutil.disk_usage(existing).free
    return info


def check_etw() -> dict[str, Any]:
    import uuid

    try:
        from cfsession.sinks.etw import EtwSink
    except ImportError:
        return {"status": "unavailable: emitter not installed"}
    try:
        sink = EtwSink(session_id=str(uuid.uuid4()), parent_session_id=None, enabled=True)
    except Exception as exc:  # report it; the other checks still count
        return {"status": f"unavailable: {exc}"}
    status = sink.status
    sink.close()
    return {"status": status}


def doctor(names: list[str] | None = None, timeout: float = PROBE_TIMEOUT_S) -> Report:
    """Everything ``cfsession doctor`` checks."""
    return Report(check_shells(names, timeout), check_storage(), check_etw())


def _size(n: float) -> str:
    units = ("B", "kB", "MB", "GB", "TB")
    i = 0
    while n >= 1000 and i < len(units) - 1:
        n, i = n / 1000, i + 1
    return f"{n:.0f} B" if i == 0 else f"{n:.1f} {units[i]}"


def print_report(report: Report, con: Any) -> None:
    from rich.text import Text

    from cfsession.text import sanitize

    def line(ok: bool | None, head: str, rest: str) -> None:
        mark, style = {True: ("✓", "green"), False: ("✗", "bold red"), None: ("·", "dim")}[ok]
        out = Text()
        out.append(f"{mark} ", style).append(head).append(
            f" — {rest}", "" if ok is not None else "dim"
        )
        con.print(out, soft_wrap=True)

    for s in report.shells:
        if s.path is None:
            continue
        head = " ".join(x for x in (s.name, s.version, sanitize(s.path)) if x)
        head += "  (your shell)" if s.default else ""
        took = f" ({s.seconds:.1f} s)" if s.seconds is not None and s.ok else ""
        line(s.ok, head, sanitize(s.detail) + took)
    missing = [s.name for s in report.shells if s.path is None]
    if missing:
        con.print(f"· not installed: {', '.join(missing)}", style="dim", soft_wrap=True)
    st = report.storage
    if st.get("writable"):
        rest = f"writable, {st['sessions']} sessions, {_size(st['bytes'])}"
        rest += f", {st['note']}" if "note" in st else ""
        rest += f" ({_size(st['free_bytes'])} free)" if "free_bytes" in st else ""
        line(True, f"storage {sanitize(st['path'])}", rest)
    else:
        line(
            False,
            f"storage {sanitize(st['path'])}",
            f"not writable: {sanitize(st.get('error', ''))}",
        )
    status = str(report.etw.get("status"))
    line(True if status.startswith("enabled") else None, "ETW", sanitize(status))


# A list option's default object is shared between calls: keep it at module level.
_SHELL_OPTION = typer.Option(None, "--shell", help="Check only this shell (repeatable).")


def register(app: typer.Typer) -> None:
    """Add ``init`` and ``doctor`` to ``app``."""

    @app.command("init")
    def init(
        shell: str = typer.Argument(
            ..., metavar="bash|zsh|fish|pwsh", help="The shell whose rc file gets the snippet."
        ),
        auto: bool = typer.Option(
            False, "--auto", help="Also start every interactive terminal under the recorder."
        ),
    ) -> None:
        """Print the snippet for your shell's rc file: the `rec` alias, and with --auto recording by default.

        Install: `cfsession init bash --auto >> ~/.bashrc` (zsh: ~/.zshrc, fish:
        ~/.config/fish/config.fish, pwsh: $PROFILE). Opt out for one terminal with
        CFSESSION_AUTO=0.
        """
        from cfsession.errors import UsageError

        name = shell.lower()
        if name not in INIT_SHELLS:
            raise UsageError(f"no snippet for {shell!r}", f"choose one of {', '.join(INIT_SHELLS)}")
        sys.stdout.write(snippet(name, auto))

    @app.command("doctor")
    def doctor_cmd(
        shells: list[str] | None = _SHELL_OPTION,
        timeout: float = typer.Option(
            PROBE_TIMEOUT_S, "--timeout", help="Seconds each shell gets to start."
        ),
        as_json: bool = typer.Option(False, "--json", help="Print the results as JSON."),
    ) -> None:
        """Check this machine: shells and whether their integration works, storage, ETW.

        Each installed shell is started briefly under the recorder, with your startup
        files, into a temporary store. Exit 1 if a check failed.
        """
        report = doctor(shells or None, timeout)
        if as_json:
            _common.print_json(report.to_dict())
        else:
            print_report(report, _common.console())
        if not report.ok:
            raise typer.Exit(ExitCode.ERROR)
