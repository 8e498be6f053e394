"""Windows integrations through the shared segmenter and session: the wire forms that
PowerShell and cmd.exe send (built with the integrations' own reference encoders)."""

from __future__ import annotations

from typing import Any

from cfsession.segmenter import Mark, Segmenter
from cfsession.session import Session
from cfsession.shell.pwsh import encode_event, escape_ascii
from tests.fakes import ListSink

NONCE = "ab" * 16



def feed(stream: bytes, *, unsequenced: bool = False) -> list[dict[str, Any]]:
    sink = ListSink()
    session = Session(session_id="s", start_epoch=0.0, cast=None, sinks=[sink])
    seg = Segmenter(NONCE, unsequenced=unsequenced)
    t = 0.0
    # Feed in small chunks, as ConPTY hands them out.
    for i in range(0, len(stream), 7):
        t += 0.01
        for piece in seg.feed(stream[i : i + 7]):
            if isinstance(piece, Mark):
                session.mark(piece, t)
            else:
                session.data(piece, t)
    session.finish(t + 0.01, 0, "exit")
    return [r for r in sink.records if r["event_type"] == "terminal_capture"]


def pwsh_prompt(seq: int, cwd: str, **d: str) -> tuple[bytes, int]:
    out = b""
    fields = [f"{k}={v}" for k, v in d.items()]
    b, seq = encode_event(NONCE, seq, "D", fields)
    out += b
    b, seq = encode_event(NONCE, seq, "P", [], key="cwd", value=escape_ascii(cwd))
    out += b
    b, seq = encode_event(NONCE, seq, "A", [])
    return out + b + b"PS> ", seq


def test_pwsh_long_command_in_parts_and_exit_codes() -> None:
    long_cmd = "Write-Output '" + "é" * 300 + "'"
    s, seq = encode_event(NONCE, 0, "H", ["shell=pwsh", "proto=1"])
    b, seq = pwsh_prompt(seq, r"C:\Users\me")
    s += b
    b, seq = encode_event(NONCE, seq, "C", ["src=readline", "cmdno=1"], key="cmd", value=escape_ascii(long_cmd))
    s += b + ("é" * 300 + "\r\n").encode()
    b, seq = pwsh_prompt(seq, r"C:\Users\me\dir;x", st="0")
    s += b
    b, seq = encode_event(NONCE, seq, "C", ["src=readline"], key="cmd", value=escape_ascii("cmd /c exit 3"))
    s += b
    b, seq = pwsh_prompt(seq, r"C:\Users\me\dir;x", st="3", ok="False", lec="3")
    s += b
    (a, c) = feed(s)
    assert a["command"] == long_cmd and a["exit_code"] == 0 and a["anomalies"] == []
    assert a["output"] == "é" * 300 + "\n"
    assert a["cwd"] == r"C:\Users\me" and a["cwd_end"] == r"C:\Users\me\dir;x"
    assert (c["command"], c["exit_code"]) == ("cmd /c exit 3", 3)


def test_pwsh_late_command_owns_output_since_prompt() -> None:
    s, seq = encode_event(NONCE, 0, "H", ["shell=powershell"])
    b, seq = pwsh_prompt(seq, "C:\\")
    s += b + b"dir\r\nfile-a\r\n"
    # No PSReadLine: the command is reported at the next prompt, after its output.
    b, seq = encode_event(NONCE, seq, "C", ["src=history", "late=1"], key="cmd", value="dir")
    s += b
    b, seq = pwsh_prompt(seq, "C:\\", st="")  # ran, status unknown
    s += b
    (c,) = feed(s)
    assert c["command"] == "dir" and c["exit_code"] is None
    assert "file-a" in c["output"]


def test_pwsh_lost_part_still_closes_the_command() -> None:
    s, seq = encode_event(NONCE, 0, "H", [])
    b, seq = pwsh_prompt(seq, "C:\\")
    s += b
    parts, seq = encode_event(NONCE, seq, "C", ["src=readline"], key="cmd", value="x" * 500)
    pieces = parts.split(b"\x07")[:-1]
    s += b"\x07".join(pieces[:1] + pieces[2:]) + b"\x07"  # part 2 of 3 vanished (ConPTY)
    b, seq = pwsh_prompt(seq, "C:\\", st="0")
    s += b
    (c,) = feed(s)
    assert c["command"] is None and "parts_lost" in c["anomalies"] and c["exit_code"] == 0


def cmd_prompt(path: str) -> bytes:
    m = f"\x1b]6973;{NONCE};0;"
    return (
        f"{m}H;shell=cmd;proto=1;rich=0\x1b\\{m}D\x1b\\{m}P;rawcwd={path}\x1b\\{m}A\x1b\\{path}>{m}B\x1b\\"
    ).encode()


def test_cmd_boundaries_without_clink() -> None:
    s = cmd_prompt(r"C:\Users\me")
    s += b"dir\r\n Volume in drive C\r\n\r\n"
    s += cmd_prompt(r"C:\Users\me")
    s += b"\r\n"  # empty Enter: dropped
    s += cmd_prompt(r"C:\Temp;odd")
    cmds = feed(s, unsequenced=True)
    assert len(cmds) == 1
    (c,) = cmds
    assert c["command"] is None and c["exit_code"] is None and c["command_source"] == "boundary"
    assert "Volume in drive C" in c["output"]
    assert c["cwd"] == r"C:\Users\me" and c["command_seq"] == 1
