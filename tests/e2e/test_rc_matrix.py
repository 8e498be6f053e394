"""The hooks under the configurations real users have: one rc file per case, a real shell
on a real PTY, and what was recorded compared with what ran (docs/SHELL_MATRIX.md)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests import pty_harness as h
from tests import shells_factory as sf
from tests.conftest import require_shell

pytestmark = pytest.mark.pty

PS1 = f"PS1='{h.PROMPT}'\n"


def bash_session(home: Path, cf_home: Path, rc: str) -> h.Recording:
    bash = require_shell("bash")
    (home / ".bashrc").write_text(PS1 + rc)
    return h.start(bash, home, cf_home)


def got(cf_home: Path) -> list[tuple[Any, ...]]:
    return [(c["command"], c["exit_code"]) for c in h.commands(cf_home)]


def records(cf_home: Path) -> list[dict[str, Any]]:
    (path,) = h.sessions(cf_home)
    return h.load(path)


# -- bash ----------------------------------------------------------------------------------
def test_bash_set_u(user_home: Path, cf_home: Path) -> None:
    rec = bash_session(user_home, cf_home, "set -u\n")
    seen = rec.child.before
    seen += rec.run("echo hi")
    seen += rec.run("false")
    seen += rec.run("echo $NOPE_UNSET_CFS")  # the user's own unbound variable: their error
    seen += rec.run("true")
    assert rec.finish() == 0
    assert "PS0" not in seen and "__cfs" not in seen
    assert got(cf_home)[:2] == [("echo hi", 0), ("false", 1)]
    cmds = h.commands(cf_home)
    assert cmds[2]["exit_code"] not in (None, 0) and "NOPE_UNSET_CFS: unbound variable" in cmds[2]["output"]
    assert all(not c["anomalies"] for c in cmds)


def test_bash_set_euo_pipefail(user_home: Path, cf_home: Path) -> None:
    rec = bash_session(user_home, cf_home, "set -euo pipefail\n")
    rec.run("[ -f /nonexistent ] && echo y")  # plain bash stays at its prompt
    rec.run("echo still here")
    rec.run("false | true || echo pipefail=$?")  # the user's options still apply to theirs
    assert rec.finish() == 0
    assert got(cf_home) == [
        ("[ -f /nonexistent ] && echo y", 1),
        ("echo still here", 0),
        ("false | true || echo pipefail=$?", 0),
    ]
    assert h.commands(cf_home)[2]["output"] == "pipefail=1\n"


RESOURCE_RC = """PROMPT_COMMAND='echo "[pc]"'
HISTCONTROL=ignoredups
"""


def test_bash_rc_sourced_again_and_prompt_command_typed(user_home: Path, cf_home: Path) -> None:
    rec = bash_session(user_home, cf_home, RESOURCE_RC)
    rec.run("source ~/.bashrc")
    out1 = rec.run("false")
    out2 = rec.run("PROMPT_COMMAND='echo \"[pc2]\"'")
    out3 = rec.run("sh -c 'exit 3'")
    out4 = rec.run("echo ok")
    rec.finish()
    assert got(cf_home) == [
        ("source ~/.bashrc", 0),
        ("false", 1),
        ("PROMPT_COMMAND='echo \"[pc2]\"'", 0),
        ("sh -c 'exit 3'", 3),
        ("echo ok", 0),
    ]
    cmds = h.commands(cf_home)
    assert all(not c["anomalies"] for c in cmds), [c["anomalies"] for c in cmds]
    # At the one prompt right after the assignment our hook runs last, so what the prompt
    # commands printed then is in that command's output (docs/SHELL_MATRIX.md); from the
    # next prompt on, it is the prompt's again.
    assert [c["output"] for c in cmds[1:5:2]] == ["", ""] and cmds[4]["output"] == "ok\n"
    # The user's prompt command ran once per prompt, and a replaced one is gone.
    assert out1.count("[pc]") == 1 and out3.count("[pc2]") == 1 and "[pc]" not in out3
    assert out4.count("[pc2]") == 1 and "[pc2]" in out2


def test_bash_prompt_command_unset_is_reported(user_home: Path, cf_home: Path) -> None:
    rec = bash_session(user_home, cf_home, "")
    rec.run("unset PROMPT_COMMAND")
    rec.run("echo after")
    rec.finish()
    lines = records(cf_home)
    events = [r for r in lines if r["event_type"] == "integration"]
    assert [e["status"] for e in events] == ["partial"] and "PROMPT_COMMAND" in events[0]["reason"]
    after = [c for c in h.commands(cf_home) if c["command"] == "echo after"]
    assert after and "prompt_hook_lost" in after[0]["anomalies"]


def test_bash_readonly_prompt_command(user_home: Path, cf_home: Path) -> None:
    rec = bash_session(user_home, cf_home, "PROMPT_COMMAND='history -a'\nreadonly PROMPT_COMMAND\n")
    seen = rec.child.before
    seen += rec.run("echo hi")
    seen += rec.run("echo two")
    rec.finish()
    assert "readonly" not in seen and "__cfs" not in seen  # nothing of ours on screen
    lines = records(cf_home)
    assert lines[0]["integration"] == "active"
    events = [r for r in lines if r["event_type"] == "integration"]
    assert [e["status"] for e in events] == ["partial"]
    assert "read-only" in events[0]["reason"]
    assert [c["command"] for c in h.commands(cf_home)] == ["echo hi", "echo two"]


def test_bash_readonly_histtimeformat(user_home: Path, cf_home: Path) -> None:
    rec = bash_session(user_home, cf_home, "HISTTIMEFORMAT='%F %T '\nreadonly HISTTIMEFORMAT\n")
    rec.run("echo hi")
    rec.run("ls -d /")
    rec.finish()
    assert got(cf_home) == [("echo hi", 0), ("ls -d /", 0)]


def test_bash_string_prompt_command_sees_pipestatus(user_home: Path, cf_home: Path) -> None:
    rec = bash_session(user_home, cf_home, "PROMPT_COMMAND='echo \"[ps=${PIPESTATUS[*]} st=$?]\"'\n")
    out = rec.run("false | true | (exit 3)")
    rec.finish()
    assert "[ps=1 0 3 st=3]" in out  # as plain bash shows it
    assert h.commands(cf_home)[0]["pipestatus"] == [1, 0, 3]


@pytest.mark.parametrize(
    ("rc", "line", "code"),
    [
        ("", "false || exit 5", 5),
        ("bye() { exit 7; }\n", "bye", 7),
        ("alias quit='exit 6'\n", "quit", 6),
        ("set -e\n", "sh -c 'exit 4'", 4),
    ],
    ids=["or-exit", "function", "alias", "errexit"],
)
def test_bash_exit_inside_a_command(user_home: Path, cf_home: Path, rc: str, line: str, code: int) -> None:
    rec = bash_session(user_home, cf_home, rc)
    rec.run("true")
    assert rec.finish(line) == code
    (last,) = [c for c in h.commands(cf_home) if c["command"] == line]
    assert last["exit_code"] == code and "missing_end" not in last["anomalies"]
    end = records(cf_home)[-1]
    assert end["event_type"] == "session_end" and end["exit_code"] == code
    assert end["failed_count"] == 1


def test_bash_erasedups_recall(user_home: Path, cf_home: Path) -> None:
    rec = bash_session(user_home, cf_home, "HISTCONTROL=ignoreboth:erasedups\n")
    long_line = "printf '%s\\n' two three four"
    rec.run("echo one")
    rec.run(long_line)
    # Up Up: readline draws the long line, then redraws the shorter "echo one" over it
    # (carriage return, the prompt again, the text, erase to end of line).
    rec.child.send("\x1b[A")
    rec.child.expect("four")
    rec.child.send("\x1b[A")
    rec.child.expect("echo one")
    rec.child.send("\r")
    rec.expect_prompt()
    rec.run("echo one")  # typed again: a duplicate of an entry further back
    rec.finish()
    assert [(c["command"], c["command_source"]) for c in h.commands(cf_home)][:4] == [
        ("echo one", "history"),
        (long_line, "history"),
        ("echo one", "history"),
        ("echo one", "history"),
    ]


def test_bash_hidden_line_after_failing_command(user_home: Path, cf_home: Path) -> None:
    rec = bash_session(user_home, cf_home, "HISTCONTROL=ignoreboth\n")
    rec.run("printenv TOKEN")
    rec.run(" TOKEN=s3cret printenv TOKEN")
    rec.run(" printenv TOKEN")  # the same text as the last entry, but hidden
    rec.finish()
    cmds = h.commands(cf_home)
    assert [(c["command"], c["command_source"], c["exit_code"]) for c in cmds][:3] == [
        ("printenv TOKEN", "history", 1),
        (None, "hidden", 0),
        (None, "hidden", 1),
    ]
    assert cmds[1]["output"] == "s3cret\n"


def test_bash_stdout_through_tee(user_home: Path, cf_home: Path) -> None:
    rec = bash_session(user_home, cf_home, "exec > >(tee -a ~/term.log)\n")
    rec.run("echo hi")
    rec.run("false")
    rec.run("sh -c 'exit 3'")
    rec.finish()
    log = (user_home / "term.log").read_text(errors="replace")
    assert "hi" in log
    assert "6973;" not in log and not re.search(r"[0-9a-f]{32}", log)  # no marker, no nonce
    assert got(cf_home)[:3] == [("echo hi", 0), ("false", 1), ("sh -c 'exit 3'", 3)]


def test_bash_status_pipestatus_and_last_arg_kept(user_home: Path, cf_home: Path) -> None:
    # What plain bash shows for these (checked through the same PTY, without cfsession).
    rec = bash_session(user_home, cf_home, "set -u\n")
    rec.run("false | true | (exit 3)")
    out1 = rec.run('echo "[${PIPESTATUS[*]} $?]"')
    rec.run("echo a b")
    out2 = rec.run('echo "[$_]"')
    rec.finish()
    assert "[1 0 3 3]" in out1 and "[b]" in out2


def test_bash_long_lines(user_home: Path, cf_home: Path) -> None:
    bash = require_shell("bash")
    sf.write_rc("bash", user_home)
    sh = sf.start("bash", bash, user_home, cf_home)
    long10, long100, wide, over = sf.paste_long_lines(sh, ":")
    sh.finish()
    sf.assert_long_lines(sf.commands(cf_home), long10, long100, wide, over)
    sf.assert_clean(sh, cf_home)


# A prompt library installed the way bash-preexec installs itself (bash-preexec is not
# packaged in Debian's, PyPI's or npm's registries): at the first prompt it rewrites
# PROMPT_COMMAND as one string — its precmd runner, the old value, its interactive-mode
# flag — and sets a DEBUG trap that calls preexec for the first command after the flag
# unless the command is part of $PROMPT_COMMAND's text.
PREEXEC_RC = r"""
precmd_functions=() preexec_functions=()
__bp_pre_mode=
__bp_precmd_invoke_cmd() { local s=$? f; for f in "${precmd_functions[@]}"; do "$f"; done; return $s; }
__bp_interactive_mode() { __bp_pre_mode=on; }
__bp_in_pc() {
  local -a parts; local p
  IFS=$'\n;' read -rd '' -a parts <<<"$PROMPT_COMMAND"
  for p in "${parts[@]}"; do p=${p#"${p%%[![:space:]]*}"}; p=${p%"${p##*[![:space:]]}"}; [[ $p == "$1" ]] && return 0; done
  return 1
}
__bp_debug() {
  [[ -n $__bp_pre_mode ]] || return 0
  __bp_pre_mode=
  __bp_in_pc "$BASH_COMMAND" && return 0
  local f; for f in "${preexec_functions[@]}"; do "$f" "$BASH_COMMAND"; done
}
__bp_install() {
  [[ $PROMPT_COMMAND == *__bp_precmd_invoke_cmd* ]] && return 1
  trap '__bp_debug' DEBUG
  local old=${PROMPT_COMMAND//$'\n'__bp_install/}
  old=${old//__bp_install/}
  PROMPT_COMMAND=$'__bp_precmd_invoke_cmd\n'${old:+$old$'\n'}__bp_interactive_mode
  __bp_precmd_invoke_cmd
  __bp_interactive_mode
}
PROMPT_COMMAND=${PROMPT_COMMAND:+$PROMPT_COMMAND$'\n'}__bp_install
my_precmd() { echo "[precmd]"; }
my_preexec() { echo "[preexec:$1]"; }
precmd_functions+=(my_precmd)
preexec_functions+=(my_preexec)
"""


def test_bash_preexec_style_library(user_home: Path, cf_home: Path) -> None:
    rec = bash_session(user_home, cf_home, PREEXEC_RC)
    out1 = rec.run("echo first")
    out2 = rec.run("false")
    out3 = rec.run("declare -p PROMPT_COMMAND")
    rec.finish()
    assert "[preexec:echo first]" in out1 and out1.count("[precmd]") == 1
    assert "[preexec:false]" in out2 and out2.count("[precmd]") == 1
    assert out3.count("__cfs_pc") == 1  # our hook once, not also inside the library's string
    cmds = h.commands(cf_home)
    assert [(c["command"], c["exit_code"]) for c in cmds][:2] == [("echo first", 0), ("false", 1)]
    # The library's precmd output belongs to the prompt, not to the first command.
    assert "[precmd]" not in cmds[0]["output"] and "first\n" in cmds[0]["output"]
    assert all(not c["anomalies"] for c in cmds)


# -- zsh -----------------------------------------------------------------------------------
@pytest.mark.parametrize("opts", ["setopt KSH_ARRAYS", "emulate sh", "setopt SH_WORD_SPLIT KSH_ARRAYS NO_UNSET"])
def test_zsh_user_options(user_home: Path, cf_home: Path, opts: str) -> None:
    zsh = require_shell("zsh")
    sf.write_rc("zsh", user_home, opts + "\n")
    sh = sf.start("zsh", zsh, user_home, cf_home)
    sh.run("false | true | false")
    sh.run("echo a b")
    sh.finish()
    cmds = sf.commands(cf_home)
    assert cmds[0]["pipestatus"] == [1, 0, 1] and cmds[0]["exit_code"] == 1
    assert (cmds[1]["command"], cmds[1]["output"], cmds[1]["exit_code"]) == ("echo a b", "a b\n", 0)


def test_zsh_user_options_and_pattern_disables_survive_the_hooks(user_home: Path, cf_home: Path) -> None:
    """The hooks run under zsh's own options (sticky emulation) and give the user's back on
    return: options, and patterns turned off with `disable -p`, are as the user left them."""
    zsh = require_shell("zsh")
    sf.write_rc("zsh", user_home, "setopt KSH_ARRAYS GLOB_SUBST NO_UNSET\ndisable -p '^' '#'\n")
    sh = sf.start("zsh", zsh, user_home, cf_home)
    sh.run("cd /")  # a new cwd: the escape path runs too
    sh.run('print -r -- "[${options[ksharrays]} ${options[globsubst]} ${options[unset]}]"')
    sh.run("disable -p")
    sh.finish()
    cmds = sf.commands(cf_home)
    assert [c["exit_code"] for c in cmds] == [0, 0, 0]
    assert cmds[1]["output"] == "[on on off]\n"
    assert cmds[2]["output"] == "'^' '#'\n"


def test_zsh_status_pipestatus_and_last_arg_kept(user_home: Path, cf_home: Path) -> None:
    zsh = require_shell("zsh")
    sf.write_rc("zsh", user_home)
    sh = sf.start("zsh", zsh, user_home, cf_home)
    sh.run("false | true | (exit 3)")
    out1 = sh.run('echo "[$pipestatus $?]"')
    sh.run("echo a b")
    out2 = sh.run('echo "[$_]"')
    sh.finish()
    assert "[1 0 3 3]" in out1 and "[b]" in out2


def test_zsh_err_exit(user_home: Path, cf_home: Path) -> None:
    zsh = require_shell("zsh")
    # The counting hook of the usual rc returns 1 at the first prompt ((( 0 )) is false),
    # which ERR_EXIT would rightly end the shell on: count so that it returns 0.
    files = {k: v.replace("(( __n++ ))", "(( ++__n ))") for k, v in sf.ZSH_RC.items()}
    sf.write_rc("zsh", user_home, "setopt ERR_EXIT NO_UNSET PIPE_FAIL\n", files=files)
    sh = sf.start("zsh", zsh, user_home, cf_home)
    sh.run("[[ -f /nonexistent ]] && echo y")  # plain zsh stays at its prompt
    sh.run("echo still")
    sh.finish()
    got = [(c["command"], c["exit_code"]) for c in sf.commands(cf_home)]
    assert got == [("[[ -f /nonexistent ]] && echo y", 1), ("echo still", 0)]


# -- fish ----------------------------------------------------------------------------------
def test_fish_postexec_handler_output_is_the_prompts(user_home: Path, cf_home: Path) -> None:
    fish = require_shell("fish")
    sf.write_rc("fish", user_home, "function __took --on-event fish_postexec\n  echo took-0-ms\nend\n")
    sh = sf.start("fish", fish, user_home, cf_home)
    out = sh.run("echo hi")
    sh.run("false")
    sh.finish()
    assert "took-0-ms" in out  # the user's handler still runs
    cmds = sf.commands(cf_home)
    assert [(c["command"], c["output"], c["exit_code"]) for c in cmds][:2] == [
        ("echo hi", "hi\n", 0),
        ("false", "", 1),
    ]
