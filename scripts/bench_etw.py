#!/usr/bin/env python3
"""What one TerminalCapture event costs the recorder (DESIGN.md §7: ≤ 50 µs enabled, ≤ 2 µs idle).

Each figure is ``EtwSink.write(record)`` for a realistic ``terminal_capture`` record,
timed over ``n`` calls and repeated; the median per call is reported in µs:

* ``enabled_encode_us``: build the event and hand it to an emitter that accepts and
  drops it (the encoder's cost);
* ``enabled_capture_us``: the same, appended to a capture-seam file (``CFSESSION_ETW_CAPTURE``);
* ``enabled_ctypes_us``: the same through the ctypes emitter against a fake advapi32 whose
  functions return at once (the cost of building the ctypes descriptors and arguments;
  ETW's own kernel-side cost is not in it);
* ``no_listener_us``: the early-out when nobody listens (``EventProviderEnabled`` says no),
  ctypes emitter over the fake advapi32;
* ``unavailable_us``: ETW unavailable (Linux without the seam, ``--no-etw``);
* on Windows also ``real_no_listener_us``: the early-out against the real advapi32.

Usage: ``python scripts/bench_etw.py [N]``; ``scripts/bench.py`` calls :func:`run`.
"""

from __future__ import annotations

import importlib
import statistics
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType
from typing import Any

from cfsession.etw import NullEmitter
from cfsession.etw.capture import CaptureEmitter
from cfsession.sinks.etw import EtwSink

SESSION_ID = "6f1c2d3e-5a6b-4c7d-8e9f-0a1b2c3d4e5f"
RECORD = {
    "event_type": "terminal_capture",
    "command": "ls -la /usr/lib/python3/dist-packages",
    "output": (
        "drwxr-xr-x  5 root root  4096 Jan  2 03:04 package-é-✓\n" * 60
    ),  # ~3.4 K chars, capped to 1000
    "duration_ms": 12.345,
    "exit_code": 0,
    "cwd": "/home/user/projects/cfsession",
}
REPEATS = 7


class _Accept:
    status = "enabled"

    def is_enabled(self, level: int, keyword: int) -> bool:
        return True

    def write(
        self, event: Any, payload: bytes, activity_id: bytes, related_id: bytes | None
    ) -> None:
        return None

    def close(self) -> None:
        return None


class _FakeFunction:
    def __init__(self, result: Any) -> None:
        self.result = result
        self.argtypes: Any = None
        self.restype: Any = None

    def __call__(self, *args: Any) -> Any:
        return self.result


class _FakeRegister(_FakeFunction):
    def __call__(self, guid: Any, callback: Any, context: Any, handle: Any) -> int:
        handle.contents.value = 1
        return 0


class _FakeAdvapi32:
    """Returns at once; EventRegister fills in a handle."""

    def __init__(self, listening: bool) -> None:
        self.EventRegister = _FakeRegister(0)
        self.EventUnregister = _FakeFunction(0)
        self.EventSetInformation = _FakeFunction(0)
        self.EventProviderEnabled = _FakeFunction(int(listening))
        self.EventWriteTransfer = _FakeFunction(0)


def _advapi32_module() -> ModuleType:
    # The module refuses to import off Windows; only its import is made to believe otherwise.
    name = "cfsession.etw._advapi32"
    if name in sys.modules:
        return sys.modules[name]
    real = sys.platform
    sys.platform = "win32"
    try:
        return importlib.import_module(name)
    finally:
        sys.platform = real


def _time_per_call(sink: EtwSink, n: int) -> float:
    write = sink.write
    record = RECORD
    runs = []
    for _ in range(REPEATS):
        t = time.perf_counter_ns()
        for _ in range(n):
            write(record)
        runs.append((time.perf_counter_ns() - t) / n / 1000)
    if sink.failed:
        raise RuntimeError(f"the sink failed: {sink.failed}")
    return statistics.median(runs)


def _sink(emitter: Any) -> EtwSink:
    return EtwSink(session_id=SESSION_ID, parent_session_id=None, enabled=True, emitter=emitter)


def run(n: int = 2000) -> dict[str, float]:
    """Median µs per ``EtwSink.write`` of one TerminalCapture record, per scenario."""
    adv = _advapi32_module()
    out: dict[str, float] = {}
    out["enabled_encode_us"] = _time_per_call(_sink(_Accept()), n)
    with tempfile.TemporaryDirectory() as tmp:
        emitter = CaptureEmitter(Path(tmp) / "etw.jsonl")
        out["enabled_capture_us"] = _time_per_call(_sink(emitter), n)
        emitter.close()
    out["enabled_ctypes_us"] = _time_per_call(_sink(adv.Advapi32Emitter(_FakeAdvapi32(True))), n)
    out["no_listener_us"] = _time_per_call(_sink(adv.Advapi32Emitter(_FakeAdvapi32(False))), n)
    out["unavailable_us"] = _time_per_call(_sink(NullEmitter("unavailable: not Windows")), n)
    if sys.platform == "win32":
        real = adv.Advapi32Emitter()
        if not real.is_enabled(4, 0x4):
            out["real_no_listener_us"] = _time_per_call(_sink(real), n)
        real.close()
    return {k: round(v, 3) for k, v in out.items()}


def main(argv: list[str]) -> int:
    n = int(argv[0]) if argv else 2000
    results = run(n)
    width = max(map(len, results))
    print(
        f"ETW, µs per TerminalCapture write (median of {REPEATS} × {n}; targets: enabled ≤ 50, idle ≤ 2)"
    )
    for key, value in results.items():
        print(f"  {key:<{width}}  {value:8.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
