"""Shared fixtures: a private store per test, a hermetic HOME, and shell availability."""

from __future__ import annotations

import importlib
import os
import shutil
import signal
from pathlib import Path
from types import ModuleType

import pytest


def pytest_configure(config: pytest.Config) -> None:
    """Give the recorders the tests start the signal dispositions a terminal would.

    A suite started in the background (``scripts/test &``, ``nohup``) inherits SIGINT and
    SIGQUIT (and under nohup SIGHUP) ignored, and exec keeps an ignored signal ignored in
    every process the tests start: the signal tests would then be testing that instead.
    """
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    for name in ("SIGQUIT", "SIGHUP"):  # POSIX only
        sig = getattr(signal, name, None)
        if sig is not None and signal.getsignal(sig) == signal.SIG_IGN:
            signal.signal(sig, signal.SIG_DFL)


@pytest.fixture
def cf_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh ``CFSESSION_HOME`` for this test (set in the environment too)."""
    home = tmp_path / "cfhome"
    monkeypatch.setenv("CFSESSION_HOME", str(home))
    return home


@pytest.fixture
def user_home(tmp_path: Path) -> Path:
    """A hermetic HOME with no rc files; tests write the ones they need."""
    home = tmp_path / "home"
    home.mkdir()
    return home


def require_shell(name: str) -> str:
    """Path of ``name``; in CI a missing shell fails the test, elsewhere it skips."""
    path = shutil.which(name)
    if path is None:
        if os.environ.get("CI"):
            pytest.fail(f"{name} is not installed but CI must test it (.ci/run installs it)")
        pytest.skip(f"{name} not installed")
    return path


BASH53 = Path(__file__).resolve().parent.parent / ".cache" / "bash-5.3" / "bin" / "bash"


def require_bash(version: str) -> str:
    """The bash to test: ``system`` (Debian's, 5.2) or ``5.3`` (Debian's static build,
    which scripts/test puts at .cache/bash-5.3 with scripts/get_bash53.py; or
    ``$CFSESSION_TEST_BASH53``). In CI a missing one fails the test, elsewhere it skips."""
    if version == "system":
        return require_shell("bash")
    path = os.environ.get("CFSESSION_TEST_BASH53") or str(BASH53)
    if not os.access(path, os.X_OK):
        if os.environ.get("CI"):
            pytest.fail(f"bash 5.3 is not at {path} but CI must test it (scripts/test runs scripts/get_bash53.py)")
        pytest.skip(f"bash 5.3 not at {path} (python scripts/get_bash53.py puts it there)")
    return path


@pytest.fixture(params=["system", "5.3"], ids=["bash", "bash5.3"])
def bash(request: pytest.FixtureRequest) -> str:
    """Each bash the integration must work under (a test that takes it runs under both)."""
    return require_bash(request.param)


def require_module(name: str) -> ModuleType:
    """Module ``name`` from the test extra; in CI a missing one fails the test, elsewhere
    it skips."""
    try:
        return importlib.import_module(name)
    except ImportError:
        if os.environ.get("CI"):
            pytest.fail(f"{name} is in the test extra but not installed (.ci/run installs it)")
        pytest.skip(f"{name} not installed")
