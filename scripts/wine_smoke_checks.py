"""The Windows half of scripts/wine-smoke: runs *in* the win64 CPython (under Wine).

    python.exe wine_smoke_checks.py WORKDIR

Prints one line per check: ``PASS name``, ``FAIL name — why`` or ``SKIP name — why``, and
``INFO key=value`` lines for the host half (the .cast path it plays with asciinema).
Every cfsession command runs as a child process with its stdio on pipes, as a user's
``cfsession … | more`` would (the pipe's code page is the ANSI one, cp1252 here).
"""

from __future__ import annotations

import importlib
import json
import os
import pkgutil
import shutil
import subprocess
import sys
import time
import traceback
from pathlib import Path
from typing import Any

WORK = Path(sys.argv[1])
FAILED = 0


def report(status: str, name: str, detail: str = "") -> None:
    global FAILED
    FAILED += status == "FAIL"
    detail = " ".join(detail.split())[:600]
    print(f"{status} {name}" + (f" — {detail}" if detail else ""), flush=True)


def cfsession(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess[bytes]:
    """``python -m cfsession ARGS`` with stdin, stdout and stderr on pipes."""
    return subprocess.run(
        [sys.executable, "-m", "cfsession", *args], input=b"", capture_output=True,
        env=env or ENV, timeout=timeout,
    )


def text(b: bytes, encoding: str = "cp1252") -> str:
    return b.decode(encoding, "replace").replace("\r\n", "\n")


def clean(p: subprocess.CompletedProcess[bytes], encoding: str = "cp1252") -> str | None:
    """None when the run looks healthy, else why not (exit code, a traceback)."""
    err = text(p.stderr, encoding)
    if "Traceback" in err or "Error:" in err and "cfsession:" not in err:
        return f"exit {p.returncode}: {err.strip()[-400:]}"
    return None


def check(name: str):  # type: ignore[no-untyped-def]
    def wrap(fn: Any) -> Any:
        def run() -> None:
            t = time.monotonic()
            try:
                fn()
                print(f"INFO took.{name}={time.monotonic() - t:.1f}", flush=True)
            except AssertionError as exc:
                report("FAIL", name, str(exc))
            except Exception:  # noqa: BLE001 - any exception is the finding
                report("FAIL", name, traceback.format_exc(limit=3))

        CHECKS.append(run)
        return fn

    return wrap


CHECKS: list[Any] = []
STORE = WORK / "store"
ENV = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "CFSESSION_"))}
ENV["CFSESSION_HOME"] = str(STORE)


@check("platform")
def _platform() -> None:
    import platform

    assert sys.platform == "win32", sys.platform
    report("PASS", "platform", f"CPython {platform.python_version()} {platform.machine()} {sys.platform}")


# The POSIX backends (termios/fcntl): the only modules allowed not to import on Windows,
# and only for want of a POSIX standard module. Nothing else may pull them in (below).
POSIX_ONLY = {"cfsession.recorder._posix", "cfsession.recorder.terminal"}
POSIX_STDLIB = {"termios", "fcntl", "tty", "pty", "pwd", "grp", "resource"}


@check("imports")
def _imports() -> None:
    import cfsession

    bad: list[str] = []
    posix: list[str] = []
    n = 0
    for mod in pkgutil.walk_packages(cfsession.__path__, "cfsession."):
        if mod.name == "cfsession.__main__":
            continue  # importing it runs the CLI; `python -m cfsession` below covers it
        n += 1
        try:
            importlib.import_module(mod.name)
        except ModuleNotFoundError as exc:
            if mod.name in POSIX_ONLY and exc.name in POSIX_STDLIB:
                posix.append(mod.name.rsplit(".", 1)[-1])
                continue
            bad.append(f"{mod.name}: {type(exc).__name__}: {exc}")
        except Exception as exc:  # noqa: BLE001
            bad.append(f"{mod.name}: {type(exc).__name__}: {exc}")
    assert not bad, "; ".join(bad)
    # The POSIX terminal module must not come in on Windows through the record path.
    p = subprocess.run(
        [sys.executable, "-c", "import sys, cfsession.recorder.loop, cfsession.recorder.pty as p; "
         "p.open_terminal(); print('cfsession.recorder.terminal' in sys.modules, 'termios' in sys.modules)"],
        input=b"", capture_output=True, env=ENV, timeout=60,
    )
    assert text(p.stdout).split() == ["False", "False"], f"POSIX terminal module loaded on Windows: {text(p.stdout + p.stderr)[-300:]}"
    report("PASS", "imports", f"{n - len(posix)} modules; POSIX backends not importable here, as meant: {', '.join(posix)}")


def _commands() -> list[list[str]]:
    import typer.main

    from cfsession.cli.main import app

    root = typer.main.get_command(app)
    out: list[list[str]] = [[]]

    def walk(cmd: Any, path: list[str]) -> None:
        for name, sub in sorted(getattr(cmd, "commands", {}).items()):
            out.append([*path, name])
            walk(sub, [*path, name])

    walk(root, [])
    return out


def _in_process(args: list[str]) -> tuple[int, str, str]:
    """``cfsession ARGS`` through its entry point in this interpreter, with stdout and
    stderr as a Windows pipe has them (cp1252, strict): ~1 s of Wine start-up saved each."""
    import io

    from cfsession._entry import main

    out = io.TextIOWrapper(io.BytesIO(), encoding="cp1252", errors="strict", write_through=True)
    err = io.TextIOWrapper(io.BytesIO(), encoding="cp1252", errors="strict", write_through=True)
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = out, err
    try:
        try:
            code = main(args)
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        sys.stdout, sys.stderr = saved
    return code, text(out.buffer.getvalue()), text(err.buffer.getvalue())  # type: ignore[attr-defined]


@check("help")
def _help() -> None:
    bad = []
    cmds = _commands()
    # The two entry paths as real processes (Typer's, and record's own argparse) …
    for path in ([], ["record"]):
        p = cfsession(*path, "--help")
        if p.returncode != 0 or clean(p) or "usage" not in text(p.stdout).lower():
            bad.append(f"{' '.join(path) or '(top)'}: exit {p.returncode} {clean(p) or text(p.stderr)[-200:]}")
    # … and every command's help through the same entry point, in this process.
    for path in cmds:
        code, out, err = _in_process([*path, "--help"])
        if code != 0 or "Traceback" in err or "usage" not in out.lower():
            bad.append(f"{' '.join(path) or '(top)'}: exit {code} {err[-200:]}")
    assert not bad, "; ".join(bad)
    report("PASS", "help", f"{len(cmds)} commands: " + ", ".join(" ".join(c) for c in cmds if c))


@check("etw-info-pipe")
def _etw_info_pipe() -> None:
    p = cfsession("etw", "info")
    assert p.returncode == 0 and not clean(p), f"exit {p.returncode}: {text(p.stderr)[-400:]}"
    out = text(p.stdout)
    assert "ContextForge.LoggingInfrastructure" in out, out[-300:]
    report("PASS", "etw-info-pipe", f"stdout encoding {_stdout_encoding(ENV)}")


@check("etw-info-cp437")
def _etw_info_cp437() -> None:
    env = dict(ENV, PYTHONIOENCODING="cp437")  # what a cmd.exe console on code page 437 gives
    p = cfsession("etw", "info", env=env)
    assert p.returncode == 0 and not clean(p, "cp437"), f"exit {p.returncode}: {text(p.stderr, 'cp437')[-400:]}"
    assert "ContextForge.LoggingInfrastructure" in text(p.stdout, "cp437")
    report("PASS", "etw-info-cp437")


@check("etw-info-more")
def _etw_info_more() -> None:
    # The reported failure exactly: through cmd's pipe into more.
    # (python found on PATH: list2cmdline would escape inner quotes as \", which cmd keeps.)
    env = dict(ENV, PATH=os.path.dirname(sys.executable) + os.pathsep + ENV.get("PATH", ""))
    p = subprocess.run(["cmd", "/d", "/c", "python -m cfsession etw info | more"], input=b"",
                       capture_output=True, env=env, timeout=120)
    assert p.returncode == 0 and "Traceback" not in text(p.stderr), f"exit {p.returncode}: {text(p.stderr)[-400:]}"
    assert "ContextForge" in text(p.stdout), text(p.stdout)[-300:]
    report("PASS", "etw-info-more")


def _stdout_encoding(env: dict[str, str]) -> str:
    p = subprocess.run([sys.executable, "-c", "import sys; print(sys.stdout.encoding)"], input=b"",
                       capture_output=True, env=env, timeout=60)
    return text(p.stdout).strip()


@check("doctor")
def _doctor() -> None:
    # Exit 1 is allowed: cmd's integration cannot be proven under WinPTY (its markers are
    # scraped away) and Wine's powershell is a stub, so doctor rightly reports them.
    home = WORK / "store-doctor"
    p = cfsession("doctor", "--timeout", "5", env=dict(ENV, CFSESSION_HOME=str(home)), timeout=300)
    why = clean(p)
    assert p.returncode in (0, 1) and not why, why or f"exit {p.returncode}: {text(p.stderr)[-300:]}"
    out = text(p.stdout)
    assert "ETW" in out and "storage" in out, out[-300:]
    etw = next((ln for ln in out.splitlines() if "ETW" in ln), "")
    report("PASS", "doctor", f"exit {p.returncode}; {etw.strip()}")


@check("etw-emitter")
def _etw_emitter() -> None:
    from cfsession.etw import _advapi32, _tracelogging

    api = _advapi32.load()
    calls: list[tuple[str, int]] = []
    for name in ("EventRegister", "EventWriteTransfer", "EventUnregister"):
        real = getattr(api, name)

        def rec(*a: Any, _real: Any = real, _name: str = name) -> Any:
            rc = _real(*a)
            calls.append((_name, int(rc)))
            return rc

        setattr(api, name, rec)
    em = _advapi32.Advapi32Emitter()
    act = os.urandom(16)
    em.write(_tracelogging.SESSION_START, _tracelogging.SESSION_START.encode(
        _sample(_tracelogging.SESSION_START)), act, None)
    em.write(_tracelogging.TERMINAL_CAPTURE, _tracelogging.TERMINAL_CAPTURE.encode(
        _sample(_tracelogging.TERMINAL_CAPTURE)), act, None)
    em.write(_tracelogging.SESSION_END, _tracelogging.SESSION_END.encode(
        _sample(_tracelogging.SESSION_END)), act, os.urandom(16))
    em.close()
    names = [c[0] for c in calls]
    assert names == ["EventRegister", "EventWriteTransfer", "EventWriteTransfer", "EventWriteTransfer", "EventUnregister"], names
    assert all(rc == 0 for _, rc in calls), calls
    report("PASS", "etw-emitter", f"{len(calls)} advapi32 calls returned 0; status {em.status} (Wine delivers nothing)")


def _sample(event: Any) -> list[Any]:
    """A value of the right kind for each field of ``event``."""
    from cfsession.etw._tracelogging import InType

    vals: list[Any] = []
    for f in event.fields:
        kind = InType(int(f.in_type) & 0x1F).name
        if "STR" in kind:
            vals.append("caf\u00e9 \u2713 \u2264")
        elif kind == "GUID":
            vals.append(os.urandom(16))
        else:
            vals.append(3)
    return vals


@check("psutil")
def _psutil() -> None:
    # psutil.Process().name() fails under Wine (and can on Windows): cfsession must not
    # need it. What the store does need — is a session's recorder still running?
    import psutil

    from cfsession.store import recorder_alive

    try:
        psutil.Process().name()
        name = "works"
    except Exception as exc:  # noqa: BLE001 - the point: it may fail
        name = f"fails here ({type(exc).__name__})"
    assert recorder_alive(os.getpid(), "", None) is True, "own pid not seen as alive"
    assert recorder_alive(2**22 + 3, "", None) is False, "a missing pid seen as alive"
    report("PASS", "psutil", f"recorder_alive works; Process().name() {name}")


def _jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(ln) for ln in path.read_bytes().decode("utf-8").splitlines() if ln.strip()]


def _only_session() -> tuple[str, Path]:
    files = sorted((STORE / "sessions").glob("*.jsonl"))
    assert len(files) == 1, f"{len(files)} JSONL files in the store"
    return files[0].stem, files[0]


WINPTY_ATTEMPTS = 5  # drops grow with load: 2 of 3 runs on a 2-core machine at load 11


def _one_shot(name: str, argv: list[str], exit_code: int) -> tuple[Path, list[dict[str, Any]], dict[str, Any], int]:
    """``cfsession record -- ARGV`` into a store of its own: (store, events, the capture,
    runs WinPTY dropped).

    Everything cfsession decides is asserted on every run. One thing is WinPTY's: it
    scrapes the console on a timer, and a command that exits at once sometimes leaves
    before its screen was read (seen at pywinpty's PTY level too, about one run in five
    under Wine). Only that — a session exact in every other way, with empty output — is
    run again (WINPTY_ATTEMPTS at most), and the caller says so.
    """
    for attempt in range(1, WINPTY_ATTEMPTS + 1):
        home = WORK / f"store-{name}-{attempt}"
        p = cfsession("record", "--", *argv, env=dict(ENV, CFSESSION_HOME=str(home)), timeout=120)
        assert p.returncode == exit_code, f"exit {p.returncode} (expected {exit_code}): {text(p.stderr)[-400:]}"
        assert not clean(p), clean(p)
        files = sorted((home / "sessions").glob("*.jsonl"))
        assert len(files) == 1, f"{len(files)} JSONL files"
        events = _jsonl(files[0])
        kinds = [e["event_type"] for e in events]
        assert kinds[0] == "session_start" and kinds[-1] == "session_end", kinds
        caps = [e for e in events if e["event_type"] == "terminal_capture"]
        assert len(caps) == 1, f"{len(caps)} terminal_capture events: {kinds}"
        assert caps[0].get("exit_code") == exit_code, caps[0]
        assert events[-1].get("exit_code") == exit_code, events[-1]
        if (caps[0].get("output") or "").strip() or attempt == WINPTY_ATTEMPTS:
            return home, events, caps[0], attempt - 1
    raise AssertionError("unreachable")


def _dropped(n: int) -> str:
    return f"; WinPTY dropped the output in {n} earlier run(s)" if n else ""


@check("record-oneshot")
def _record() -> None:
    global STORE
    home, events, cap, dropped = _one_shot("oneshot", ["cmd", "/c", "echo hi & exit 3"], 3)
    output = (cap.get("output") or "").strip()
    assert output == "hi", repr(cap.get("output"))
    assert cap.get("command") == 'cmd /c "echo hi & exit 3"', cap.get("command")  # Windows quoting
    STORE = home  # list/show/verify read this session back
    ENV["CFSESSION_HOME"] = str(home)
    sid = events[0]["session_id"]
    cast = STORE / "sessions" / f"{sid}.cast"
    assert cast.exists(), "no .cast"
    print(f"INFO cast={cast.as_posix()[2:] if cast.as_posix()[1:2] == ':' else cast}", flush=True)
    print(f"INFO session={sid}", flush=True)
    kinds = [e["event_type"] for e in events]
    report("PASS", "record-oneshot", f"{kinds}; output {output!r}, exit_code {cap['exit_code']}{_dropped(dropped)}")


@check("record-unicode")
def _record_unicode() -> None:
    # JSONL is UTF-8 whatever the code page: characters cp1252 lacks survive.
    home, events, cap, dropped = _one_shot("unicode", ["cmd", "/c", "echo caf\u00e9 \u2713"], 0)
    out, cmd = cap.get("output") or "", cap.get("command") or ""
    assert "caf\u00e9 \u2713" in cmd, repr(cmd)
    assert "caf\u00e9" in out, repr(out)
    # … and shown on a cp1252 pipe: what the code page has, stand-ins for the rest.
    p = cfsession("show", events[0]["session_id"], env=dict(ENV, CFSESSION_HOME=str(home)))
    assert p.returncode == 0 and not clean(p), f"show: exit {p.returncode}: {text(p.stderr)[-300:]}"
    assert "caf\u00e9 ok" in text(p.stdout), text(p.stdout)[-300:]
    report("PASS", "record-unicode", f"output {out.strip()!r}{_dropped(dropped)}")


@check("list")
def _list() -> None:
    sid, _ = _only_session()
    p = cfsession("list")
    assert p.returncode == 0 and not clean(p), f"exit {p.returncode}: {text(p.stderr)[-300:]}"
    assert sid[:8] in text(p.stdout), text(p.stdout)[-300:]
    pj = cfsession("list", "--json")
    rows = json.loads(text(pj.stdout))
    assert any(sid in json.dumps(r) for r in (rows if isinstance(rows, list) else [rows])), str(rows)[:300]
    # The table's colour switch-on through the typed kernel32 calls: here stdout is a pipe,
    # so not a console (False), but the whole path runs (msvcrt handle, GetConsoleMode).
    from cfsession.cli import table

    vt = table._windows_vt(sys.stdout)
    assert vt is False, f"VT switched on for a pipe: {vt!r}"
    report("PASS", "list")


@check("show")
def _show() -> None:
    sid, _ = _only_session()
    p = cfsession("show", sid)
    out = text(p.stdout)
    assert p.returncode == 0 and not clean(p), f"exit {p.returncode}: {text(p.stderr)[-300:]}"
    assert "echo hi" in out and "hi" in out, out[-400:]
    report("PASS", "show")


@check("verify")
def _verify() -> None:
    sid, _ = _only_session()
    p = cfsession("verify", sid)
    assert p.returncode == 0 and not clean(p), f"exit {p.returncode}: {text(p.stdout + p.stderr)[-300:]}"
    report("PASS", "verify", text(p.stdout).strip().splitlines()[-1][:120] if p.stdout.strip() else "")


@check("record-powershell")
def _powershell() -> None:
    exe = shutil.which("pwsh") or shutil.which("powershell")
    works = False
    if exe:
        probe = subprocess.run([exe, "-NoProfile", "-Command", "$PSVersionTable.PSVersion.Major"],
                               input=b"", capture_output=True, timeout=60)
        works = text(probe.stdout).strip().isdigit()
    if not works:
        report("SKIP", "record-powershell", f"no working PowerShell here ({exe or 'none on PATH'}; Wine's is a stub) — run it on Windows (docs/WINDOWS.md)")
        return
    home = WORK / "store-pwsh"
    env = dict(ENV, CFSESSION_HOME=str(home))
    p = cfsession("record", "--", exe, "-NoProfile", "-Command", "Write-Output hi; exit 3", env=env)
    assert p.returncode == 3, f"exit {p.returncode}: {text(p.stderr)[-300:]}"
    files = list((home / "sessions").glob("*.jsonl"))
    caps = [e for e in _jsonl(files[0]) if e["event_type"] == "terminal_capture"]
    assert len(caps) == 1 and caps[0].get("exit_code") == 3 and "hi" in (caps[0].get("output") or ""), caps
    report("PASS", "record-powershell")


def main() -> int:
    # Our own report goes to the host as UTF-8 (the pipe's default here is cp1252).
    sys.stdout.reconfigure(encoding="utf-8")  # type: ignore[union-attr]
    for run in CHECKS:
        run()
    return 1 if FAILED else 0


if __name__ == "__main__":
    sys.exit(main())
