"""The generated PowerShell integration: launch line, escaping, parts, and the script itself."""

from __future__ import annotations

import random
import re
import stat
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cfsession.parts import PartJoiner
from cfsession.segmenter import Mark, Segmenter, unescape
from cfsession.shell import OSC_NUM, LaunchContext, prepare, pwsh
from tests.conftest import require_module

NONCE = "0123456789abcdef0123456789abcdef"
PS_QUOTES = "'\u2018\u2019\u201a\u201b"


def ctx_for(
    tmp: Path, kind: str = "pwsh", shell: str = "pwsh", login: bool = False
) -> LaunchContext:
    return LaunchContext(
        shell=shell,
        kind=kind,
        nonce=NONCE,
        login=login,
        env={"PATH": "/bin", "HOME": str(tmp)},
        tmpdir=tmp,
    )


def ps_unquote(literal: str) -> str:
    """How PowerShell's tokenizer reads a single-quoted string (any of five quote characters)."""
    assert literal[0] in PS_QUOTES
    out, i = [], 1
    while i < len(literal):
        c = literal[i]
        if c in PS_QUOTES:
            if i + 1 < len(literal) and literal[i + 1] in PS_QUOTES:
                out.append(c)
                i += 2
                continue
            assert i == len(literal) - 1, "text after the closing quote"
            return "".join(out)
        out.append(c)
        i += 1
    raise AssertionError("unterminated")


# -- launch -----------------------------------------------------------------------------------


def test_prepare_pwsh(tmp_path: Path) -> None:
    launch = prepare(ctx_for(tmp_path))
    script = tmp_path / "init.ps1"
    assert launch.integrated
    assert launch.argv == [
        "pwsh",
        "-NoLogo",
        "-NoExit",
        "-Command",
        ". " + pwsh.ps_single_quote(str(script)),
    ]
    assert launch.secrets == [script]
    assert stat.S_IMODE(script.stat().st_mode) == 0o600
    raw = script.read_bytes()
    raw.decode("ascii")  # 5.1 reads BOM-less scripts in the ANSI code page
    assert b"\r\n" in raw and b"\n" not in raw.replace(b"\r\n", b"")
    # The nonce is in the file only: not in argv, not in the environment.
    assert NONCE.encode() in raw
    assert all(NONCE not in a for a in launch.argv)
    assert all(NONCE not in v for v in launch.env.values())
    assert launch.env == {"PATH": "/bin", "HOME": str(tmp_path)}


def test_prepare_windows_powershell_swallows_errors(tmp_path: Path) -> None:
    launch = prepare(ctx_for(tmp_path, kind="powershell", shell="powershell.exe", login=True))
    cmd = launch.argv[-1]
    assert launch.argv[:4] == [
        "powershell.exe",
        "-NoLogo",
        "-NoExit",
        "-Command",
    ]  # no -Login on 5.1
    assert cmd == "try { . " + pwsh.ps_single_quote(str(tmp_path / "init.ps1")) + " } catch { }"
    assert "shell=powershell" in (tmp_path / "init.ps1").read_text()


def test_login_pwsh_puts_login_first(tmp_path: Path) -> None:
    launch = prepare(ctx_for(tmp_path, login=True))
    assert launch.argv[:2] == ["pwsh", "-Login"]


@pytest.mark.parametrize(
    "path",
    [
        "C:\\Users\\John Doe\\AppData\\Local\\Temp\\cfsession-x\\init.ps1",
        "C:\\Users\\O'Brien\\Temp\\init.ps1",
        "C:\\Users\\a\u2019b \u2018c\u201a\u201b\\init.ps1",
        "C:\\$env:USERNAME\\%TEMP%\\`n$(calc)\\init.ps1",
        "C:\\Users\\J\u00fcrgen\\\u65e5\u672c\\init.ps1",
        "/tmp/cfsession-x y/init.ps1",
    ],
)
def test_path_quoting_round_trips(path: str) -> None:
    literal = pwsh.ps_single_quote(path)
    assert ps_unquote(literal) == path  # $, %, backtick and subexpressions stay literal
    assert pwsh.command_arg(path, "pwsh") == ". " + literal


# -- escaping and parts (reference forms of the PowerShell/Lua code) ------------------------


@pytest.mark.parametrize(
    ("value", "escaped"),
    [
        ("echo hi", "echo hi"),
        ("a;b\\c", "a\\x3bb\\x5cc"),
        ("line1\nline2\ttab\x1b\x07\x7f", "line1\\x0aline2\\x09tab\\x1b\\x07\\x7f"),
        ("h\u00e9", "h\\xc3\\xa9"),
        ("\U0001f600", "\\xf0\\x9f\\x98\\x80"),
    ],
)
def test_escape_ascii(value: str, escaped: str) -> None:
    assert pwsh.escape_ascii(value) == escaped
    assert unescape(escaped.encode()) == value  # the recorder's decoder reads it as is


@given(st.text(max_size=400))
def test_escape_is_ascii_and_decodes(value: str) -> None:
    value = value.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
    esc = pwsh.escape_ascii(value)
    assert esc.isascii() and ";" not in esc
    assert all(0x20 <= ord(c) < 0x7F for c in esc)
    assert unescape(esc.encode()) == value


@given(st.text(max_size=600), st.integers(min_value=16, max_value=120))
def test_split_escaped_pieces(value: str, limit: int) -> None:
    value = value.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
    esc = pwsh.escape_ascii(value)
    parts = pwsh.split_escaped(esc, limit)
    assert "".join(parts) == esc
    assert all(0 < len(p) <= limit for p in parts) or parts == [""]
    for p in parts:
        assert re.fullmatch(r"(?:\\x[0-9a-f]{2}|[^\\])*", p), p  # no escape cut in two
        p.encode().decode()  # noqa: B018 - ASCII
        unescape(p.encode()).encode("utf-8")  # strict: no character cut in two


def ref_event(
    seq: int, event: str, fields: list[str], key: str | None = None, value: str | None = None
) -> tuple[bytes, int]:
    return pwsh.encode_event(NONCE, seq, event, fields, key, value)


def test_every_marker_stays_short() -> None:
    cmd = "Write-Output '" + "\u00e9\u65e5x;\\" * 300 + "'"
    wire, _ = ref_event(
        99999,
        "C",
        ["src=readline", "cmdno=99999", "pid=4194304", "trunc=1", "len=16384"],
        "cmd",
        pwsh.escape_ascii(cmd),
    )
    marks = wire.split(b"\x07")[:-1]
    assert len(marks) > 10
    assert max(len(m) + 1 for m in marks) <= 200  # ConPTY on Windows 10 drops OSC strings over ~256


@pytest.mark.parametrize("seed", range(5))
def test_parts_through_the_recorder_segmenter_and_joiner(seed: int) -> None:
    rng = random.Random(seed)
    cmd = "".join(
        rng.choice(["a", " ", ";", "\\", "\u00e9", "\u65e5", "\U0001f600", "\n", "'"])
        for _ in range(rng.randint(50, 700))
    )
    cwd = "C:\\Users\\J\u00fcrgen\\x64;dir\\" + "d" * rng.randint(0, 150)
    wire = b"noise\r\n"
    seq = 0
    w, seq = ref_event(
        seq, "C", ["src=readline", "cmdno=1", "pid=77"], "cmd", pwsh.escape_ascii(cmd)
    )
    wire += w + b"output\r\n"
    w, seq = ref_event(seq, "D", ["cmdno=1", "st=3", "ok=0", "lec=3", "lec_changed=1", "err=0"])
    wire += w
    w, seq = ref_event(seq, "P", [], "cwd", pwsh.escape_ascii(cwd))
    wire += w
    w, seq = ref_event(seq, "A", [])
    wire += w + b"PS> "
    seg = Segmenter(NONCE)
    joiner = PartJoiner()
    marks: list[Mark] = []
    data = b""
    pos = 0
    while pos < len(wire):  # arbitrary chunking, as reads from a PTY
        step = rng.randint(1, 97)
        for piece in seg.feed(wire[pos : pos + step]):
            if isinstance(piece, Mark):
                m = joiner.feed(piece)
                if m is not None:
                    marks.append(m)
            else:
                data += piece
        pos += step
    data += seg.flush()
    assert data == b"noise\r\noutput\r\nPS> "
    assert [m.event for m in marks] == ["C", "D", "P", "A"]
    assert marks[0].fields == {"cmd": cmd, "src": "readline", "cmdno": "1", "pid": "77"}
    assert marks[1].fields["st"] == "3"
    assert marks[2].fields == {"cwd": cwd}
    assert seg.spoof_attempts == 0 and joiner.lost == 0


def parts(
    event: str,
    pieces: list[str],
    key: str = "cmd",
    tail: dict[str, str] | None = None,
    seq0: int = 1,
) -> list[Mark]:
    n = len(pieces)
    out = []
    for k, p in enumerate(pieces, 1):
        fields = {"part": f"{k}/{n}", key: p}
        if k == n:
            fields.update(tail or {})
        out.append(Mark(event, seq0 + k - 1, fields))
    return out


def test_joiner_passes_plain_marks_and_joins_parts() -> None:
    j = PartJoiner()
    plain = Mark("A", 1, {})
    assert j.feed(plain) is plain
    got = [j.feed(m) for m in parts("C", ["ab", "c\u00e9", "d"], tail={"src": "readline"}, seq0=2)]
    assert got[:2] == [None, None]
    assert got[2] == Mark("C", 4, {"cmd": "abc\u00e9d", "src": "readline"})
    assert j.lost == 0


def test_joiner_joins_bytes_of_a_character_cut_by_a_careless_sender() -> None:
    # unescape() turns a lone UTF-8 lead byte into a surrogate escape; joining repairs it.
    a = unescape(b"x\\xc3")
    b = unescape(b"\\xa9y")
    j = PartJoiner()
    out = [j.feed(m) for m in parts("C", [a, b])]
    assert out[1] is not None and out[1].fields["cmd"] == "x\u00e9y"


def test_joiner_lost_middle_part_still_yields_the_event() -> None:
    j = PartJoiner()
    ms = parts("C", ["a", "b", "c", "d"], tail={"src": "readline", "cmdno": "3"})
    del ms[1]
    got = [j.feed(m) for m in ms]
    assert got[:2] == [None, None]
    assert got[2] == Mark("C", 4, {"src": "readline", "cmdno": "3", "parts_lost": "1"})
    assert j.lost == 1
    # …and the next group is fine again.
    out = [j.feed(m) for m in parts("P", ["x", "y"], key="cwd", seq0=10)]
    assert out[-1] == Mark("P", 11, {"cwd": "xy"})
    assert j.lost == 1


def test_joiner_interrupted_group_is_dropped() -> None:
    j = PartJoiner()
    first = parts("C", ["a", "b", "c"])
    assert j.feed(first[0]) is None
    plain = Mark("D", 9, {"cmdno": "1"})
    assert j.feed(plain) is plain
    assert j.lost == 1
    assert j.feed(Mark("C", 10, {"part": "x/y", "cmd": "?"})) is None
    assert j.lost == 2


# -- the script itself ------------------------------------------------------------------------


@pytest.fixture
def script(tmp_path: Path) -> str:
    return pwsh.render(ctx_for(tmp_path))


def test_template_fully_rendered(script: str) -> None:
    assert not re.search(r"@[A-Z]+@", script)
    assert script.count(NONCE) == 1  # one place: the module-scope intro string
    assert f"]{OSC_NUM};{NONCE};" in script
    assert f"$script:Part = {pwsh.PART}" in script and f"$script:MaxCmd = {pwsh.MAX_CMD}" in script
    assert script.isascii()


def test_nonce_never_reaches_the_environment(script: str) -> None:
    assert "$env:" not in script.lower() and "setenvironmentvariable" not in script.lower()


def _function_body(script: str, name: str) -> list[str]:
    start = script.index(f"function global:{name}")
    lines = script[start:].splitlines()[1:]
    return [ln.strip() for ln in lines if ln.strip() and not ln.strip().startswith("#")]


def test_status_is_captured_before_anything_else(script: str) -> None:
    assert _function_body(script, "prompt")[0].startswith("$ok = $?")
    assert _function_body(script, "PSConsoleHostReadLine")[0].startswith("$lastRunStatus = $?")


def test_restored_status_reaches_the_original_prompt_untouched(script: str) -> None:
    body = _function_body(script, "prompt")
    i = next(k for k, ln in enumerate(body) if ln.startswith("if (-not $ok) { Write-Error"))
    assert body[i + 1] == "$text = -join @($orig.Invoke())"  # nothing in between may reset $?
    rl = _function_body(script, "PSConsoleHostReadLine")
    j = next(
        k for k, ln in enumerate(rl) if ln.startswith("if (-not $lastRunStatus) { Write-Error")
    )
    assert rl[j + 1] == "$line = & $script:OrigReadLine"


def test_lastexitcode_is_put_back(script: str) -> None:
    body = "\n".join(_function_body(script, "prompt"))
    assert "finally {" in body and "$global:LASTEXITCODE = $lec" in body


def test_language_mode_checked_first(script: str) -> None:
    code = [ln for ln in script.splitlines() if ln.strip() and not ln.startswith("#")]
    assert (
        code[0] == "if ($ExecutionContext.SessionState.LanguageMode -ne 'FullLanguage') { return }"
    )


def test_script_parses_as_powershell(script: str) -> None:
    ts = require_module("tree_sitter")
    tsp = require_module("tree_sitter_pwsh")
    parser = ts.Parser(ts.Language(tsp.language()))
    tree = parser.parse(script.encode())
    errors: list[tuple[int, int]] = []

    def walk(node: object) -> None:
        n = node  # type: ignore[assignment]
        if n.type == "ERROR" or n.is_missing:  # type: ignore[attr-defined]
            errors.append(n.start_point)  # type: ignore[attr-defined]
        for c in n.children:  # type: ignore[attr-defined]
            walk(c)

    walk(tree.root_node)
    assert errors == [], [script.splitlines()[r] for r, _ in errors]
    for literal in (
        pwsh.command_arg("C:\\a b\\O'Brien\u2019s\\init.ps1", "pwsh"),
        pwsh.command_arg("C:\\x\\init.ps1", "powershell"),
    ):
        assert not parser.parse(literal.encode()).root_node.has_error
