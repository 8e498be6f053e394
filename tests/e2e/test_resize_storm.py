"""A resize storm during heavy, secret-shaped output loses nothing (issue: bookkeeping pipe).

~50 SIGWINCH a second reach the recorder through its real PTY while a command prints
megabytes that keep the bookkeeping busy (every line redacted three times). A handler
that wrote into the bookkeeping pipe while the loop's own write had returned short cut
frames in two: the child lost step, most output and the ``session_end``, and frame bytes
showed as screen output. Both bookkeeping modes must come out whole.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cfsession.verify import INTACT, verify_session
from tests import pty_harness as h
from tests import storm
from tests.conftest import require_shell

pytestmark = pytest.mark.pty

LINES = 120_000  # ~11 MB through the PTY


@pytest.mark.timeout(400)
@pytest.mark.parametrize("mode", ["process", "inline"])
def test_resize_storm_during_a_flood_loses_nothing(tmp_path: Path, mode: str) -> None:
    require_shell("bash")
    home, cf_home = tmp_path / "home", tmp_path / "cf"
    home.mkdir()
    got = storm.run(home, cf_home, LINES, mode)
    assert got["exit"] == 0
    assert got["resizes"] >= 20  # the storm did happen while the flood ran

    (path,) = h.sessions(cf_home)
    recs = h.load(path)
    kinds = [r["event_type"] for r in recs]
    assert kinds[-1] == "session_end" and recs[-1]["reason"] == "exit"
    assert "resize" in kinds
    framing = [r for r in recs if r["event_type"] == "warning"]
    assert framing == []
    (flood,) = [r for r in recs if r["event_type"] == "terminal_capture" and "flood.py" in (r["command"] or "")]
    assert flood["exit_code"] == 0
    assert flood["output_length"] == storm.flood_bytes(LINES)
    assert "hunter2" not in flood["output"] and "[REDACTED:" in flood["output"]
    assert verify_session(path).status == INTACT

    # The .cast holds every flood line once and in order, and nothing else between them
    # that was not output (no frame heads: those carry NUL bytes and marshal'd names).
    cast = path.with_suffix(".cast").read_text(encoding="utf-8")
    assert "\\u0000" not in cast
    text = "".join(ev[2] for ev in map(json.loads, cast.splitlines()[1:]) if ev[1] == "o")
    numbers = [int(n) for n in storm.LINE_RE.findall(text)]
    assert numbers == list(range(LINES))
    assert "hunter2" not in text
    body = text[text.index("L0000000") : text.index(storm.END)]
    assert all(line.startswith("L") and line.endswith(" ok") for line in body.split("\r\n")[:-1])
