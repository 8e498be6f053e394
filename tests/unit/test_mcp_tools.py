"""The MCP tools' paging and bounding, without a server (the server's tests use a real client)."""

from __future__ import annotations

from pathlib import Path

import pytest

from cfsession.errors import CfsessionError, UsageError
from cfsession.mcp_tools import PAGE, LocalStore, visible
from tests.sessions_factory import Cmd, make_session


@pytest.fixture
def store(cf_home: Path) -> tuple[LocalStore, str]:
    long_line = "y" * (PAGE + 100) + "\n"
    sid = make_session(cf_home, [
        Cmd("gen", "".join(f"row {i}\n" for i in range(1, 21))),
        Cmd("wide", long_line + "tail\n"),
    ])
    return LocalStore(cf_home), sid


def test_pages_end_at_line_ends_and_number_the_lines(store: tuple[LocalStore, str]) -> None:
    st, sid = store
    first = st.get_output(sid, 1, length=20)
    assert first["text"] == "row 1\nrow 2\nrow 3\n"  # 18 characters: the next line would not fit
    assert (first["first_line"], first["last_line"], first["next_offset"]) == (1, 3, 18)
    assert first["source"] == "record"
    second = st.get_output(sid, 1, offset=18, length=12)
    assert second["text"] == "row 4\nrow 5\n" and second["first_line"] == 4
    last = st.get_output(sid, 1, offset=second["next_offset"])
    assert last["next_offset"] is None and last["text"].endswith("row 20\n")
    assert last["total_lines"] == 21 and last["total_chars"] == len("".join(f"row {i}\n" for i in range(1, 21)))
    with pytest.raises(UsageError, match="past the end"):
        st.get_output(sid, 1, offset=10_000)


def test_a_line_longer_than_a_page_is_split(store: tuple[LocalStore, str]) -> None:
    st, sid = store
    page = st.get_output(sid, 2, length=10**9)  # asked for more: capped
    assert len(page["text"]) == PAGE and page["next_offset"] == PAGE
    rest = st.get_output(sid, 2, offset=PAGE)
    assert rest["first_line"] == 1 and rest["text"] == "y" * 100 + "\ntail\n"


def test_grep_pages_through_matches(store: tuple[LocalStore, str]) -> None:
    st, sid = store
    got = st.get_output(sid, 1, grep=r"row 1\d?$")
    assert got["total_matches"] == 11 and [m["line"] for m in got["matches"]][:2] == [1, 10]
    skip = st.get_output(sid, 1, grep=r"row 1\d?$", offset=10)
    assert [m["text"] for m in skip["matches"]] == ["row 19"] and skip["next_offset"] is None


def test_unknown_command_and_limits(store: tuple[LocalStore, str]) -> None:
    st, sid = store
    with pytest.raises(CfsessionError, match="command 9 not found"):
        st.get_output(sid, 9)
    with pytest.raises(CfsessionError, match="command 9 not found"):
        st.get_command(sid, 9)
    assert len(st.list_sessions(limit=10_000)["sessions"]) == 1  # capped at 200, one there


def test_visible_sanitises_and_bounds_every_string() -> None:
    got = visible({"a": "x\x1b]52;c;Zm9v\x07y", "b": ["\x9b31mred", {"c": "z" * 5000}], "n": 3}, limit=100)
    assert got["a"] == "xy" and got["b"][0] == "red" and got["n"] == 3
    assert got["b"][1]["c"].startswith("z" * 100 + "… [4900 more")
