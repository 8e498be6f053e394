"""A real PostgreSQL for the fleet tests: one throw-away cluster per test session."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pg_cluster  # noqa: E402

from tests.conftest import require_module  # noqa: E402

SHIPPER = "ship_a"
SHIPPER_B = "ship_b"
AUDITOR = "audit_all"
AUDITOR_WEB = "audit_web"


def _require_server() -> None:
    why = pg_cluster.available()
    if why:
        if os.environ.get("CI"):
            pytest.fail(why + " — .ci/run installs postgresql and postgresql-contrib")
        pytest.skip(why)


@pytest.fixture(scope="session")
def pg() -> Iterator[pg_cluster.Cluster]:
    """The cluster, migrated, with two shipper logins and two auditors; stopped at the end."""
    require_module("psycopg")
    _require_server()
    cluster = pg_cluster.create()
    try:
        from cfsession.fleet import config, schema

        with config.connect(cluster.url(), autocommit=True) as conn:
            schema.migrate(conn)
            conn.execute(f"CREATE ROLE {SHIPPER} LOGIN IN ROLE cfsession_shipper")
            conn.execute(f"CREATE ROLE {SHIPPER_B} LOGIN IN ROLE cfsession_shipper")
            conn.execute(f"CREATE ROLE {AUDITOR} LOGIN IN ROLE cfsession_auditor")
            conn.execute(f"CREATE ROLE {AUDITOR_WEB} LOGIN IN ROLE cfsession_reader")
            conn.execute("INSERT INTO cfsession.auditor_scope VALUES (%s, 'web-%%')", (AUDITOR_WEB,))
        yield cluster
    finally:
        pg_cluster.destroy(cluster)


@pytest.fixture
def admin(pg: pg_cluster.Cluster) -> Iterator[Any]:
    from cfsession.fleet import config

    with config.connect(pg.url(), autocommit=True) as conn:
        yield conn
