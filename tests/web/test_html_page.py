"""The HTML page of a session recorded through a real bash on a real PTY, in a real chromium.

Debian's /usr/bin/chromium driven by Playwright (tests/web/browser.py). In CI a missing
chromium or playwright fails these tests; elsewhere they skip.
"""

from __future__ import annotations

import io
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests import pty_harness as h
from tests.conftest import require_module, require_shell
from tests.web.browser import CHROMIUM, launch

pytestmark = [pytest.mark.pty, pytest.mark.slow]

XSS = "<img src=x onerror=alert(1)>"


def require_chromium() -> None:
    if not os.access(CHROMIUM, os.X_OK):
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is not installed but CI must test the HTML page (apt chromium)")
        pytest.skip("chromium not installed")


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A real bash session: five commands (the `exit` that ends it is not one), one failing, one printing the XSS string; the
    second sleeps so the third starts well after the first (seeking to it moves the clock)."""
    bash = require_shell("bash")
    root = tmp_path_factory.mktemp("page")
    home, cf_home = root / "home", root / "cfhome"
    home.mkdir()
    (home / ".bashrc").write_text(f"PS1='{h.PROMPT}'\n")
    rec = h.start(bash, home, cf_home)
    rec.run("echo first; printf '\\033[1;32mgreen\\033[0m\\n'")
    rec.run("sleep 1.5")
    rec.run(f"echo '{XSS}'")
    rec.run("ls /nonexistent-cfs")
    rec.run("seq 1 40")
    assert rec.finish("exit") == 0
    out = root / "page.html"
    run_cf(cf_home, "export", "last", "--format", "html", "-o", str(out))
    return out, cf_home


def run_cf(cf_home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CFSESSION_HOME": str(cf_home)}
    proc = subprocess.run(h.cfsession_argv(*args), env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return proc


def opened(page: Any, path: Path) -> None:
    page.goto(path.as_uri(), wait_until="load")
    # The player has parsed the cast once it knows the duration.
    page.wait_for_function("() => window.cfsessionPlayer && cfsessionPlayer.getDuration() > 0", timeout=30_000)


def test_page_is_one_private_file_with_a_strict_policy(recorded: tuple[Path, Path]) -> None:
    path, _ = recorded
    assert path.stat().st_mode & 0o777 == 0o600
    text = path.read_text(encoding="utf-8")
    assert "<link" not in text and "<script src" not in text  # everything is inline
    csp = text.split('http-equiv="Content-Security-Policy" content="', 1)[1].split('"', 1)[0]
    assert "default-src 'none'" in csp and "unsafe-inline" not in csp
    assert "'unsafe-eval'" not in csp and "'wasm-unsafe-eval'" in csp
    assert XSS not in text  # every recorded copy is escaped (HTML) or \u003c-escaped (cast)


def test_loads_offline_without_errors_and_plays(recorded: tuple[Path, Path]) -> None:
    require_chromium()
    sync_api = require_module("playwright.sync_api")
    path, _ = recorded
    with launch(sync_api) as (page, seen):
        opened(page, path)
        assert page.locator("#player .ap-player").count() == 1
        assert page.locator("#commands li").count() == 5  # the `exit` ends the session: no command
        page.evaluate("cfsessionPlayer.play()")
        page.wait_for_function("() => cfsessionPlayer.getCurrentTime() > 0.2", timeout=30_000)
        # Played to the end, the highlight has followed the commands down to the last.
        page.wait_for_function(
            "() => document.querySelector('#commands li:last-child').classList.contains('current')",
            timeout=30_000,
        )
        assert page.locator("#commands li.current").count() == 1
        assert "40" in page.inner_text("#player")  # seq's last line is on the screen
        assert seen.problems == []
        assert seen.dialogs == []
        assert {u.split(":", 1)[0] for u in seen.requests} == {"file"}  # nothing from the network


def test_clicking_the_third_command_seeks_to_its_start(recorded: tuple[Path, Path]) -> None:
    require_chromium()
    sync_api = require_module("playwright.sync_api")
    path, cf_home = recorded
    third = [c for c in h.commands(cf_home)][2]
    with launch(sync_api) as (page, seen):
        opened(page, path)
        li = page.locator("#commands li").nth(2)
        start = float(li.get_attribute("data-t") or "nan")
        # No pause in this session is over the idle limit: played time = recorded time.
        assert start == pytest.approx(third["cast_start"], abs=0.01)
        assert start > 1.0  # after the sleep: a seek that did nothing would read ~0
        li.locator("button").click()
        page.wait_for_function("(s) => Math.abs(cfsessionPlayer.getCurrentTime() - s) <= 0.5",
                               arg=start, timeout=10_000)
        now = page.evaluate("cfsessionPlayer.getCurrentTime()")
        assert abs(now - start) <= 0.5
        page.wait_for_function("() => document.querySelectorAll('#commands li')[2].classList.contains('current')",
                               timeout=10_000)
        assert seen.problems == []


def test_recorded_markup_is_text_and_no_dialog_fires(recorded: tuple[Path, Path]) -> None:
    require_chromium()
    sync_api = require_module("playwright.sync_api")
    path, _ = recorded
    with launch(sync_api) as (page, seen):
        opened(page, path)
        cmd = page.locator("#commands li").nth(2).locator(".cmd")
        assert cmd.inner_text() == f"echo '{XSS}'"
        assert page.locator("img").count() == 0
        page.locator("#commands li").nth(3).locator("button").click()  # just after its output
        page.wait_for_function("(x) => document.getElementById('player').innerText.includes(x)",
                               arg=XSS, timeout=10_000)
        assert page.locator("img").count() == 0
        assert seen.dialogs == []
        assert seen.problems == []


def test_filter_box_and_failed_only(recorded: tuple[Path, Path]) -> None:
    require_chromium()
    sync_api = require_module("playwright.sync_api")
    path, _ = recorded
    with launch(sync_api) as (page, _seen):
        opened(page, path)
        page.fill("#filter", "SLEEP")
        assert page.locator("#commands li:not([hidden])").count() == 1
        assert page.inner_text("#shown") == "1 of 5"
        page.fill("#filter", "")
        page.check("#failed-only")
        visible = page.locator("#commands li:not([hidden]) .cmd")
        assert visible.all_inner_texts() == ["ls /nonexistent-cfs"]
        assert "✗" in page.inner_text("#commands li.failed .icon")


def test_screenshot_is_not_blank(recorded: tuple[Path, Path]) -> None:
    require_chromium()
    sync_api = require_module("playwright.sync_api")
    image = require_module("PIL.Image")
    stat = require_module("PIL.ImageStat")
    path, _ = recorded
    with launch(sync_api) as (page, _seen):
        opened(page, path)
        page.evaluate("cfsessionPlayer.seek(cfsessionPlayer.getDuration())")
        page.wait_for_function("() => document.getElementById('player').innerText.includes('40')",
                               timeout=10_000)
        png = page.locator("#player").screenshot()
    img = image.open(io.BytesIO(png)).convert("L")
    assert img.size[0] > 300 and img.size[1] > 150
    assert stat.Stat(img).stddev[0] > 10  # text on the terminal, not one flat colour


def test_chain_status_and_header(recorded: tuple[Path, Path]) -> None:
    path, cf_home = recorded
    text = path.read_text(encoding="utf-8")
    sid = h.load(h.sessions(cf_home)[0])[0]["session_id"]
    assert f"<dd>{sid}</dd>" in text
    assert 'class="chain-intact"' in text


def test_a_windowed_big_output_plays_and_shows_the_cut(tmp_path: Path, cf_home: Path) -> None:
    require_chromium()
    sync_api = require_module("playwright.sync_api")
    from cfsession import export_html, store
    from cfsession.paths import cast_path, jsonl_path
    from tests.sessions_factory import Cmd, make_session

    big = "".join(f"row {i:07d}\n" for i in range(200_000))  # 2.4 MB
    sid = make_session(cf_home, [Cmd("echo a", "a\n"), Cmd("seq", big), Cmd("echo end", "end\n")])
    loaded = store.load_session(jsonl_path(sid, cf_home))
    out = tmp_path / "big.html"
    with open(out, "w", encoding="utf-8") as f:
        for chunk in export_html.page(loaded, cast_path(sid, cf_home), [], budget=400):  # ~16 rows each side
            f.write(chunk)
    assert out.stat().st_size < 1_000_000
    with launch(sync_api) as (page, seen):
        opened(page, out)
        page.locator("#commands li").nth(2).locator("button").click()
        page.wait_for_function("() => document.getElementById('player').innerText.includes('left out')",
                               timeout=10_000)
        assert "row 0199999" in page.inner_text("#player")  # the tail is there
        assert "This page holds" in page.inner_text("#screen")
        assert seen.problems == []
