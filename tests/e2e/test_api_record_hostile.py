"""The recording API given text no terminal could produce: the recording still holds together."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from cfsession import api


def test_a_lone_surrogate_in_a_name_or_command_keeps_the_chain(cf_home: Path) -> None:
    # "\ud800" is what json.loads makes of the escape "\ud800": an agent passing on a name
    # it was given. It is no UTF-8 text (nor a byte surrogateescape left), so it becomes
    # U+FFFD as undecodable bytes do; before, the session_start line was dropped whole.
    with api.record("build \ud800 x", actor="agent:ci", home=cf_home) as rec:
        ran = rec.run(["echo", "hi"], pty=False)
    assert ran.exit_code == 0
    lines = [json.loads(x) for x in rec.path.read_bytes().splitlines()]
    assert [x["event_type"] for x in lines][:1] == ["session_start"]
    assert lines[0]["name"] == "build \ufffd x"
    p = subprocess.run([sys.executable, "-m", "cfsession", "verify", ran.session_id],
                       env={**os.environ, "CFSESSION_HOME": str(cf_home)}, capture_output=True,
                       text=True, timeout=60)
    assert p.returncode == 0 and "intact" in p.stdout, p.stdout + p.stderr
