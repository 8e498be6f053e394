"""``cfsession record``: parse options, start the shell, run the loop, write the summary.

Kept free of Typer/rich/sqlite so the first prompt appears fast (DESIGN.md §7).
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any, NamedTuple

from cfsession import __version__, log, paths
from cfsession.errors import CfsessionError, ExitCode, UsageError

INTEGRATION_TIMEOUT_S = 10.0  # rc files that load nvm/conda can take seconds


class Options(NamedTuple):
    shell: str | None = None
    login: bool = False
    name: str | None = None
    session_type: str | None = None
    no_etw: bool = False
    quiet: bool = False
    command: list[str] = []  # never mutated
    pause_key: bytes | None = None
    pty: bool | None = None  # record -- CMD: None = a PTY only when stdin and stdout are terminals


_VALUED = {"--shell": "shell", "--name": "name", "-n": "name", "--type": "session_type",
           "--pause-key": "pause_key"}
_FLAGS = {"--login": "login", "-l": "login", "--no-etw": "no_etw", "--quiet": "quiet", "-q": "quiet"}
_PTY_FLAGS = {"--pty": True, "--no-pty": False}


def _parse_plain(argv: list[str]) -> dict[str, Any] | None:
    """The everyday argument lists, without importing argparse (~3 ms with gettext and
    locale, before the first prompt). None for anything else — help, a typo, an
    abbreviation — which argparse then handles with its usual messages."""
    out: dict[str, Any] = {"command": []}
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == "--" or not a.startswith("-") or a == "-":
            out["command"] = argv[i + 1 :] if a == "--" else argv[i:]
            return out
        name, eq, value = a.partition("=")
        if name in _VALUED and (not eq or name.startswith("--")):
            if not eq:
                if i + 1 >= len(argv):
                    return None
                i += 1
                value = argv[i]
            out[_VALUED[name]] = value
        elif a in _FLAGS:
            out[_FLAGS[a]] = True
        elif a in _PTY_FLAGS:
            out["pty"] = _PTY_FLAGS[a]
        else:
            return None
        i += 1
    return out


def parse(argv: list[str]) -> Options:
    """Options from the everyday argument forms (anything else: the CLI parses it, see main)."""
    plain = _parse_plain(argv)
    if plain is None:
        raise UsageError("cannot read these options", "see `cfsession record --help`")
    key = parse_key(plain["pause_key"]) if plain.get("pause_key") else None
    return Options(
        plain.get("shell"), plain.get("login", False), plain.get("name"),
        plain.get("session_type"), plain.get("no_etw", False), plain.get("quiet", False),
        list(plain["command"]), key, plain.get("pty"),
    )


def parse_key(spec: str) -> bytes:
    """``C-]``, ``^]``, ``ctrl-]`` → the control byte (0x1d); only C0 controls are accepted."""
    s = spec.strip()
    for prefix in ("ctrl-", "ctrl+", "c-", "^"):
        if s.lower().startswith(prefix):
            s = s[len(prefix) :]
            break
    else:
        raise CfsessionError(f"--pause-key {spec!r}: not a control key", "use a form like C-] or ^]")
    if len(s) != 1 or not ("@" <= s.upper() <= "_"):
        raise CfsessionError(f"--pause-key {spec!r}: not a control key", "use a form like C-] or ^]")
    return bytes((ord(s.upper()) ^ 0x40,))


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


class Warner:
    """One line on stderr per kind of problem, and a ``warning`` event while it can be written."""

    def __init__(self) -> None:
        self.seen: set[str] = set()
        self.session: Any = None
        self.raw = False
        self.t0 = time.monotonic()  # replaced by the session's start

    def __call__(self, code: str, message: str) -> None:
        if code in self.seen:
            return
        self.seen.add(code)
        log.warning("recorder warning", code=code)  # the code only: messages may quote data
        end = "\r\n" if self.raw else "\n"
        try:
            sys.stderr.write(f"cfsession: warning: {message}{end}")
            sys.stderr.flush()
        except OSError:
            pass
        if self.session is not None and code != "store_write_failed":
            try:
                self.session.event("warning", self.session_now(), code=code, message=message)
            except Exception:  # the warning path itself must never fail the recording
                pass

    def session_now(self) -> float:
        return time.monotonic() - self.t0


class LazyRedactor:
    """The session's redactor, built on first use rather than before the first prompt.

    Compiling the default shapes costs ~8 ms; built here on first use, that happens on the
    .cast writer's thread when the first output arrives, while the prompt is already
    on its way to the terminal. User patterns are compiled at start instead, so a bad one
    is reported at once.
    """

    def __init__(self, build: Any) -> None:
        import threading

        self._build = build
        self._lock = threading.Lock()
        self._real: Any = None

    def get(self) -> Any:
        if self._real is None:
            with self._lock:  # the loop and the .cast thread may both ask first
                if self._real is None:
                    self._real = self._build()
        return self._real

    def redact(self, text: str) -> tuple[str, int]:
        return self.get().redact(text)  # type: ignore[no-any-return]


class LazyStreamRedactor:
    """``StreamRedactor`` over a :class:`LazyRedactor`, made on the first chunk."""

    def __init__(self, redactor: LazyRedactor) -> None:
        self._redactor = redactor
        self._stream: Any = None

    def _get(self) -> Any:
        if self._stream is None:
            from cfsession.redact_stream import StreamRedactor

            self._stream = StreamRedactor(self._redactor.get())
        return self._stream

    def feed(self, text: str) -> str:
        return self._get().feed(text)  # type: ignore[no-any-return]

    def flush(self) -> str:
        return self._get().flush()  # type: ignore[no-any-return]


def _load_redact(root: Path, warn: Warner) -> tuple[Any, LazyRedactor]:
    try:
        from cfsession.config import load_config

        cfg = load_config(paths.config_path(root))
    except CfsessionError as exc:
        warn("config", f"{exc}; using defaults")
        from cfsession.config import Config

        cfg = Config()

    def build(config: Any) -> Any:
        from cfsession.redact import load_redactor

        return load_redactor(config)

    if not cfg.redact_patterns:
        return cfg, LazyRedactor(lambda: build(cfg))
    try:
        built = build(cfg)
    except Exception as exc:  # a bad user pattern must not stop recording…
        warn("redact", f"redaction patterns not usable ({exc}); recording without user patterns")
        # …nor switch off the default shapes.
        built = build(cfg._replace(redact_patterns=()))
    return cfg, LazyRedactor(lambda: built)


def _open_etw(session_id: str, parent: str | None, enabled: bool, warn: Warner) -> Any:
    try:
        from cfsession.sinks.etw import EtwSink
    except ImportError:
        return None
    try:
        return EtwSink(session_id=session_id, parent_session_id=parent, enabled=enabled, on_warning=warn)
    except Exception as exc:
        warn("etw_failed", f"ETW unavailable: {exc}")
        return None


def main(argv: list[str]) -> int:
    if _parse_plain(argv) is None:
        # --help, a typo, an abbreviation, a missing value: the CLI's parser, so help and
        # errors read as they do for every other command (it then calls run_options).
        from cfsession.cli import run

        return run(["record", *argv])
    try:
        opts = parse(argv)
    except CfsessionError as exc:
        from cfsession.cli._common import report_error

        report_error(exc)
        return ExitCode.USAGE
    return run_options(opts)


def run_options(opts: Options) -> int:
    """Record with parsed options; errors become one line on stderr and an exit code."""
    try:
        return record(opts)
    except CfsessionError as exc:
        from cfsession.cli._common import report_error

        return report_error(exc)


def record(opts: Options) -> int:  # noqa: C901 - linear set-up, kept in one place on purpose
    from cfsession import shell as shell_mod
    from cfsession.actor import detect as detect_actor
    from cfsession.recorder import bookkeeper
    from cfsession.recorder import pty as platform_io
    from cfsession.records import utc_ts
    from cfsession.segmenter import Segmenter
    from cfsession.session import Session
    from cfsession.sinks.cast import CastWriter
    from cfsession.sinks.jsonl import JsonlSink

    env = dict(os.environ)
    session_id = _uuid4()
    parent = env.get("CFSESSION_ID") or None
    warn = Warner()
    term = platform_io.open_terminal()
    cols, rows = term.size()

    # -- what to run ----------------------------------------------------------------------
    tmpdir: Path | None = None
    nonce = os.urandom(16).hex()  # 128 bits from the OS CSPRNG, as secrets.token_hex
    pipes = False
    if opts.command:
        exe = find_command(opts.command[0])
        pipes = use_pipes(opts.pty)
        shell_path, kind = exe, shell_mod.shell_kind(exe)
        launch = shell_mod.Launch(argv=list(opts.command), env=env, integrated=False, reason="single command")
        session_type = opts.session_type or "command"
    else:
        if opts.pty is False:
            err = CfsessionError("--no-pty needs a command", "use `cfsession record --no-pty -- CMD ARGS…`")
            err.exit_code = ExitCode.USAGE
            raise err
        shell_path = resolve_shell(opts.shell, env, platform_io.default_shell(env))
        kind = shell_mod.shell_kind(shell_path)
        tmpdir = shell_mod.make_tmpdir()
        ctx = shell_mod.LaunchContext(shell=shell_path, kind=kind, nonce=nonce, login=opts.login, env=env, tmpdir=tmpdir)
        launch = shell_mod.prepare(ctx)
        session_type = opts.session_type or "interactive"
    launch.env["CFSESSION_ID"] = session_id  # not secret: lets a nested recorder find its parent

    # -- sinks ------------------------------------------------------------------------------
    use_child = bookkeeper.available()
    root = paths.home()
    jsonl = cast = None
    try:
        paths.ensure_dir(root)
        sdir = paths.ensure_dir(paths.sessions_dir(root))
        from cfsession.anchor import AnchorWriter, anchor_path

        jsonl = JsonlSink(sdir / f"{session_id}.jsonl", session_id, on_warning=warn,
                          anchor=AnchorWriter(anchor_path(session_id, root), session_id))
    except (OSError, CfsessionError) as exc:
        warn("store", f"cannot write to {root} ({exc}); running without recording")
    cfg, redactor = _load_redact(root, warn)
    redact = redactor.redact
    argv_record = list(opts.command) or None
    if argv_record:
        from cfsession.redact import redact_argv

        argv_record = redact_argv(redactor.get(), argv_record)[0]
    if jsonl is not None:
        try:
            cast = CastWriter(
                sdir / f"{session_id}.cast",
                cols=cols,
                rows=rows,
                timestamp=int(time.time()),
                title=f"cfsession {session_id}" + (f" {opts.name}" if opts.name else ""),
                env={"SHELL": shell_path, "TERM": env.get("TERM", "")},
                on_warning=warn,
                redact=LazyStreamRedactor(redactor),
            )
        except OSError as exc:
            warn("cast", f"cannot write the .cast file ({exc})")
        if cast is not None and not use_child:
            # In one process the .cast work goes to a thread under volume; with a
            # bookkeeping child it runs there (threads do not survive a fork).
            from cfsession.sinks.cast_thread import ThreadedCast

            cast = ThreadedCast(cast, on_warning=warn)  # type: ignore[assignment]
    etw_enabled = not opts.no_etw if cfg.etw is None else (cfg.etw and not opts.no_etw)
    etw = _open_etw(session_id, parent, etw_enabled, warn)
    sinks: list[Any] = [s for s in (jsonl, etw) if s is not None]

    start_epoch = time.time()
    t0 = time.monotonic()
    warn.t0 = t0
    session = Session(
        session_id=session_id,
        start_epoch=start_epoch,
        cast=cast,
        sinks=sinks,
        output_cap=cfg.output_cap,
        redact=redact,
        on_warning=warn,
    )
    warn.session = session
    session.cwd = os.getcwd()
    session.cols = cols
    integration = "active" if launch.integrated else f"unsegmented: {launch.reason}"
    session.emit(
        {
            "event_type": "session_start",
            "ts": utc_ts(start_epoch),
            "schema_version": 1,
            "session_type": session_type,
            "name": opts.name,
            "parent_session_id": parent,
            "correlation_id": session_id,
            "started_at": utc_ts(start_epoch),
            "host": _host(),
            "user": _user(),
            "pid": os.getpid(),
            "shell": shell_path,
            "shell_kind": kind,
            "cwd": os.getcwd(),
            "cols": cols,
            "rows": rows,
            "term": env.get("TERM"),
            "platform": sys.platform,
            "cfsession_version": __version__,
            "etw": getattr(etw, "status", "unavailable: emitter not installed"),
            "integration": integration,
            "command_argv": argv_record,
            "io": "pipes" if pipes else "pty",
            "actor": detect_actor(env=env, interactive=term.is_tty),
        }
    )

    log.info("session started", session_id=session_id, shell_kind=kind, session_type=session_type,
             integration=integration, bookkeeping="child" if use_child else "inline",
             etw=getattr(etw, "status", None), nested=parent is not None)
    if not opts.quiet:
        note = f" (nested in {parent})" if parent else ""
        what = ("command on pipes" if pipes else "command") if opts.command else "session; exit the shell to stop"
        if opts.pause_key:
            from cfsession.recorder.keys import key_name

            what += f"; {key_name(opts.pause_key)} pauses and resumes capture"
        sys.stderr.write(f"cfsession: recording {session_id}{note} — {what}\n")
        sys.stderr.flush()

    # -- run -------------------------------------------------------------------------------------
    if pipes:
        term.close()
        return _finish_line(opts, session_id, *_run_pipes(opts, launch, session, sinks, warn, t0, argv_record))
    try:
        pty = platform_io.spawn(launch.argv, env=launch.env, cwd=None, cols=cols, rows=rows, termios_from=0 if term.is_tty else None)
    except Exception as exc:
        session.finish(time.monotonic() - t0, None, "error")
        for s in sinks:
            s.close()
        if tmpdir:
            shell_mod.remove_tmpdir(tmpdir)
        term.close()
        if opts.command and isinstance(exc, OSError):
            raise _cannot_run(opts.command[0], exc) from exc
        raise CfsessionError(f"cannot start {launch.argv[0]}: {exc}", "check --shell / the command") from exc
    # POSIX shells put their pid in marks, so a child shell that inherited a prompt
    # fragment is rejected. (On Windows the started process may be a launcher — the
    # Store's pwsh alias — so the pid the shell reports is not the one we started.)
    session.shell_pid = pty.pid if launch.integrated and kind in ("bash", "zsh", "fish") else None
    # The init file holds the nonce: delete it as soon as the shell has read it (§2.3).
    def _forget_secrets() -> None:
        for p in launch.secrets:
            p.unlink(missing_ok=True)

    session.on_hello = _forget_secrets
    if opts.command:
        session.open_pseudo(0.0, platform_io.command_line(argv_record or opts.command), "argv")
    # cmd.exe's PROMPT markers cannot count: they all carry seq 0.
    segmenter = Segmenter(nonce, unsequenced=(kind == "cmd")) if launch.integrated else None
    if not launch.integrated and not opts.command:
        session.no_hello(0.0, launch.reason or "no shell integration")
    deadline = float(os.environ.get("CFSESSION_INTEGRATION_TIMEOUT", INTEGRATION_TIMEOUT_S))
    result = None
    # From here the session and its files belong to the bookkeeping child (POSIX).
    remote = bookkeeper.start(session, sinks, [pty.fileno()], warn, term.is_tty) if use_child else None
    summary: dict[str, Any] | None = None
    try:
        loop = platform_io.loop_class()(
            pty,
            remote or session,
            segmenter,
            term,
            t0=t0,
            track_size=term.is_tty,
            forward_sigint=not term.is_tty,
            integration_deadline=deadline if launch.integrated else None,
            record_filter=platform_io.record_filter(),
            pause_key=opts.pause_key,
        )
        term.enter_raw()
        warn.raw = term.is_tty
        result = loop.run()
    finally:
        term.close()
        warn.raw = False
        t_end = time.monotonic() - t0
        if result is None:  # an exception inside the loop: still close the session
            pty.terminate(force=True)
            code, reason = pty.wait(), "error"
        else:
            code, reason = result.exit_code, result.reason
        if remote is not None:
            summary = remote.finish(t_end, code, reason)
        else:
            session.finish(t_end, code, reason)
            for s in sinks:
                s.close()
            summary = bookkeeper.summary(session, sinks)
        pty.close()
        if tmpdir:
            shell_mod.remove_tmpdir(tmpdir)
    _log_end(session_id, code, reason, summary, t_end)
    assert result is not None
    return _finish_line(opts, session_id, summary, result.exit_code, result.signal,
                        loop.last_out in (b"\n", b""))


def _run_pipes(opts: Options, launch: Any, session: Any, sinks: list[Any], warn: Warner, t0: float,
               argv_record: list[str] | None) -> tuple[dict[str, Any] | None, int, int | None, bool]:
    """``record -- CMD`` on pipes (recorder/pipes.py): (summary, exit code, ending signal)."""
    from cfsession.recorder import bookkeeper
    from cfsession.recorder import pipes as pipes_mod
    from cfsession.session import argv_text

    own_group = os.name != "nt" and not pipes_mod.terminal_signals_us()
    try:
        proc = pipes_mod.spawn(launch.argv, launch.env, own_group)
    except OSError as exc:
        session.finish(time.monotonic() - t0, None, "error")
        for s in sinks:
            s.close()
        raise _cannot_run(opts.command[0], exc) from exc
    session.open_pseudo(0.0, argv_text(argv_record or opts.command), "argv", streams=True)
    assert proc.stdout is not None and proc.stderr is not None
    fds = [proc.stdout.fileno(), proc.stderr.fileno()]
    remote = bookkeeper.start(session, sinks, fds, warn, False) if bookkeeper.available() else None
    result = None
    try:
        result = pipes_mod.PipesRunner(proc, remote or session, t0=t0, own_group=own_group).run()
    finally:
        t_end = time.monotonic() - t0
        if result is None:
            proc.kill()
            code, reason = pipes_mod.exit_status(proc.wait()), "error"
        else:
            code, reason = result.exit_code, result.reason
        if remote is not None:
            summary = remote.finish(t_end, code, reason)
        else:
            session.finish(t_end, code, reason)
            for s in sinks:
                s.close()
            summary = bookkeeper.summary(session, sinks)
    _log_end(session.session_id, code, reason, summary, t_end)
    assert result is not None
    return summary, result.exit_code, result.signal, result.last_out in (b"\n", b"")


def _log_end(session_id: str, code: int | None, reason: str, summary: dict[str, Any] | None,
             t_end: float) -> None:
    log.info("session ended", session_id=session_id, exit_code=code, reason=reason,
             commands=summary and summary["command_count"], failed=summary and summary["failed_count"],
             saved=summary and summary["saved"], duration_s=round(t_end, 3))


def _finish_line(opts: Options, session_id: str, summary: dict[str, Any] | None,
                 exit_code: int, signal: int | None, at_line_start: bool = True) -> int:
    """The end line on stderr; the recorder's exit status."""
    if not opts.quiet and not at_line_start and _isatty(2):
        sys.stderr.write("\n")  # after `^C` or output without a final newline: column 0
    if not opts.quiet:
        if summary is None:
            sys.stderr.write(f"cfsession: session {session_id}: the recording did not report its end\n")
        else:
            saved = summary["saved"]
            where = f"{summary['path']} (final hash {summary['last_hash']})" if saved else "(not saved)"
            if saved and summary.get("lost_records"):
                where += f"; {summary['lost_records']} earlier records were lost with a deleted file"
            n = summary["command_count"]
            sys.stderr.write(
                f"cfsession: session {session_id}: {n} command{'' if n == 1 else 's'}, "
                f"{summary['failed_count']} failed — {where}\n"
            )
    if signal is not None:
        return 128 + signal  # killed by a signal, as a shell would report it
    return exit_code


def _isatty(fd: int) -> bool:
    try:
        return os.isatty(fd)
    except OSError:
        return False


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
            raise _cannot_run(name, IsADirectoryError(21, "is a directory"))
        if os.path.exists(name):
            raise _cannot_run(name, PermissionError(13, "permission denied"))
    err = CfsessionError(f"{name}: command not found", "check the name or PATH")
    err.exit_code = ExitCode.NOT_FOUND
    raise err


def _cannot_run(name: str, exc: OSError) -> CfsessionError:
    if isinstance(exc, FileNotFoundError):
        err = CfsessionError(f"{name}: command not found", "check the name or PATH")
        err.exit_code = ExitCode.NOT_FOUND
        return err
    err = CfsessionError(f"{name}: cannot run: {exc.strerror or exc}", "check its permissions and format")
    err.exit_code = ExitCode.CANNOT_EXECUTE
    return err



def _uuid4() -> str:
    """A random (version 4) UUID without importing ``uuid`` on the way to the first prompt."""
    b = bytearray(os.urandom(16))
    b[6] = (b[6] & 0x0F) | 0x40
    b[8] = (b[8] & 0x3F) | 0x80
    h = b.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _host() -> str:
    uname = getattr(os, "uname", None)
    if uname is not None:
        return str(uname().nodename)  # what socket.gethostname() returns, without socket
    import socket

    return socket.gethostname()


def _user() -> str | None:
    """getpass.getuser() without importing getpass: the environment, then the password db."""
    for name in ("LOGNAME", "USER", "LNAME", "USERNAME"):
        if os.environ.get(name):
            return os.environ[name]
    try:
        import pwd

        return pwd.getpwuid(os.getuid()).pw_name
    except Exception:
        return None

