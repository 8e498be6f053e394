"""``cfsession diff``: the MCP tool's diff on the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cfsession.cli import run
from tests.sessions_factory import T0, Cmd, make_session


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = run(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def sid(cf_home: Path) -> str:
    return make_session(cf_home, [
        Cmd("make test", "ok 1\nok 2\nok 3\n"),
        Cmd("make test", "ok 1\nFAIL 2\nok 3\n\x1b]52;c;c2VjcmV0\x07", exit_code=2),
        Cmd("make other", "x\n"),
    ], started=T0)


def test_two_references(capsys: pytest.CaptureFixture[str], sid: str) -> None:
    code, out, err = _run(capsys, "diff", f"{sid[:8]}:1", f"{sid[:8]}:2", "--json")
    assert code == 0, err
    got = json.loads(out)
    assert (got["a"]["ref"], got["b"]["ref"]) == (f"{sid}:1", f"{sid}:2")
    assert (got["added"], got["removed"], got["identical"]) == (1, 1, False)
    lines = got["diff"].split("\n")
    assert lines[:2] == [f"--- {sid}:1", f"+++ {sid}:2"]
    assert "-ok 2" in lines and "+FAIL 2" in lines
    assert "\x1b" not in out and "\x07" not in out


def test_a_command_line_means_its_last_two_runs(capsys: pytest.CaptureFixture[str], sid: str) -> None:
    code, out, _ = _run(capsys, "diff", "make test")
    assert code == 0
    assert out.splitlines()[:2] == [f"--- {sid}:1  $ make test  (exit 0)", f"+++ {sid}:2  $ make test  (exit 2)"]
    assert "-ok 2" in out and "+FAIL 2" in out and "\x1b" not in out  # no colour off a terminal
    code, out, _ = _run(capsys, "diff", "last:1", "last:1")
    assert code == 0 and "outputs are identical" in out


@pytest.mark.parametrize(("args", "message"), [
    (["make other"], "'make other' was run only once: nothing to compare"),
    (["never"], "no command 'never' recorded"),
    (["last:1", "nope"], "'nope' is not a SESSION:SEQ reference"),
    (["last:9", "last:1"], "command 9 not found in session"),
    (["ffff:1", "last:1"], "session ffff not found"),
])
def test_bad_references(capsys: pytest.CaptureFixture[str], sid: str, args: list[str], message: str) -> None:
    code, out, err = _run(capsys, "diff", *args)
    assert code != 0 and out == ""
    assert err.startswith("cfsession: ") and message in err and len(err.strip().splitlines()) == 1
