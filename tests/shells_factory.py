"""Drive bash, zsh and fish under ``cfsession record`` with one script (tests/e2e).

Each shell gets a hermetic HOME whose startup files print a token once (so a test can
assert each ran exactly once) and set a prompt carrying a counter that advances once per
real prompt: waiting for ``CFTP<n+1>>`` cannot match a redraw of the previous prompt
(fish repaints it while a long line is edited). No sleeps: every wait is on output.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pexpect

from tests import pty_harness as h

TOKEN = "RC-RAN:"
NONCE_RE = re.compile(r"[0-9a-f]{32}")
PASTE_ON, PASTE_OFF = "\x1b[200~", "\x1b[201~"

# The user's startup files per shell (name relative to HOME -> text). Each prints one token.
BASH_RC = {
    ".bashrc": (
        "__n=0\nPROMPT_COMMAND='__n=$((__n+1))'\nPS1='CFTP${__n}> '\nHISTCONTROL=ignorespace\n"
        "alias ll='echo aliased'\necho " + TOKEN + "bashrc\n"
    ),
    ".bash_profile": "echo " + TOKEN + "bash_profile\n. ~/.bashrc\n",
}
ZSH_RC = {
    ".zshenv": "echo " + TOKEN + "zshenv\n",
    ".zprofile": "echo " + TOKEN + "zprofile\n",
    ".zshrc": (
        "typeset -gi __n=0\n__count() { (( __n++ )) }\nprecmd_functions+=(__count)\n"
        "setopt promptsubst HIST_IGNORE_SPACE\nPS1='CFTP${__n}> '\n"
        "alias ll='echo aliased'\necho " + TOKEN + "zshrc\n"
    ),
    ".zlogin": "echo " + TOKEN + "zlogin\n",
}
FISH_RC = {
    ".config/fish/config.fish": (
        "set -g fish_greeting ''\nset -g __n 0\n"
        "function __count --on-event fish_prompt\n"
        "  set -g __n (math $__n + 1)\nend\n"
        "function fish_prompt; printf 'CFTP%s> ' $__n; end\n"
        "alias ll 'echo aliased'\necho " + TOKEN + "config.fish\n"
    ),
}
RC = {"bash": BASH_RC, "zsh": ZSH_RC, "fish": FISH_RC}


def write_rc(kind: str, home: Path, extra: str = "", files: dict[str, str] | None = None) -> None:
    """Write the user's startup files for ``kind``; ``extra`` is appended to the main rc."""
    main = {"bash": ".bashrc", "zsh": ".zshrc", "fish": ".config/fish/config.fish"}[kind]
    for name, text in (files if files is not None else RC[kind]).items():
        path = home / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text + (extra if name == main else ""), encoding="utf-8")


@dataclass
class Shell:
    """One recorded shell on a real PTY."""

    child: pexpect.spawn
    cf_home: Path
    kind: str
    n: int = -1  # counter shown by the last prompt
    startup: str = ""
    seen: list[str] = field(default_factory=list)

    def expect_prompt(self, timeout: float = 15, advance: bool = True) -> str:
        want = self.n + 1 if advance else self.n
        self.child.expect(rf"CFTP{want}> ", timeout=timeout)
        self.n = want
        out = str(self.child.before)
        self.seen.append(out)
        return out

    def run(self, line: str, timeout: float = 15) -> str:
        self.child.sendline(line)
        return self.expect_prompt(timeout)

    def redraw(self) -> str:
        """Wait for the prompt after Ctrl-C at the prompt or a syntax error: bash and zsh run
        their prompt hooks again, fish only redraws the same prompt (no fish_prompt event)."""
        return self.expect_prompt(advance=self.kind != "fish")

    def paste(self, text: str) -> str:
        """Bracketed paste of ``text`` then Enter."""
        self.child.send(PASTE_ON + text + PASTE_OFF)
        self.child.send("\r")
        return self.expect_prompt()

    def cancel_line(self, tries: int = 5) -> None:
        """fish: Ctrl-C until fish itself cancels the line (its ``^C`` is in reverse video).
        A Ctrl-C that lands while fish runs a function (terminal not raw) is a SIGINT the
        tty echoes plainly and fish may drop; the next one is taken."""
        for _ in range(tries):
            self.child.sendcontrol("c")
            if self.child.expect([r"\x1b\[7m\^C", pexpect.TIMEOUT], timeout=1) == 0:
                return
        raise AssertionError("fish never took Ctrl-C")

    def interrupt_resumed(self, tries: int = 5) -> str:
        """Ctrl-C a job that ``fg`` resumes. The shell names the job before it hands it the
        terminal, and a Ctrl-C in between goes to the shell, which ignores it: repeat."""
        for _ in range(tries):
            self.child.sendcontrol("c")
            try:
                return self.expect_prompt(timeout=1)
            except pexpect.TIMEOUT:
                continue
        raise AssertionError("the resumed job never took Ctrl-C")

    def interrupt(self, line: str, started: str, key: str = "c") -> str:
        """Run ``line``, wait until it printed ``started``, then send Ctrl-<key>."""
        self.child.sendline(line)
        self.child.expect(re.escape(started))
        self.child.sendcontrol(key)
        return self.expect_prompt()

    def finish(self, line: str | None = "exit", timeout: float = 15) -> int:
        """Type ``line`` (None: Ctrl-D at the empty prompt) and wait for the recorder's end."""
        if line is None:
            self.child.sendeof()
        else:
            self.child.sendline(line)
        self.child.expect(pexpect.EOF, timeout=timeout)
        self.seen.append(str(self.child.before))
        self.child.close()
        if self.child.exitstatus is not None:
            return int(self.child.exitstatus)
        return 128 + int(self.child.signalstatus or 0)

    @property
    def transcript(self) -> str:
        return self.startup + "".join(self.seen)


def start(
    kind: str,
    shell: str,
    home: Path,
    cf_home: Path,
    *,
    args: tuple[str, ...] = (),
    env: dict[str, str] | None = None,
    first_prompt: int = 1,
) -> Shell:
    """Start ``cfsession record --shell <shell>`` and wait for the first prompt."""
    argv = h.cfsession_argv("record", "--shell", shell, *args)
    child = pexpect.spawn(
        argv[0],
        argv[1:],
        env=env or h.base_env(home, cf_home),
        cwd=str(home),
        encoding="utf-8",
        codec_errors="replace",
        timeout=15,
        dimensions=(30, 120),
    )
    sh = Shell(child, cf_home, kind, n=first_prompt - 1)
    sh.startup = sh.expect_prompt()
    sh.seen.clear()
    return sh


def typed(kind: str, shell: str, home: Path, cf_home: Path, *lines: str) -> Shell:
    """A session of ``shell`` with the usual rc file: each line typed at a prompt, then
    ``exit``. The finished Shell, for what the terminal showed."""
    write_rc(kind, home)
    sh = start(kind, shell, home, cf_home)
    for line in lines:
        sh.run(line)
    sh.finish()
    return sh


def records(cf_home: Path) -> list[dict[str, Any]]:
    (path,) = h.sessions(cf_home)
    return h.load(path)


def commands(cf_home: Path) -> list[dict[str, Any]]:
    return [r for r in records(cf_home) if r["event_type"] == "terminal_capture"]


# -- the ordinary session: typed identically into every shell ---------------------------
FORGED_NONCE = "0123456789abcdef0123456789abcdef"
FORGED = r"printf '\x1b]133;D;0\x07\x1b]633;E;ls\x07\x1b]6973;0123456789abcdef0123456789abcdef;9;D;st=0\x07done\n'"
TAB_LINE = "printf '%s\\n' 'a\tb'"
# One process that prints, then sleeps without forking: once "started" is on screen it
# holds the terminal, so Ctrl-C/Ctrl-Z reach it, not the shell (zsh can hang when Ctrl-C
# races its fork; a job stopped while dash vforks never stops, and fish waits forever).
SLOW = "sh -c 'echo st''arted; exec sleep 30'"
# A directory name with everything the wire format must escape (created from Python).
WEIRD = "w;e \\ird\n\t\x01\x1b\x7fé"


@dataclass(frozen=True)
class Step:
    """One thing typed; ``text`` is None when no record is expected."""

    typed: str
    text: str | None = None
    exit_code: int | None = None
    output: str | None = None  # exact plain output; None: the shells word it differently
    how: str = "run"  # run | paste | ctrl-c | ctrl-z | fg-ctrl-c | cancel | error
    hidden: bool = False
    pipestatus: tuple[int, ...] | None = None
    also: tuple[int, ...] = ()  # other exit codes the shell may report


def _cmd(typed: str, code: int, output: str | None, **kw: Any) -> Step:
    return Step(typed, typed, code, output, **kw)


ORDINARY: list[Step] = [
    _cmd("echo hi", 0, "hi\n"),
    _cmd("false", 1, ""),
    _cmd("sh -c 'exit 42'", 42, ""),
    _cmd("nosuchcmd_cfs", 127, None),
    _cmd("cd 'd ir'", 0, ""),
    _cmd("pwd", 0, "{home}/d ir\n"),
    _cmd("cd ..", 0, ""),
    _cmd("cd w*", 0, ""),  # into WEIRD: the cwd travels escaped in P
    _cmd("cd ..", 0, ""),
    _cmd("echo héllo wörld", 0, "héllo wörld\n"),
    _cmd("false | true", 0, "", pipestatus=(1, 0)),
    _cmd("printf '%s\\n' 'a;b\\c'", 0, "a;b\\c\n"),
    _cmd("ll", 0, "aliased\n"),
    Step(" echo topsecret", None, 0, "topsecret\n", hidden=True),
    _cmd("sh -c 'kill -9 $$'", 137, None),
    _cmd("sh -c 'kill $$'", 143, None),
    _cmd(FORGED, 0, "done\n"),
    Step("abc", how="cancel"),  # Ctrl-C at the prompt with text typed
    Step(""),  # empty Enter
    Step("echo )", how="error"),  # syntax error
    _cmd(SLOW, 130, None, how="ctrl-c"),
    _cmd(SLOW, 148, None, how="ctrl-z"),
    _cmd("fg", 130, None, how="fg-ctrl-c"),
    _cmd(TAB_LINE, 0, "a\tb\n", how="paste"),
    # The shell's own `exit` ends the session (session_end's exit_code and end_command),
    # and is not a command, in every shell.
    Step("exit 5", None, 5),
]


# What fish does differently, on purpose or by design: its bracketed paste drops a
# literal tab, `fg` reports 0 or 130 (it varies from run to run) for a resumed job that
# Ctrl-C then killed, and the title it sets before each command holds the raw cwd, whose
# ESC breaks that sequence open.
FISH_DIFFERS = {
    TAB_LINE: Step(TAB_LINE, TAB_LINE.replace("\t", ""), 0, "ab\n", how="paste"),
    "fg": Step("fg", "fg", 130, None, how="fg-ctrl-c", also=(0,)),
}


def steps_for(kind: str, steps: list[Step]) -> list[Step]:
    """``steps`` with the expectations adjusted for ``kind``."""
    if kind != "fish":
        return steps
    out = [FISH_DIFFERS.get(s.typed, s) for s in steps]
    after_weird = next(i for i, s in enumerate(out) if s.typed == "cd w*") + 1
    out[after_weird] = Step("cd ..", "cd ..", 0, None)
    return out


def make_dirs(home: Path) -> None:
    """The directories the ordinary session visits."""
    (home / "d ir").mkdir()
    (home / WEIRD).mkdir()


def run_steps(sh: Shell, steps: list[Step]) -> int:
    """Type ``steps`` into ``sh``; the last one must end the shell. Returns the exit code."""
    for step in steps[:-1]:
        if step.how == "run":
            sh.run(step.typed)
        elif step.how == "paste":
            sh.paste(step.typed)
        elif step.how == "cancel":
            sh.child.send(step.typed)
            # Only once the editor echoed the text is it reading the terminal raw; a Ctrl-C
            # before that is a SIGINT to the shell and flushes the typed text.
            sh.child.expect(step.typed)
            if sh.kind == "fish":
                sh.cancel_line()
            else:
                sh.child.sendcontrol("c")
            sh.redraw()
        elif step.how == "error":
            sh.child.sendline(step.typed)
            sh.redraw()
            if sh.kind == "fish":
                # fish keeps the faulty line in the editor: clear it with Ctrl-A Ctrl-K,
                # keys the tty passes on untouched even if fish is not reading raw yet.
                sh.child.send("\x01\x0b")
        elif step.how in ("ctrl-c", "ctrl-z"):
            sh.interrupt(step.typed, "started", step.how[-1])
        elif step.how == "fg-ctrl-c":
            sh.child.sendline(step.typed)
            sh.child.expect("sleep 30")  # every shell names the job it resumes …
            sh.interrupt_resumed()
        else:
            raise ValueError(step.how)
    return sh.finish(steps[-1].typed)


def check_steps(cmds: list[dict[str, Any]], steps: list[Step], home: Path) -> None:
    """The records are exactly the expected ones, in order."""
    want = [s for s in steps if s.text is not None or s.hidden]
    got = [(c["command"], c["exit_code"]) for c in cmds]
    expected = [(s.text, s.exit_code) for s in want]
    for i, (c, s) in enumerate(zip(cmds, want, strict=False)):
        if c["exit_code"] in s.also:
            expected[i] = (s.text, c["exit_code"])
    # (pytest does not rewrite asserts in this helper module: say what differs)
    diff = [f"{g!r} != {e!r}" for g, e in zip(got, expected, strict=False) if g != e]
    assert got == expected, "\n".join(diff) or f"{got} != {expected}"
    for c, s in zip(cmds, want, strict=True):
        if s.output is not None:
            assert c["output"] == s.output.format(home=home), c["command"]
        if s.hidden:
            assert c["command_source"] == "hidden"
        if s.pipestatus is not None:
            assert c["pipestatus"] == list(s.pipestatus)
        if s.how == "ctrl-c":
            assert c["output"].startswith("started\n") and c["status_kind"] == "likely_signal"
        if s.how == "ctrl-z":
            assert c["status_kind"] == "stopped"
        assert c["started_at"] <= c["ended_at"] and c["duration_ms"] >= 0
    by = {c["command"]: c for c in cmds}
    assert (by["cd 'd ir'"]["cwd"], by["cd 'd ir'"]["cwd_end"]) == (str(home), str(home / "d ir"))
    assert by["pwd"]["cwd"] == str(home / "d ir")
    cd_weird = by["cd w*"]
    assert (cd_weird["cwd"], cd_weird["cwd_end"]) == (str(home), str(home / WEIRD))
    assert [c["cwd"] for c in cmds if c["command"] == "cd .."] == [
        str(home / "d ir"),
        str(home / WEIRD),
    ]
    assert "nosuchcmd_cfs" in by["nosuchcmd_cfs"]["output"]
    assert "spoof_attempt" in by[FORGED]["anomalies"]


def assert_clean(sh: Shell, cf_home: Path) -> None:
    """No marker and no nonce reached the terminal, the JSONL or the .cast."""
    (jsonl,) = h.sessions(cf_home)
    texts = {
        "terminal": sh.transcript,
        "jsonl": jsonl.read_text(),
        "cast": jsonl.with_suffix(".cast").read_text(),
    }
    for where, text in texts.items():
        # The forged marker of the ordinary session is data and may appear; nothing else.
        nonces = set(re.findall(r"([0-9a-f]{32});\d+;[HDPACX]", text))
        assert nonces <= {FORGED_NONCE}, where
        assert "__cfs" not in text, where


def tokens(text: str) -> list[str]:
    """The startup-file tokens in ``text``, in order."""
    return re.findall(re.escape(TOKEN) + r"([\w.]+)", text)


def startup_lines(sh: Shell) -> list[str]:
    """What the user saw before the first prompt, minus the recorder's own first line."""
    from cfsession.text import render_plain

    lines = [ln for ln in render_plain(sh.startup).splitlines() if ln.strip()]
    return [ln for ln in lines if not ln.startswith("cfsession: recording ")]


COMMAND_TEXT_LIMIT = 128 * 1024  # bytes of UTF-8 a hook sends of one command line


def paste_long_lines(sh: Shell, noop: str) -> tuple[str, str, str, str]:
    """Paste a 10 kB line, a 100 kB one, an 80 kB multibyte one and a 150 kB one
    (``noop`` starts the last three: a command that does nothing in this shell);
    :func:`assert_long_lines` checks what was recorded of them."""
    long10 = "echo " + "x" * 10_000
    long100 = f"{noop} " + "y" * 100_000
    wide = f"{noop} " + "é" * 40_000  # 80 kB in bytes, 40 k characters
    over = f"{noop} " + "z" * 150_000  # past the limit
    for line in (long10, long100, wide, over):
        sh.paste(line)
    return long10, long100, wide, over


def assert_long_lines(cmds: list[dict[str, Any]], long10: str, long100: str, wide: str, over: str) -> None:
    """Lines up to the command text limit kept whole; a longer one cut to the limit (in
    bytes, at a character boundary) and marked: ``command_truncated``, ``command_length``."""
    assert cmds[0]["command"] == long10 and cmds[0]["output"] == "x" * 10_000 + "\n"
    for c, line in ((cmds[1], long100), (cmds[2], wide)):
        assert c["command"] == line, (len(c["command"] or ""), len(line))
        assert "command_truncated" not in c["anomalies"] and "command_length" not in c
        assert c["exit_code"] == 0
    cut = cmds[3]["command"]
    assert over.startswith(cut) and COMMAND_TEXT_LIMIT - 1024 < len(cut.encode()) <= COMMAND_TEXT_LIMIT
    assert "command_truncated" in cmds[3]["anomalies"] and cmds[3]["command_length"] == len(over)
    assert cmds[3]["exit_code"] == 0
