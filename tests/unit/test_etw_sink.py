"""EtwSink: records → events, the caps and conversions, status values, failure containment."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from cfsession.etw import CAPTURE_ENV
from cfsession.etw import _tracelogging as tl
from cfsession.etw.decode import DecodedEvent, decode_payload, parse_metadata, read_capture
from cfsession.sinks.etw import (
    COMMAND_MAX_UNITS,
    CWD_MAX_UNITS,
    OUTPUT_MAX_UNITS,
    EtwSink,
    exit_code_int32,
    filetime_of,
    round_clamp,
)

SID = "6f1c2d3e-5a6b-4c7d-8e9f-0a1b2c3d4e5f"
PARENT = "d0e1f2a3-b4c5-4d6e-8f70-8192a3b4c5d6"


class FakeEmitter:
    """Accepts every event (or none); records what the sink hands over."""

    status = "enabled"

    def __init__(self, listening: bool = True, fail: Exception | None = None) -> None:
        self.listening = listening
        self.fail = fail
        self.checks: list[tuple[int, int]] = []
        self.writes: list[tuple[tl.EventType, bytes, bytes, bytes | None]] = []
        self.closed = 0

    def is_enabled(self, level: int, keyword: int) -> bool:
        self.checks.append((level, keyword))
        return self.listening

    def write(
        self, event: tl.EventType, payload: bytes, activity_id: bytes, related_id: bytes | None
    ) -> None:
        if self.fail is not None:
            raise self.fail
        self.writes.append((event, payload, activity_id, related_id))

    def close(self) -> None:
        self.closed += 1

    def decoded(self, i: int) -> dict[str, Any]:
        event, payload, _, _ = self.writes[i]
        return {f.name: f.value for f in decode_payload(parse_metadata(event.metadata), payload)}


def sink(
    emitter: FakeEmitter | None = None, **kw: Any
) -> tuple[EtwSink, FakeEmitter, list[tuple[str, str]]]:
    emitter = emitter or FakeEmitter()
    warnings: list[tuple[str, str]] = []
    s = EtwSink(
        session_id=kw.pop("session_id", SID),
        parent_session_id=kw.pop("parent_session_id", None),
        enabled=kw.pop("enabled", True),
        on_warning=lambda code, msg: warnings.append((code, msg)),
        emitter=emitter,
        **kw,
    )
    return s, emitter, warnings


def capture(command: Any = "ls", output: Any = "", **kw: Any) -> dict[str, Any]:
    rec = {
        "event_type": "terminal_capture",
        "command": command,
        "output": output,
        "duration_ms": 1.0,
        "exit_code": 0,
        "cwd": "/",
    }
    rec.update(kw)
    return rec


@pytest.fixture(autouse=True)
def _no_capture_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(CAPTURE_ENV, raising=False)


# --- status -----------------------------------------------------------------------------


def test_off_windows_without_capture_is_unavailable_and_free(tmp_path: Path) -> None:
    s = EtwSink(session_id=SID, parent_session_id=None, enabled=True, platform="linux")
    assert s.status == "unavailable: not Windows"
    s.write(capture())
    s.close()


def test_no_etw_flag_disables_even_with_capture(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(CAPTURE_ENV, str(tmp_path / "cap.jsonl"))
    s = EtwSink(session_id=SID, parent_session_id=None, enabled=False)
    assert s.status == "disabled"
    s.write(capture())
    s.close()
    assert not (tmp_path / "cap.jsonl").exists()


def test_capture_env_enables_on_any_os(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CAPTURE_ENV, str(tmp_path / "cap.jsonl"))
    s = EtwSink(session_id=SID, parent_session_id=None, enabled=True, platform="linux")
    assert s.status == "enabled (capture)"
    s.write(capture("echo hi", "hi\n"))
    s.close()
    [ev] = read_capture(tmp_path / "cap.jsonl")
    assert ev.values()["Command"] == "echo hi"


def test_windows_platform_without_advapi32_is_unavailable() -> None:
    s = EtwSink(session_id=SID, parent_session_id=None, enabled=True, platform="win32")
    if sys.platform != "win32":
        assert s.status.startswith("unavailable: ")
        assert "Windows" in s.status


def test_bad_session_id_makes_the_sink_unavailable() -> None:
    s, fake, _ = sink(session_id="not-a-guid")
    assert s.status == "unavailable: session id is not a GUID"
    assert fake.closed == 1
    s.write(capture())
    assert fake.writes == []


def test_bad_parent_id_only_drops_the_related_id() -> None:
    s, fake, _ = sink(parent_session_id="garbage")
    s.write({"event_type": "session_start"})
    assert s.status == "enabled" and fake.writes[0][3] is None


def test_import_is_light() -> None:
    code = (
        "import sys, cfsession.sinks.etw as m;"
        f"s = m.EtwSink(session_id='{SID}', parent_session_id=None, enabled=True, platform='linux');"
        "s.write({'event_type': 'terminal_capture'});"
        "print(sorted(k for k in ('ctypes', 'cfsession.etw._tracelogging', 'cfsession.etw.capture', 'hashlib') if k in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env={"PATH": ""}
    )
    assert out.stdout.strip() == "[]"


# --- mapping ----------------------------------------------------------------------------


def test_session_start_fields_and_ids() -> None:
    s, fake, _ = sink(parent_session_id=PARENT)
    s.write(
        {
            "event_type": "session_start",
            "session_type": "ci",
            "correlation_id": "cf-1",
            "started_at": "2025-01-02T03:04:05.678901Z",
        }
    )
    event, _, activity, related = fake.writes[0]
    assert event is tl.SESSION_START
    assert fake.decoded(0) == {
        "SessionType": "ci",
        "CorrelationId": "cf-1",
        "StartTime": 133802606456789010,
    }
    assert activity == uuid.UUID(SID).bytes_le
    assert related == uuid.UUID(PARENT).bytes_le


def test_session_start_defaults() -> None:
    s, fake, _ = sink()
    s.write({"event_type": "session_start", "started_at": "2025-01-02T03:04:05Z"})
    assert fake.decoded(0)["SessionType"] == "interactive"
    assert fake.decoded(0)["CorrelationId"] == SID
    assert fake.writes[0][3] is None  # no parent, no related id


def test_terminal_capture_fields() -> None:
    s, fake, _ = sink(parent_session_id=PARENT)
    s.write(capture("make", "ok\r\n", duration_ms=12.5, exit_code=2, cwd="/src"))
    event, _, activity, related = fake.writes[0]
    assert event is tl.TERMINAL_CAPTURE
    assert fake.decoded(0) == {
        "Command": "make",
        "Output": "ok\r\n",
        "DurationMs": 13,
        "SessionId": uuid.UUID(SID),
        "ExitCode": 2,
        "Cwd": "/src",
    }
    assert activity == uuid.UUID(SID).bytes_le
    assert related is None  # the related id goes on SessionStart only (FORMAT.md §9.13)


def test_terminal_capture_matches_the_vector_encoding() -> None:
    s, fake, _ = sink()
    s.write(capture("ls -la", "total 0\r\n", duration_ms=12, exit_code=0, cwd="/home/user"))
    want = tl.TERMINAL_CAPTURE.encode(["ls -la", "total 0\r\n", 12, SID, 0, "/home/user"])
    assert fake.writes[0][1] == want


def test_null_command_and_exit_code() -> None:
    s, fake, _ = sink()
    s.write(capture(None, None, exit_code=None, cwd=None, duration_ms=None))
    assert fake.decoded(0) | {"SessionId": None} == {
        "Command": "",
        "Output": "",
        "DurationMs": 0,
        "SessionId": None,
        "ExitCode": -1,
        "Cwd": "",
    }


def test_session_end_fields() -> None:
    s, fake, _ = sink(parent_session_id=PARENT)
    s.write({"event_type": "session_end", "command_count": 42, "duration_ms": 3723004.4})
    assert fake.decoded(0) == {
        "SessionId": uuid.UUID(SID),
        "CommandCount": 42,
        "DurationMs": 3723004,
    }
    assert fake.writes[0][3] is None


def test_session_end_counts_commands_when_the_record_does_not() -> None:
    s, fake, _ = sink()
    for _ in range(3):
        s.write(capture())
    s.write({"event_type": "session_end", "duration_ms": 5})
    assert fake.decoded(3)["CommandCount"] == 3


def test_other_records_are_ignored() -> None:
    s, fake, _ = sink()
    for kind in ("resize", "marker", "integration", "warning", None):
        s.write({"event_type": kind})
    assert fake.writes == [] and fake.checks == []


def test_keywords_and_level_checked_per_event() -> None:
    s, fake, _ = sink()
    s.write({"event_type": "session_start"})
    s.write(capture())
    s.write({"event_type": "session_end"})
    assert fake.checks == [(4, 0x1), (4, 0x4), (4, 0x1)]
    assert [w[0].descriptor_fields() for w in fake.writes] == [
        {"id": 0, "version": 0, "channel": 11, "level": 4, "opcode": 0, "task": 0, "keyword": k}
        for k in (0x1, 0x4, 0x1)
    ]


def test_no_listener_builds_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    s, fake, _ = sink(FakeEmitter(listening=False))
    monkeypatch.setattr(s, "_terminal_capture", lambda r: pytest.fail("payload built"))
    s.write(capture())
    assert fake.writes == [] and fake.checks == [(4, 0x4)]


# --- text caps --------------------------------------------------------------------------


def test_output_capped_at_1000_utf16_units() -> None:
    s, fake, _ = sink()
    s.write(capture(output="x" * 5000))
    assert fake.decoded(0)["Output"] == "x" * OUTPUT_MAX_UNITS


def test_output_cap_never_splits_a_surrogate_pair() -> None:
    s, fake, _ = sink()
    s.write(capture(output="a" * 999 + "😀" + "b"))  # the pair would be units 1000 and 1001
    assert fake.decoded(0)["Output"] == "a" * 999
    s.write(capture(output="a" * 998 + "😀" + "b"))  # the pair fits exactly
    assert fake.decoded(1)["Output"] == "a" * 998 + "😀"


def test_astral_text_counts_two_units() -> None:
    s, fake, _ = sink()
    s.write(capture(output="😀" * 600))
    assert fake.decoded(0)["Output"] == "😀" * 500


def test_lone_surrogates_become_replacement_characters() -> None:
    s, fake, _ = sink()
    raw = b"caf\xe9 \xff".decode("utf-8", "surrogateescape")  # what a PTY decoder may leave
    s.write(capture(raw, raw, cwd="/tmp/" + raw))
    values = fake.decoded(0)
    assert values["Command"] == values["Output"] == "caf\ufffd \ufffd"
    assert values["Cwd"] == "/tmp/caf\ufffd \ufffd"


def test_surrogate_pair_as_two_code_points_survives() -> None:
    s, fake, _ = sink()
    s.write(capture("\ud83d\ude00", "x"))  # e.g. from surrogatepass decoding
    assert fake.decoded(0)["Command"] == "😀"


def test_nuls_are_removed() -> None:
    s, fake, _ = sink()
    s.write(capture("printf 'a\\0b'", "a\x00b", cwd="/\x00x"))
    assert (fake.decoded(0)["Output"], fake.decoded(0)["Cwd"]) == ("ab", "/x")


def test_command_and_cwd_are_capped() -> None:
    s, fake, _ = sink()
    s.write(capture("c" * 100_000, "o", cwd="d" * 100_000))
    values = fake.decoded(0)
    assert (len(values["Command"]), len(values["Cwd"])) == (COMMAND_MAX_UNITS, CWD_MAX_UNITS)


def test_largest_possible_event_stays_far_below_64_kb() -> None:
    s, fake, _ = sink()
    s.write(capture("😀" * 100_000, "😀" * 100_000, cwd="😀" * 100_000))
    event, payload, _, _ = fake.writes[0]
    traits = tl.provider_traits("ContextForge.LoggingInfrastructure")
    header_allowance = 1024  # EVENT_HEADER + extended items (activity ids, …) are well under this
    assert len(traits) + len(event.metadata) + len(payload) + header_allowance < 32 * 1024


# --- numbers ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "want"),
    [
        (12.5, 13),
        (12.4999, 12),
        (0.5, 1),
        (-3, 0),
        (-0.2, 0),
        (math.nan, 0),
        (math.inf, 2**32 - 1),
        (5e9, 2**32 - 1),
        (None, 0),
        ("12", 0),
        (True, 0),
        (7, 7),
        (2**40, 2**32 - 1),
    ],
)
def test_round_clamp_u32(value: Any, want: int) -> None:
    assert round_clamp(value, 2**32 - 1) == want


def test_round_clamp_u64_keeps_large_integers_exact() -> None:
    assert round_clamp(81985529216486895, 2**64 - 1) == 81985529216486895


@pytest.mark.parametrize(
    ("value", "want"),
    [
        (0, 0),
        (1, 1),
        (255, 255),
        (-15, -15),
        (None, -1),
        (True, -1),
        ("0", -1),
        (3.0, 3),
        (2.5, -1),
        (3221225477, -1073741819),
        (2**32 - 1, -1),
        (2**32, -1),
        (-(2**31), -(2**31)),
        (-(2**31) - 1, -1),
    ],
)
def test_exit_code_int32(value: Any, want: int) -> None:
    assert exit_code_int32(value) == want


@pytest.mark.parametrize(
    ("value", "want"),
    [
        ("2025-01-02T03:04:05.6789012Z", 133802606456789012),
        ("2025-01-02T03:04:05.678901Z", 133802606456789010),
        ("2025-01-02T03:04:05Z", 133802606450000000),
        ("2025-01-02T04:04:05.6789012+01:00", 133802606456789012),
        ("2025-01-01T22:04:05.6789012-05:00", 133802606456789012),
        ("2025-01-02T03:04:05.678901234Z", 133802606456789012),  # beyond 100 ns: cut, not rounded
        ("1970-01-01T00:00:00Z", 116444736000000000),
    ],
)
def test_filetime_of_rfc3339(value: str, want: int) -> None:
    assert filetime_of(value) == want


@pytest.mark.parametrize("value", [None, "yesterday", "2025-13-01T00:00:00Z", 12])
def test_filetime_of_garbage_is_now(value: Any) -> None:
    now = time.time_ns() // 100 + 116444736000000000
    assert abs(filetime_of(value) - now) < 10**8  # 10 s


# --- failures ---------------------------------------------------------------------------


def test_write_failure_warns_once_and_disables() -> None:
    s, fake, warnings = sink(FakeEmitter(fail=OSError(87, "EventWriteTransfer failed (error 87)")))
    s.write(capture())
    s.write(capture())
    s.write({"event_type": "session_end"})
    assert warnings == [
        (
            "etw_failed",
            "ETW events stopped: [Errno 87] EventWriteTransfer failed (error 87); the recording goes on",
        )
    ]
    assert s.failed is not None
    assert fake.closed == 1
    assert len(fake.checks) == 1
    s.close()
    assert fake.closed == 1


def test_failure_in_is_enabled_or_encoding_is_contained() -> None:
    class Boom(FakeEmitter):
        def is_enabled(self, level: int, keyword: int) -> bool:
            raise RuntimeError("boom")

    s, _, warnings = sink(Boom())
    s.write(capture())
    assert [w[0] for w in warnings] == ["etw_failed"]


def test_broken_warning_callback_does_not_raise() -> None:
    def bad(code: str, msg: str) -> None:
        raise ValueError("callback broke")

    s = EtwSink(
        session_id=SID,
        parent_session_id=None,
        enabled=True,
        on_warning=bad,
        emitter=FakeEmitter(fail=OSError("x")),
    )
    s.write(capture())
    assert s.failed == "x"


def test_failure_without_callback_is_silent() -> None:
    s = EtwSink(
        session_id=SID, parent_session_id=None, enabled=True, emitter=FakeEmitter(fail=OSError("x"))
    )
    s.write(capture())
    s.write(capture())


def test_close_failure_warns() -> None:
    class BadClose(FakeEmitter):
        def close(self) -> None:
            raise OSError("unregister failed")

    s, _, warnings = sink(BadClose())
    s.close()
    s.close()
    assert [w[0] for w in warnings] == ["etw_failed"]


def test_capture_file_round_trip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "cap.jsonl"
    monkeypatch.setenv(CAPTURE_ENV, str(path))
    s = EtwSink(session_id=SID, parent_session_id=PARENT, enabled=True, platform="linux")
    s.write({"event_type": "session_start", "started_at": "2025-01-02T03:04:05Z"})
    s.write(capture("echo é", "é\n", exit_code=None))
    s.write({"event_type": "session_end", "command_count": 1, "duration_ms": 10})
    s.close()
    events: list[DecodedEvent] = read_capture(path)
    assert [e.event_name for e in events] == ["SessionStart", "TerminalCapture", "SessionEnd"]
    assert {e.activity_id for e in events} == {SID}
    assert [e.related_activity_id for e in events] == [PARENT, None, None]
    assert events[1].values()["ExitCode"] == -1
    assert json.loads(path.read_text().splitlines()[1])["descriptor"]["keyword"] == 4
