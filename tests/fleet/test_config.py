"""Where the fleet server is: flag, environment, config file — no server needed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import require_module


def test_url_precedence_flag_env_config(cf_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from cfsession.errors import UsageError
    from cfsession.fleet import config

    monkeypatch.delenv("CFSESSION_SHIP_URL", raising=False)
    monkeypatch.delenv("CFSESSION_REMOTE_URL", raising=False)
    with pytest.raises(UsageError, match="no fleet server given"):
        config.ship_url()
    cf_home.mkdir()
    (cf_home / "config.toml").write_text('[ship]\nurl = "postgresql://ship@cfg/db"\n')
    assert config.ship_url() == "postgresql://ship@cfg/db"
    assert config.remote_url() == "postgresql://ship@cfg/db"  # readers fall back to it
    (cf_home / "config.toml").write_text('[ship]\nurl = "postgresql://ship@cfg/db"\n'
                                         '[remote]\nurl = "postgresql://alice@cfg/db"\n')
    assert config.remote_url() == "postgresql://alice@cfg/db"
    monkeypatch.setenv("CFSESSION_SHIP_URL", "postgresql://ship@env/db")
    assert config.ship_url() == "postgresql://ship@env/db"
    assert config.ship_url("postgresql://ship@flag/db") == "postgresql://ship@flag/db"


def test_passwords_never_reach_messages() -> None:
    from cfsession.fleet.config import redact

    assert redact("postgresql://host_a:s3cret@db:5432/cfs") == "postgresql://host_a:***@db:5432/cfs"


def test_an_unreachable_server_is_one_line(cf_home: Path) -> None:
    require_module("psycopg")
    p = subprocess.run([sys.executable, "-m", "cfsession", "list", "--remote"],
                       env={"CFSESSION_HOME": str(cf_home), "PATH": "/usr/bin:/bin",
                            "CFSESSION_REMOTE_URL": "postgresql://u:pw@127.0.0.1:1/db"},
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 1
    assert p.stderr.startswith("cfsession: cannot connect to postgresql://u:***@127.0.0.1:1/db")
    assert "pw@" not in p.stderr and p.stderr.count("\n") == 1
