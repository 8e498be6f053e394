# Over ~400 lines: one state machine: every record shape comes out of its transitions, and splitting them would spread one set of invariants over several modules.
"""Segmentation state machine (SHELL_INTEGRATION.md §6): data and marks in, records out.

No file descriptors and no clock here: the loop hands in data and marks stamped with
seconds since the session started, and records go to the sinks it was given. The JSONL
record shapes are DESIGN.md §3.1.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable, Mapping
from typing import Any

from cfsession.echo import echo_label, from_echo, typed_line
from cfsession.echo_hold import EchoHold, scrub
from cfsession.records import Record, utc_ts
from cfsession.segmenter import Mark, with_fields
from cfsession.sinks import Sink
from cfsession.sinks.cast import CastWriter
from cfsession.spool import OutputSpool
from cfsession.text import render_plain

Redact = Callable[[str], "tuple[str, int]"]
WarningCallback = Callable[[str, str], None]

TITLE_WINDOW = 8192  # bytes after a typed secret's command starts that may hold a title
ECHO_KEEP = 4096  # bytes of prompt+echo kept to disambiguate a stale history entry
# What a shell's hooks report they cannot do (H ``limit=``, C ``hook=lost``), in words.
_LIMITS = {
    "readonly_prompt_command": "PROMPT_COMMAND is read-only: exit codes come from the prompt string; no pipestatus, no cwd after a command",
    "readonly_ps0": "PS0 is read-only: commands are not reported when they start",
    "hook_lost": "PROMPT_COMMAND was unset or replaced: commands have no exit code from here on",
}
_ALT_ON = (b"\x1b[?1049h", b"\x1b[?1047h", b"\x1b[?47h")


class Command:
    """One command while it runs (a plain class: no `dataclasses` import before the prompt)."""

    __slots__ = ("seq", "text", "source", "cwd", "t_start", "spool", "cmdno", "anomalies",
                 "alt_screen", "exit_code", "pipestatus", "t_end", "full_length", "echo", "err")

    def __init__(self, *, seq: int, text: str | None, source: str, cwd: str | None,
                 t_start: float, spool: OutputSpool, cmdno: str | None = None) -> None:
        self.seq, self.text, self.source, self.cwd = seq, text, source, cwd
        self.t_start, self.spool, self.cmdno = t_start, spool, cmdno
        self.anomalies: list[str] = []
        self.alt_screen = False
        self.full_length: int | None = None  # characters typed, when the text was cut
        # bash's fork-free start marker has no text: it comes with the end (D). Until then
        # the prompt and the echoed line, to decide a stale entry or to fall back on.
        self.echo: tuple[bytes | None, bytes] | None = None
        # filled when the command ends
        self.exit_code: int | None = None
        self.pipestatus: list[int] | None = None
        self.t_end: float | None = None
        self.err: OutputSpool | None = None  # stderr apart (record -- CMD on pipes)


def status_kind(code: int | None) -> str:
    if code is None:
        return "unknown"
    if 147 <= code <= 150:  # 128 + SIGSTOP/SIGTSTP/SIGTTIN/SIGTTOU
        return "stopped"
    if code > 128:
        return "likely_signal"
    return "exited"


def is_failure(code: object, kind: object = None) -> bool:
    """A failed command: a non-zero status that is not a job stopped by Ctrl-Z (it goes on)."""
    return isinstance(code, int) and not isinstance(code, bool) and code != 0 and kind != "stopped"


_SHELL_END = ("exit", "logout")


def ends_shell(cmd: Command) -> bool:
    """The shell's own ``exit``/``logout``: part of the session's end, not a command."""
    if cmd.source in ("argv", "unsegmented", "boundary"):
        return False
    first = (cmd.text or "").strip().split(None, 1)
    return bool(first) and first[0] in _SHELL_END


def _pipestatus(value: str | None) -> list[int] | None:
    if not value:
        return None
    try:
        return [int(x) for x in value.split()]
    except ValueError:
        return None


class Session:
    """Turns marks and data into ``terminal_capture`` records (and the rest of §3.1)."""

    def __init__(
        self,
        *,
        session_id: str,
        start_epoch: float,
        cast: CastWriter | None,
        sinks: list[Sink],
        output_cap: int = 64 * 1024,
        redact: Redact | None = None,
        on_warning: WarningCallback | None = None,
        shell_pid: int | None = None,
    ) -> None:
        self.session_id = session_id
        self.start_epoch = start_epoch
        self.cast = cast
        self.sinks = sinks
        self.output_cap = output_cap
        self.redact = redact
        self.on_warning = on_warning
        self.shell_pid = shell_pid
        self.active = False  # H received
        self.unsegmented_reason: str | None = None  # set by no_hello()
        self.cwd: str | None = None
        self.current: Command | None = None
        self.closing: Command | None = None  # ended (D seen), waiting for the cwd in P
        self.command_count = 0
        self.failed_count = 0
        # Output between commands (prompt, echo of the typed line) since the last A/B:
        # decides a stale bash history entry, and is the output of a late C (pwsh).
        self._between = OutputSpool(ECHO_KEEP)
        self._prompt_shown: bytes | None = None  # A..B: the prompt, when the shell marks its end
        self.cols = 80  # terminal width, for rendering an echoed line (cfsession.echo)
        self._t_prompt = 0.0
        self._joiner: Any = None  # Windows integrations send long values in parts
        self.boundaries_only = False  # cmd.exe without Clink: B..D is a command, no text
        self.ignore_seq0 = False
        self.on_hello: Callable[[], object] | None = None
        self.paused_at: float | None = None  # capture stopped (pause key / cfsession pause)
        self._skipped = 0
        self.end_command: str | None = None  # the shell's `exit` (see _drop_shell_exit)
        self.hung_up = False  # the recorder was told to end (SIGHUP/SIGTERM): see hangup()
        self._prompting = False  # between a prompt's start (A) and its end (B)
        self._said: set[str] = set()
        self._held: list[tuple[Command, str | None]] = []  # ended, text still to come
        self._shell: str | None = None
        # Fields added to every command record (the recording API's ``actor``).
        self.command_fields: dict[str, object] = {}
        # The .cast output of a prompt and its typing, held until the command line is
        # known (echo_hold.py: a secret typed with edits is redrawn redacted).
        self._hold = EchoHold()
        self._typed: list[str] = []  # secrets the last prompt region held (echo_hold.scrub)
        self._typed_left = 0  # bytes of the command's output still scrubbed of them
        self.echo_redraws = 0

    # -- helpers -------------------------------------------------------------------------
    def ts(self, t: float) -> str:
        return utc_ts(self.start_epoch + t)

    def emit(self, record: Record) -> None:
        for sink in self.sinks:
            try:
                sink.write(record)
            except Exception as exc:  # a sink must never take the shell down (DESIGN.md §6)
                if self.on_warning:
                    self.on_warning("sink_failed", f"{type(sink).__name__}: {exc}")

    def event(self, event_type: str, t: float, **fields: object) -> None:
        rec: Record = {"event_type": event_type, "ts": self.ts(t)}
        rec.update(fields)
        self.emit(rec)

    # -- input from the loop ---------------------------------------------------------------
    def data(self, data: bytes, t: float) -> None:
        if self.paused_at is not None:
            if self._prompting:
                # A prompt drawn while paused: recorded nowhere, but where it ends is where
                # the typing starts once capture resumes (else a redrawn prompt reads as
                # typed text: "user@host$ exit" for `exit`).
                self._between.add(data)
            return  # passed through to the terminal, recorded nowhere
        if self.cast is not None:
            if not self._hold.active:
                if self._typed:  # a window title with the command line comes first
                    self._typed_left -= len(data)
                    self.cast.output(scrub(data, self._typed) if b"\x1b" in data else data, t)
                    if self._typed_left <= 0:
                        self._typed = []
                else:
                    self.cast.output(data, t)
            elif not self._hold.add(data, t):
                self._release_echo(None)  # a prompt left open under output: stop holding
        cmd = self.current
        if cmd is not None:
            cmd.spool.add(data)
            if not cmd.alt_screen and b"\x1b[?" in data and any(s in data for s in _ALT_ON):
                cmd.alt_screen = True
        elif self.active:
            self._between.add(data)

    def data_err(self, data: bytes, t: float) -> None:
        """Output from the command's stderr (pipes mode): recorded as output, and apart."""
        if self.paused_at is not None:
            return
        self.data(data, t)
        cmd = self.current
        if cmd is not None and cmd.err is not None:
            cmd.err.add(data)

    def mark(self, m: Mark, t: float) -> None:
        if m.raw is not None:  # from the relay's lazy segmenter, in this process
            m = with_fields(m)
        if m.event == "!":  # a forged/replayed marker passed through as data
            if self.current is not None:  # between commands it is only prompt output
                self.current.anomalies.append("spoof_attempt")
            return
        if self.shell_pid is not None and "pid" in m.fields and m.fields["pid"] != str(self.shell_pid):
            return  # an inherited prompt fragment expanded by a child shell (§2.2)
        if m.seq == 0 and self.ignore_seq0:
            return  # cmd PROMPT markers once Clink reports exact commands
        if "part" in m.fields:
            if self._joiner is None:
                from cfsession.parts import PartJoiner

                self._joiner = PartJoiner()
            joined = self._joiner.feed(m)
            if joined is None:
                return
            m = joined
        ev = m.event
        self._prompting = ev == "A"
        if self._hold.active and ev not in ("C", "B"):
            # The line was abandoned (Ctrl-C, empty, …). B (bash: the prompt's end, where
            # the typing starts) is inside the region, not its end.
            self._release_echo(None)
        if ev == "H":
            self._hello(m, t)
        elif ev == "C":
            self._start(m, t)
        elif ev == "D":
            self._end(m, t)
        elif ev == "P":
            f = m.fields
            if "cwd" in f:
                self.cwd = f["cwd"]
            elif "rawcwd" in f:
                self.cwd = f["rawcwd"]
            # "loc" (a PowerShell location outside the file system) keeps the last cwd.
            self._settle(t)
        elif ev == "A":
            self._settle(t)
            self._new_prompt(t)
            self._typed = []
            if self.cast is not None and self.redact is not None and not self.boundaries_only:
                self._hold.start()
        elif ev == "B":
            cmd = self.current
            if self._shell == "bash" and cmd is not None and cmd.echo is not None:
                # A prompt without our end marker first: PROMPT_COMMAND lost our hook (unset,
                # replaced by an array). The command ended; its text is what was echoed.
                cmd.text, cmd.source = from_echo(cmd.echo, self.cols)
                cmd.echo = None
                cmd.anomalies.append("prompt_hook_lost")
                self._partial(t, _LIMITS["hook_lost"])
                self._close(t, None, None)
                self._flush_held()
                self._settle(t)
            prompt = self._between.recent(ECHO_KEEP)
            self._new_prompt(t)
            self._prompt_shown = prompt
            if self.boundaries_only and self.current is None:
                self._start_command(t, None, "boundary", None)
        elif ev == "X":
            self._drop_shell_exit()
            if self.current is not None:
                st = m.fields.get("st")
                if self.hung_up:
                    # The shell left because it was hung up: its exit hook's status is
                    # the shell's (zsh 1, fish 0), not that of the command it cut off.
                    self.current.anomalies.append("missing_end")
                    st = None
                self._close(t, int(st) if st and st.lstrip("-").isdigit() else None, None)
            self._settle(t)

    def _drop_shell_exit(self) -> None:
        """One rule for every shell: the `exit` that ends the shell is the session's end
        (its status is session_end's exit_code, its text session_end's end_command), not
        a command — whether the shell reported its end (zsh and fish: an X mark, fish
        also a D) or simply went away (bash)."""
        for pending in (self.closing, self.current):
            if pending is not None and ends_shell(pending):
                self.end_command = pending.text
                if pending is self.closing:
                    self.closing = None
                else:
                    self.current = None

    def _release_echo(self, text: str | None) -> None:
        if self._hold.active and self.cast is not None:
            found = self._hold.release(self.cast, text, self.redact)
            if found:
                self.echo_redraws += 1
                self._typed, self._typed_left = found, TITLE_WINDOW

    def _new_prompt(self, t: float) -> None:
        self._between = OutputSpool(self.output_cap)
        self._prompt_shown = None
        self._t_prompt = t

    def _hello(self, m: Mark, t: float) -> None:
        rich = m.fields.get("rich")
        if rich == "0":
            self.boundaries_only = True
        elif rich == "1":
            self.boundaries_only, self.ignore_seq0 = False, True
        was_unsegmented = self.unsegmented_reason is not None
        if not self.active and self.on_hello is not None:
            self.on_hello()
        self.active = True
        self._shell = m.fields.get("shell", self._shell)
        self.unsegmented_reason = None
        if self.current is not None and self.current.source == "unsegmented":
            self.current = None  # start-up output before the hook reported in
        if was_unsegmented:
            self.event("integration", t, status="active", reason="shell reported in late", shell=m.fields.get("shell"))
        limit = m.fields.get("limit")
        if limit:
            self._partial(t, _LIMITS.get(limit, limit))

    def _partial(self, t: float, reason: str) -> None:
        """The hooks run, but not all of them: say what the records will lack, once."""
        if reason in self._said:
            return
        self._said.add(reason)
        self.event("integration", t, status="partial", reason=reason)
        if self.on_warning:
            self.on_warning("integration_partial", reason)

    def no_hello(self, t: float, reason: str) -> None:
        """The integration deadline passed without an ``H``: record unsegmented from here on."""
        if self.active or self.unsegmented_reason is not None:
            return
        self.unsegmented_reason = reason
        self.event("integration", t, status="unsegmented", reason=reason)
        if self.on_warning:
            self.on_warning("unsegmented", f"recording without command boundaries: {reason}")
        self.open_pseudo(t)

    def open_pseudo(self, t: float, text: str | None = None, source: str = "unsegmented",
                    streams: bool = False) -> None:
        """One pseudo-command spanning what follows (unsegmented shell, or ``record -- CMD``);
        ``streams``: its stderr arrives apart (:meth:`data_err`) and is kept apart too."""
        self._start_command(t, text, source, None)
        if streams and self.current is not None:
            self.current.err = OutputSpool(self.output_cap)

    # -- the state machine -------------------------------------------------------------------
    def _start(self, m: Mark, t: float) -> None:
        if not self.active:
            self._hello(m, t)
        if self.paused_at is not None:
            self._skipped += 1  # started while capture is paused: not recorded
            return
        self._settle(t)
        f = m.fields
        if self.current is not None:
            prev = self.current
            paste = prev.cmdno is not None and f.get("cmdno", "").isdigit() and prev.cmdno.isdigit() and int(f["cmdno"]) == int(prev.cmdno) + 1
            prev.anomalies.append("no_prompt_between" if paste else "missing_end")
            self._close(t, None, None)
            self._settle(t)
        src = f.get("src", "history")
        text: str | None = f.get("cmd")
        if src == "ps0":
            self._start_pending(t, f.get("cmdno"))
            return
        if src == "stale":
            text, src = self._resolve_stale(text)
        elif src == "hidden":
            text = None
        if f.get("late") == "1" and self._hold.active and self.cast is not None:
            # Reported at the next prompt: the region holds the command's output too,
            # which must not be redrawn as a prompt line; the stream redactor has it.
            self._hold.release(self.cast, None, None)
        self._release_echo(text if text is not None else f.get("cmd"))
        if f.get("late") == "1":
            # Reported at the next prompt (pwsh without PSReadLine): the command began at
            # the previous prompt and its output is what came since.
            spool = self._between
            self._start_command(self._t_prompt, text, src, f.get("cmdno"))
            assert self.current is not None
            self.current.spool = spool
        else:
            self._start_command(t, text, src, f.get("cmdno"))
        if self.current is not None:
            if f.get("parts_lost") == "1":
                self.current.anomalies.append("parts_lost")
            if f.get("trunc") == "1" and text is not None:
                # Longer than the command text limit: cut by the hook, and said so.
                self.current.anomalies.append("command_truncated")
                length = f.get("len", "")
                self.current.full_length = int(length) if length.isdigit() else None
            if f.get("hook") == "lost":
                self.current.anomalies.append("prompt_hook_lost")
                self._partial(t, _LIMITS["hook_lost"])

    # -- bash without a fork per command: the text arrives with the end -----------------------
    def _start_pending(self, t: float, cmdno: str | None) -> None:
        echo = (self._prompt_shown, self._between.recent(64 * 1024))
        if self.redact is None:
            label = echo_label(echo)  # cheap: the last echoed row, plain
        else:
            # Redaction needs the whole line (a wrapped secret split over rows would not be
            # recognised): render it, find its secrets in the held echo, redact the label.
            line = typed_line(echo[0], echo[1], self.cols) if echo[0] is not None else None
            self._release_echo(line)
            label = "$ " + line if line and not line[:1].isspace() else "$ (command)"
        self._start_command(t, None, "history", cmdno, label=label)
        assert self.current is not None
        self.current.echo = echo

    def _fill(self, cmd: Command, f: Mapping[str, str], key: str) -> None:
        """Give a pending command its text from D's ``cmd<key>``/``src<key>`` fields."""
        echo, cmd.echo = cmd.echo, None
        src = f.get("src" + key)
        text = f.get("cmd" + key)
        if src is None:  # nothing said about it: the line as it was echoed
            text, src = from_echo(echo, self.cols)
        elif src == "stale":
            text, src = self._resolve_stale(text, echo)
        elif src == "hidden":
            text = None
        elif src == "history" and not text:
            # No line read into history is empty: the command emptied the history the text
            # is read from (`history -c`, `HISTSIZE=0`). Its line is what was echoed.
            text, src = from_echo(echo, self.cols)
        cmd.text, cmd.source = text, src
        if f.get("trunc" + key) == "1" and text is not None:
            cmd.anomalies.append("command_truncated")
            length = f.get("len" + key, "")
            cmd.full_length = int(length) if length.isdigit() else None

    def _flush_held(self) -> None:
        while self._held and self._held[0][0].echo is None:
            self._emit_command(*self._held.pop(0))

    def _resolve_stale(self, stale: str | None, echo: tuple[bytes | None, bytes] | None = None) -> tuple[str | None, str]:
        """bash: ``history 1`` did not advance — a duplicate (ignoredups) or a hidden line.

        The shell cannot tell us which, but the line it just echoed can: a duplicate ends
        with exactly the previous entry's text. Anything else stays hidden (privacy first).
        """
        if echo is None:
            echo = (self._prompt_shown, self._between.recent(64 * 1024))
        if stale and "\n" not in stale and echo[0] is not None:
            # The shell marked where its prompt ended: the line as the user saw it (readline
            # redraws included) must be exactly the history entry.
            typed = typed_line(echo[0], echo[1], self.cols)
            if typed is not None:
                return (stale, "history") if typed == stale.rstrip() else (None, "hidden")
        if stale and "\n" not in stale:
            shown = render_plain(echo[1][-ECHO_KEEP:].decode("utf-8", "replace")).rstrip("\n")
            last = shown.rsplit("\n", 1)[-1].rstrip()
            text = stale.rstrip()
            # A line hidden by ignorespace was typed with a leading space: after a prompt
            # that ends in a space it shows as two spaces before the text.
            if last.endswith(text) and not last.endswith("  " + text):
                return stale, "history"
        return None, "hidden"

    def _start_command(self, t: float, text: str | None, source: str, cmdno: str | None,
                       label: str | None = None) -> None:
        cmd = Command(
            seq=0,  # numbered when written: empty cmd.exe cycles are dropped
            text=text,
            source=source,
            cwd=self.cwd,
            t_start=t,
            spool=OutputSpool(self.output_cap),
            cmdno=cmdno,
        )
        self.current = cmd
        self._between = OutputSpool(ECHO_KEEP)
        if self.cast is not None and source != "boundary":
            if label is None:
                label = "$ " + text if text is not None else "$ (hidden command)"
            if self.redact is not None:
                label = self.redact(label)[0]
            self.cast.marker(label, t)

    def _end(self, m: Mark, t: float) -> None:
        st = m.fields.get("st")
        if self._held or (self.current is not None and self.current.echo is not None):
            for cmd, _cwd in self._held:
                if cmd.echo is not None:
                    self._fill(cmd, m.fields, "." + (cmd.cmdno or ""))
            if self.current is not None and self.current.echo is not None:
                self._fill(self.current, m.fields, "")
            self._flush_held()
        if self.current is None:
            return  # bare D: nothing ran (empty line, Ctrl-C at the prompt) — or a stale D
        code = int(st) if st is not None and st.lstrip("-").isdigit() else None
        sp = m.fields.get("sp")
        if sp is not None:
            # zsh printed its PROMPT_SP trailer (this mark, spaces, CR, spaces, CR) between
            # the command's output and precmd: the screen keeps it (.cast), the record not.
            mark = re.escape(sp.encode("utf-8", "surrogateescape"))
            self.current.spool.trim_end(re.compile(mark + rb" *\r *\r\Z"))
        self._close(t, code, _pipestatus(m.fields.get("ps")))

    def _close(self, t: float, code: int | None, pipestatus: list[int] | None) -> None:
        cmd = self.current
        assert cmd is not None
        self.current = None
        cmd.exit_code, cmd.pipestatus, cmd.t_end = code, pipestatus, t
        if self.closing is not None:
            self._write_command(self.closing, self.cwd)
        self.closing = cmd

    def _settle(self, t: float) -> None:
        """Write the command that ended, now that the prompt told us the cwd after it."""
        if self.closing is not None:
            cmd, self.closing = self.closing, None
            self._write_command(cmd, self.cwd)

    def _write_command(self, cmd: Command, cwd_end: str | None) -> None:
        if cmd.echo is not None or self._held:
            # Its text comes with a later end marker (a pasted block): keep the order.
            self._held.append((cmd, cwd_end))
            self._flush_held()
            return
        self._emit_command(cmd, cwd_end)

    def _emit_command(self, cmd: Command, cwd_end: str | None) -> None:
        assert cmd.t_end is not None
        # Redacted before the spool cuts it: a secret across a cut must not survive.
        output = cmd.spool.text(self.redact)
        redactions = cmd.spool.redactions
        if cmd.source == "boundary" and not output.strip():
            return  # cmd.exe: an empty Enter, not a command
        cmd.anomalies.extend(cmd.spool.anomalies)
        self.command_count += 1
        cmd.seq = self.command_count
        command = cmd.text
        if self.redact is not None and command is not None:
            command, n = self.redact(command)
            redactions += n
        stderr: str | None = None
        if cmd.err is not None:
            stderr = cmd.err.text(self.redact)  # its secrets are counted in output's
        if is_failure(cmd.exit_code, status_kind(cmd.exit_code)):
            self.failed_count += 1
        digest: tuple[str | None, int | None] = (None, None)
        if self.cast is not None:
            self.cast.flush(cmd.t_end)
            digest = self.cast.digest
        rec: Record = {
            "event_type": "terminal_capture",
            "ts": self.ts(cmd.t_end),
            "correlation_id": self.session_id,
            "command_seq": cmd.seq,
            "command": command,
            "command_source": cmd.source,
            "cwd": cmd.cwd,
            "cwd_end": cwd_end,
            "exit_code": cmd.exit_code,
            "status_kind": status_kind(cmd.exit_code),
            "pipestatus": cmd.pipestatus,
            "started_at": self.ts(cmd.t_start),
            "ended_at": self.ts(cmd.t_end),
            "duration_ms": round((cmd.t_end - cmd.t_start) * 1000.0, 3),
            "output": output,
            "output_length": cmd.spool.total,
            "output_truncated": cmd.spool.truncated,
            **({"stderr": stderr, "stderr_length": cmd.err.total} if cmd.err is not None else {}),
            "alt_screen": cmd.alt_screen,
            "cast_start": round(cmd.t_start, 6),
            "cast_end": round(cmd.t_end, 6),
            "redactions": redactions,
            "anomalies": sorted(set(cmd.anomalies)),
            "cast_sha256": digest[0],
            "cast_bytes": digest[1],
        }
        if cmd.full_length is not None:
            rec["command_length"] = cmd.full_length
        if self.command_fields:
            rec.update(self.command_fields)
        self.emit(rec)

    # -- pause / resume -------------------------------------------------------------------------
    def pause(self, t: float) -> None:
        """Stop capturing (output still reaches the terminal); a ``gap`` event says so."""
        if self.paused_at is not None:
            return
        self._release_echo(None)
        if self.cast is not None:
            self.cast.marker("[cfsession: recording paused]", t)
        self.event("gap", t, state="paused")
        self.paused_at = t
        self._skipped = 0

    def resume(self, t: float) -> None:
        if self.paused_at is None:
            return
        paused_ms = round((t - self.paused_at) * 1000.0, 3)
        self.paused_at = None
        if self.cast is not None:
            self.cast.marker("[cfsession: recording resumed]", t)
        self.event("gap", t, state="resumed", paused_ms=paused_ms, skipped_commands=self._skipped)

    def typeahead(self, t: float) -> None:
        """Keys were typed while the command ran in line mode: the terminal echoed them into
        its output (they are usually the next command, typed ahead). Flagged, never kept."""
        cmd = self.current
        if cmd is not None and cmd.source not in ("argv", "unsegmented") and "typeahead" not in cmd.anomalies:
            cmd.anomalies.append("typeahead")

    def hangup(self, t: float) -> None:
        """The recorder was told to end (SIGHUP, SIGTERM) and hangs up the shell: whatever
        runs now is cut off, its status unknown (the bash path is in finish())."""
        self.hung_up = True

    def toggle_pause(self, t: float) -> None:
        (self.resume if self.paused_at is not None else self.pause)(t)

    def tick(self, t: float) -> None:
        if self.cast is not None:
            self.cast.tick(t)

    def end_batch(self) -> None:
        """Nothing: in one process every call has already been handled."""

    def resize(self, cols: int, rows: int, t: float) -> None:
        self.cols = cols
        if self._hold.active:
            self._hold.add_resize(cols, rows, t)  # in order with the held output
        elif self.cast is not None:
            self.cast.resize(cols, rows, t)
        self.event("resize", t, cols=cols, rows=rows)

    # -- end of session -------------------------------------------------------------------------
    def finish(self, t: float, exit_code: int | None, reason: str) -> None:
        """Close what is open and write ``session_end``."""
        self._release_echo(None)
        self.resume(t)
        # Commands whose end marker (and text) never came: the line as it was echoed.
        for pending in [c for c, _cwd in self._held] + ([self.current] if self.current else []):
            if pending.echo is not None:
                pending.text, pending.source = from_echo(pending.echo, self.cols)
                pending.echo = None
        self._drop_shell_exit()  # now that every text is known
        end_command = self.end_command
        cmd = self.current
        if cmd is not None:
            first = (cmd.text or "").strip().split(None, 1)
            if cmd.source in ("unsegmented", "argv"):
                code = exit_code
            elif first and first[0] == "exec":
                # `exec bash`/`exec zsh`: the new program replaced the shell and its hooks
                # (SHELL_INTEGRATION.md §8); everything since is this command's output and
                # its end is the session's end.
                code = exit_code
                cmd.anomalies.append("integration_lost")
            elif exit_code is not None and reason == "exit":
                # The shell left while this command ran: the command made it leave (`exit`,
                # `false || exit 5`, exit from a function or alias, `set -e`), and the
                # shell's status is the command's. bash has no exit hook to say it.
                code = exit_code
            else:
                code = None
                cmd.anomalies.append("missing_end")
            self._close(t, code, None)
        self._settle(t)
        self._flush_held()
        digest: tuple[str | None, int | None] = (None, None)
        if self.cast is not None:
            self.cast.close()
            digest = self.cast.digest
        self.event(
            "session_end",
            t,
            ended_at=self.ts(t),
            duration_ms=round(t * 1000.0, 3),
            command_count=self.command_count,
            failed_count=self.failed_count,
            exit_code=exit_code,
            reason=reason,
            cast_sha256=digest[0],
            cast_bytes=digest[1],
            **({"end_command": self.redact(end_command)[0] if self.redact else end_command}
               if end_command is not None else {}),
        )


def argv_text(argv: list[str]) -> str:
    return shlex.join(argv)
