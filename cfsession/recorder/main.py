"""``cfsession record``: read its options, start the shell, run the loop, write the summary.

Kept free of Typer/rich/sqlite so the first prompt appears fast (DESIGN.md §7).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from typing import Any, NamedTuple

from cfsession import __version__, log, paths
from cfsession.errors import CfsessionError
from cfsession.recorder.launch import Plan, cannot_run
from cfsession.recorder.launch import plan as plan_launch
from cfsession.recorder.options import RECORD, Options, parse
from cfsession.recorder.wiring import (
    LazyRedactor,
    LazyStreamRedactor,
    Warner,
    host_name,
    load_redact,
    open_etw,
    user_name,
    uuid4,
)

INTEGRATION_TIMEOUT_S = 10.0  # rc files that load nvm/conda can take seconds


def main(argv: list[str]) -> int:
    """``cfsession record ARGV`` (the console script and the Typer app both come here)."""
    from cfsession.cli import args

    try:
        opts = parse(argv)
    except args.ArgError as exc:
        return args.report(RECORD, exc)
    except CfsessionError as exc:  # a --pause-key that is not a control key
        from cfsession.cli._common import report_error

        return report_error(exc)
    if opts is None:
        return args.show_help(RECORD)
    return run_options(opts)


def run_options(opts: Options) -> int:
    """Record with parsed options; errors become one line on stderr and an exit code."""
    try:
        return record(opts)
    except CfsessionError as exc:
        from cfsession.cli._common import report_error

        return report_error(exc)


class _Wired(NamedTuple):
    """The sinks of one recording and the settings they were built from."""

    sinks: list[Any]  # the JSONL (when the store is writable) and ETW sinks
    cast: Any  # the .cast writer, or None
    etw: Any
    cfg: Any  # config.Config
    redactor: LazyRedactor
    argv_record: list[str] | None  # the command's argv as recorded (redacted)
    name: str | None  # --name as recorded (redacted: a name can hold a pasted secret)


def record(opts: Options) -> int:
    """Record a shell session or one command; the recorder's exit status."""
    from cfsession.recorder import bookkeeper
    from cfsession.recorder import pty as platform_io

    env = dict(os.environ)
    session_id = uuid4()
    parent = env.get("CFSESSION_ID") or None
    warn = Warner()
    term = platform_io.open_terminal()
    cols, rows = term.size()
    plan = plan_launch(opts, env, platform_io.default_shell(env))
    plan.launch.env["CFSESSION_ID"] = session_id  # not secret: lets a nested recorder find its parent
    use_child = bookkeeper.available()
    wired = _wire(opts, session_id, parent, plan, env, (cols, rows), warn, use_child)
    start_epoch = time.time()
    t0 = time.monotonic()
    warn.t0 = t0
    session = _start(opts, session_id, parent, plan, env, (cols, rows), wired, warn, term.is_tty, start_epoch)
    log.info("session started", session_id=session_id, shell_kind=plan.kind, session_type=plan.session_type,
             integration=_integration(plan), bookkeeping="child" if use_child else "inline",
             etw=getattr(wired.etw, "status", None), nested=parent is not None)
    _announce(opts, session_id, parent, plan.pipes)
    if plan.pipes:
        term.close()
        return _finish_line(opts, session_id,
                            *_run_pipes(opts, plan.launch, session, wired.sinks, warn, t0, wired.argv_record))
    return _run_pty(opts, session_id, plan, session, wired, warn, term, (cols, rows), t0, use_child)


def _wire(opts: Options, session_id: str, parent: str | None, plan: Plan, env: dict[str, str],
          size: tuple[int, int], warn: Warner, use_child: bool) -> _Wired:
    """Open the sinks; a store that cannot be written means recording nothing, never failing."""
    from cfsession.sinks.cast import CastWriter
    from cfsession.sinks.jsonl import JsonlSink

    root = paths.home()
    jsonl: JsonlSink | None = None
    cast: Any = None  # CastWriter, or ThreadedCast around one
    try:
        paths.ensure_dir(root)
        sdir = paths.ensure_dir(paths.sessions_dir(root))
        from cfsession.anchor import AnchorWriter, anchor_path

        jsonl = JsonlSink(sdir / f"{session_id}.jsonl", session_id, on_warning=warn,
                          anchor=AnchorWriter(anchor_path(session_id, root), session_id))
    except (OSError, CfsessionError) as exc:
        warn("store", f"cannot write to {root} ({exc}); running without recording")
    cfg, redactor = load_redact(root, warn)
    argv_record = list(opts.command) or None
    if argv_record:
        from cfsession.redact import redact_argv

        argv_record = redact_argv(redactor.get(), argv_record)[0]
    # Only with --name does this build the redactor before the first prompt (~8 ms).
    name = redactor.get().redact(opts.name)[0] if opts.name else None
    if jsonl is not None:
        try:
            cast = CastWriter(
                sdir / f"{session_id}.cast",
                cols=size[0],
                rows=size[1],
                timestamp=int(time.time()),
                title=f"cfsession {session_id}" + (f" {name}" if name else ""),
                env={"SHELL": plan.shell_path, "TERM": env.get("TERM", "")},
                on_warning=warn,
                redact=LazyStreamRedactor(redactor),
            )
        except OSError as exc:
            warn("cast", f"cannot write the .cast file ({exc})")
        if cast is not None and not use_child:
            # In one process the .cast work goes to a thread under volume; with a
            # bookkeeping child it runs there (threads do not survive a fork).
            from cfsession.sinks.cast_thread import ThreadedCast

            cast = ThreadedCast(cast, on_warning=warn)
    etw_enabled = not opts.no_etw if cfg.etw is None else (cfg.etw and not opts.no_etw)
    etw = open_etw(session_id, parent, etw_enabled, warn)
    sinks: list[Any] = [s for s in (jsonl, etw) if s is not None]
    return _Wired(sinks, cast, etw, cfg, redactor, argv_record, name)


def _integration(plan: Plan) -> str:
    return "active" if plan.launch.integrated else f"unsegmented: {plan.launch.reason}"


def _start(opts: Options, session_id: str, parent: str | None, plan: Plan, env: dict[str, str],
           size: tuple[int, int], wired: _Wired, warn: Warner, is_tty: bool, start_epoch: float) -> Any:
    """The Session, with its ``session_start`` record written (DESIGN.md §3.1)."""
    from cfsession.actor import detect as detect_actor
    from cfsession.records import utc_ts
    from cfsession.session import Session

    session = Session(
        session_id=session_id,
        start_epoch=start_epoch,
        cast=wired.cast,
        sinks=wired.sinks,
        output_cap=wired.cfg.output_cap,
        redact=wired.redactor.redact,
        on_warning=warn,
    )
    warn.session = session
    session.cwd = paths.working_dir()
    session.cols = size[0]
    session.emit(
        {
            "event_type": "session_start",
            "ts": utc_ts(start_epoch),
            "schema_version": 1,
            "session_type": plan.session_type,
            "name": wired.name,
            "parent_session_id": parent,
            "correlation_id": session_id,
            "started_at": utc_ts(start_epoch),
            "host": host_name(),
            "user": user_name(),
            "pid": os.getpid(),
            "shell": plan.shell_path,
            "shell_kind": plan.kind,
            "cwd": session.cwd,
            "cols": size[0],
            "rows": size[1],
            "term": env.get("TERM"),
            "platform": sys.platform,
            "cfsession_version": __version__,
            "etw": getattr(wired.etw, "status", "unavailable: emitter not installed"),
            "integration": _integration(plan),
            "command_argv": wired.argv_record,
            "io": "pipes" if plan.pipes else "pty",
            "actor": detect_actor(env=env, interactive=is_tty),
        }
    )
    return session


def _announce(opts: Options, session_id: str, parent: str | None, pipes: bool) -> None:
    if opts.quiet:
        return
    note = f" (nested in {parent})" if parent else ""
    what = ("command on pipes" if pipes else "command") if opts.command else "session; exit the shell to stop"
    if opts.pause_key:
        from cfsession.recorder.keys import key_name

        what += f"; {key_name(opts.pause_key)} pauses and resumes capture"
    sys.stderr.write(f"cfsession: recording {session_id}{note} — {what}\n")
    sys.stderr.flush()


@contextmanager
def raw(term: Any, warn: Warner) -> Iterator[None]:
    """The terminal in raw mode for the block (warnings then end lines with CR LF)."""
    term.enter_raw()
    warn.raw = term.is_tty
    try:
        yield
    finally:
        warn.raw = False


def _abandon(session: Any, sinks: list[Any], t0: float) -> None:
    """End a session whose command never ran."""
    session.finish(time.monotonic() - t0, None, "error")
    for s in sinks:
        s.close()


def _end(session: Any, remote: Any, sinks: list[Any], t_end: float, code: int | None,
         reason: str) -> dict[str, Any] | None:
    """End the session and close its sinks (in the bookkeeping child when there is one);
    the summary for the end line, or None when the child did not answer."""
    from cfsession.recorder import bookkeeper

    if remote is not None:
        return remote.finish(t_end, code, reason)  # type: ignore[no-any-return]
    session.finish(t_end, code, reason)
    for s in sinks:
        s.close()
    return bookkeeper.summary(session, sinks)


def _run_pty(opts: Options, session_id: str, plan: Plan, session: Any, wired: _Wired, warn: Warner,
             term: Any, size: tuple[int, int], t0: float, use_child: bool) -> int:
    """Run the shell or command on a PTY through the loop; the recorder's exit status."""
    from cfsession import shell as shell_mod
    from cfsession.recorder import bookkeeper, profiling
    from cfsession.recorder import pty as platform_io
    from cfsession.segmenter import Segmenter

    launch = plan.launch
    try:
        pty = platform_io.spawn(launch.argv, env=launch.env, cwd=None, cols=size[0], rows=size[1],
                                termios_from=0 if term.is_tty else None)
    except Exception as exc:
        _abandon(session, wired.sinks, t0)
        if plan.tmpdir:
            shell_mod.remove_tmpdir(plan.tmpdir)
        term.close()
        if opts.command and isinstance(exc, OSError):
            raise cannot_run(opts.command[0], exc) from exc
        raise CfsessionError(f"cannot start {launch.argv[0]}: {exc}", "check --shell / the command") from exc
    # POSIX shells put their pid in marks, so a child shell that inherited a prompt
    # fragment is rejected. (On Windows the started process may be a launcher — the
    # Store's pwsh alias — so the pid the shell reports is not the one we started.)
    session.shell_pid = pty.pid if launch.integrated and plan.kind in ("bash", "zsh", "fish") else None

    # The init file holds the nonce: delete it as soon as the shell has read it (§2.3).
    def _forget_secrets() -> None:
        for p in launch.secrets:
            p.unlink(missing_ok=True)

    session.on_hello = _forget_secrets
    if opts.command:
        session.open_pseudo(0.0, platform_io.command_line(wired.argv_record or opts.command), "argv")
    # cmd.exe's PROMPT markers cannot count: they all carry seq 0.
    segmenter = Segmenter(plan.nonce, unsequenced=(plan.kind == "cmd"), lazy=True) if launch.integrated else None
    if not launch.integrated and not opts.command:
        session.no_hello(0.0, launch.reason or "no shell integration")
    deadline = float(os.environ.get("CFSESSION_INTEGRATION_TIMEOUT", INTEGRATION_TIMEOUT_S))
    result = None
    # From here the session and its files belong to the bookkeeping child (POSIX).
    remote = bookkeeper.start(session, wired.sinks, [pty.fileno()], warn, term.is_tty) if use_child else None
    try:
        with closing(term):
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
            with raw(term, warn):
                result = profiling.run(loop.run)
    finally:
        t_end = time.monotonic() - t0
        if result is None:  # an exception inside the loop: still close the session
            pty.terminate(force=True)
            code, reason = pty.wait(), "error"
        else:
            code, reason = result.exit_code, result.reason
        summary = _end(session, remote, wired.sinks, t_end, code, reason)
        pty.close()
        if plan.tmpdir:
            shell_mod.remove_tmpdir(plan.tmpdir)
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
    merged = pipes_mod.one_place()
    try:
        proc = pipes_mod.spawn(launch.argv, launch.env, own_group, merged)
    except OSError as exc:
        _abandon(session, sinks, t0)
        raise cannot_run(opts.command[0], exc) from exc
    session.open_pseudo(0.0, argv_text(argv_record or opts.command), "argv", streams=not merged)
    assert proc.stdout is not None
    fds = [proc.stdout.fileno()] + ([proc.stderr.fileno()] if proc.stderr is not None else [])
    remote = bookkeeper.start(session, sinks, fds, warn, False) if bookkeeper.available() else None
    result = None
    try:
        result = pipes_mod.PipesRunner(proc, remote or session, t0=t0, own_group=own_group,
                                          handoff=True).run()
    finally:
        t_end = time.monotonic() - t0
        if result is None:
            proc.kill()
            code, reason = pipes_mod.exit_status(proc.wait()), "error"
        else:
            code, reason = result.exit_code, result.reason
        summary = _end(session, remote, sinks, t_end, code, reason)
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


