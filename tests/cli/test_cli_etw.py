"""``cfsession etw info|status|decode`` through the real Typer app, in process."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cfsession.cli import app, run
from cfsession.etw import CAPTURE_ENV
from cfsession.sinks.etw import EtwSink

SID = "6f1c2d3e-5a6b-4c7d-8e9f-0a1b2c3d4e5f"
runner = CliRunner()


@pytest.fixture(autouse=True)
def _no_capture_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(CAPTURE_ENV, raising=False)
    monkeypatch.setenv("COLUMNS", "200")


def record_capture(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CAPTURE_ENV, str(path))
    s = EtwSink(session_id=SID, parent_session_id=None, enabled=True, platform="linux")
    s.write(
        {
            "event_type": "session_start",
            "started_at": "2025-01-02T03:04:05.6789012Z",
            "correlation_id": "cf-1",
        }
    )
    s.write(
        {
            "event_type": "terminal_capture",
            "command": "printf '\\033]52;c;aGk=\\a'",
            "output": "\x1b]52;c;aGk=\x07",
            "duration_ms": 3,
            "exit_code": 1,
            "cwd": "/tmp",
        }
    )
    s.write({"event_type": "session_end", "command_count": 1, "duration_ms": 10})
    s.close()
    monkeypatch.delenv(CAPTURE_ENV)


def test_info_names_provider_keywords_levels_and_commands() -> None:
    result = runner.invoke(app, ["etw", "info"])
    assert result.exit_code == 0, result.output
    out = result.output
    for text in (
        "ContextForge.LoggingInfrastructure",
        "{c2c708fe-52f2-5085-bf82-c9c2c3c2d198}",
        "0x1  SESSION",
        "0x2  ACHIEVEMENT",
        "0x4  TERMINAL",
        "0x8  VALIDATION",
        "Level     4 (Informational)",
        "Channel   11",
        "ETW here  unavailable: not Windows",
        "tracelog -start cfs -f cfs.etl -guid *ContextForge.LoggingInfrastructure -level 5 -matchanykw 0xF",
        "tracefmt -o cfs.txt cfs.etl",
        "wpr -start cfsession.wprp -filemode",
        "PerfView /OnlyProviders=*ContextForge.LoggingInfrastructure collect",
        f"set {CAPTURE_ENV}=FILE",
    ):
        assert text in out, text


def test_bare_etw_is_info() -> None:
    assert runner.invoke(app, ["etw"]).output == runner.invoke(app, ["etw", "info"]).output


def test_info_json() -> None:
    data = json.loads(runner.invoke(app, ["etw", "info", "--json"]).output)
    assert data["guid"] == "c2c708fe-52f2-5085-bf82-c9c2c3c2d198"
    assert data["keywords"] == {
        "SESSION": "0x1",
        "ACHIEVEMENT": "0x2",
        "TERMINAL": "0x4",
        "VALIDATION": "0x8",
    }
    assert (data["level"], data["channel"], data["etw"]) == (4, 11, "unavailable: not Windows")


def test_info_wprp_is_a_profile_for_the_provider() -> None:
    import xml.etree.ElementTree as ET

    root = ET.fromstring(runner.invoke(app, ["etw", "info", "--wprp"]).output)
    provider = root.find("./Profiles/EventProvider")
    assert provider is not None and provider.get("Name") == "*ContextForge.LoggingInfrastructure"
    assert root.find("./Profiles/EventProvider/Keywords/Keyword").get("Value") == "0xF"  # type: ignore[union-attr]


def test_status(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert runner.invoke(app, ["etw", "status"]).output == (
        f"etw: unavailable: not Windows\ncapture: off ({CAPTURE_ENV} not set)\n"
    )
    monkeypatch.setenv(CAPTURE_ENV, str(tmp_path / "c.jsonl"))
    data = json.loads(runner.invoke(app, ["etw", "status", "--json"]).output)
    assert data == {"etw": "unavailable: not Windows", "capture_file": str(tmp_path / "c.jsonl")}
    assert not (tmp_path / "c.jsonl").exists()


def test_decode_json(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "cap.jsonl"
    record_capture(path, monkeypatch)
    result = runner.invoke(app, ["etw", "decode", str(path), "--json"])
    assert result.exit_code == 0
    events = json.loads(result.output)
    assert [e["event"] for e in events] == ["SessionStart", "TerminalCapture", "SessionEnd"]
    assert events[0]["fields"] == {
        "SessionType": "interactive",
        "CorrelationId": "cf-1",
        "StartTime": "2025-01-02T03:04:05.6789012Z",
    }
    assert events[1]["fields"]["SessionId"] == SID
    assert events[1]["fields"]["ExitCode"] == 1
    assert events[2]["activity_id"] == SID


def test_decode_table_escapes_control_sequences(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "cap.jsonl"
    record_capture(path, monkeypatch)
    result = runner.invoke(app, ["etw", "decode", str(path)])
    assert result.exit_code == 0
    assert "TerminalCapture" in result.output and "3 event(s)" in result.output
    assert "\x1b" not in result.output and "\x07" not in result.output
    assert "\\x1b]52;c;aGk=\\x07" in result.output


def test_decode_bad_lines_are_named_and_skipped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "cap.jsonl"
    record_capture(path, monkeypatch)
    with path.open("a") as fh:
        fh.write("{not json\n")
    code = run(["etw", "decode", str(path), "--json"])
    out, err = capsys.readouterr()
    assert code == 1
    assert len(json.loads(out)) == 3
    assert (
        err
        == f"cfsession: {path} line 4: not JSON (Expecting property name enclosed in double quotes) — line skipped\n"
    )


def test_decode_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = run(["etw", "decode", str(tmp_path / "nope.jsonl")])
    assert code == 1
    assert capsys.readouterr().err == (
        f"cfsession: cannot read {tmp_path / 'nope.jsonl'}: No such file or directory — is {CAPTURE_ENV} pointing at it?\n"
    )


def test_decode_reads_stdin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "cap.jsonl"
    record_capture(path, monkeypatch)
    result = runner.invoke(app, ["etw", "decode", "-", "--json"], input=path.read_text())
    assert [e["event"] for e in json.loads(result.output)] == [
        "SessionStart",
        "TerminalCapture",
        "SessionEnd",
    ]


def test_every_etw_command_has_help() -> None:
    for cmd in ("info", "status", "decode"):
        result = runner.invoke(app, ["etw", cmd, "--help"])
        assert result.exit_code == 0 and "Usage" in result.output
