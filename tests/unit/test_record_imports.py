"""What the recorder loads before the shell's first prompt stays small: launch to prompt
is a DESIGN.md §7 target, and a module pulled in here is paid at every start."""

from __future__ import annotations

import subprocess
import sys

# The modules the recorder's own process imports on its way to the first prompt (the
# bookkeeping child imports the redaction engine and the rest after its fork).
BEFORE_PROMPT = (
    "cfsession.recorder.main",
    "cfsession.recorder.launch",
    "cfsession.recorder.wiring",
    "cfsession.recorder.bookkeeper",
    "cfsession.recorder.loop",
    "cfsession.shell",
    "cfsession.segmenter",
    "cfsession.session",
    "cfsession.sinks.jsonl",
    "cfsession.sinks.cast",
    "cfsession.anchor",
    "cfsession.sinks.etw",
)
# Each costs milliseconds here: dataclasses brings inspect, ast and dis (~8 ms); re2 and
# the redaction patterns ~15 ms; datetime ~1.5 ms (the ETW sink needs it per event only).
HEAVY = ("dataclasses", "inspect", "re2", "cfsession.redact", "rich", "typer", "datetime")


def test_the_path_to_the_first_prompt_loads_no_heavy_module() -> None:
    code = (
        "import importlib, sys\n"
        f"for m in {BEFORE_PROMPT!r}: importlib.import_module(m)\n"
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
