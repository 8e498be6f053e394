"""``cfsession admin migrate``: create or upgrade the fleet schema, versioned.

Migrations are the numbered files in ``sql/`` (``001_schema.sql`` …), applied in order,
each once, in one transaction with the version row, as the ``cfsession_owner`` role so
that it owns every table and the SECURITY DEFINER ingest functions (no superuser-owned
definer functions). Roles and ``pg_trgm`` are made first, by the migrating login, which
therefore needs CREATEROLE and the right to create the (trusted) extension.
"""

from __future__ import annotations

from importlib import resources
from typing import Any

ROLES = ("cfsession_owner", "cfsession_shipper", "cfsession_reader", "cfsession_auditor")
_LOCK = 0x6366_7365  # "cfse": one migrate at a time per database


def migrations() -> list[tuple[int, str, str]]:
    """(version, name, sql) for every migration shipped with this version, in order."""
    out = []
    for entry in resources.files("cfsession.fleet").joinpath("sql").iterdir():
        name = entry.name
        if name.endswith(".sql") and name[:3].isdigit():
            out.append((int(name[:3]), name, entry.read_text(encoding="utf-8")))
    return sorted(out)


def current_version(conn: Any) -> int:
    row = conn.execute(
        "SELECT to_regclass('cfsession.schema_version') IS NOT NULL"
    ).fetchone()
    if not row or not row[0]:
        return 0
    got = conn.execute("SELECT coalesce(max(version), 0) FROM cfsession.schema_version").fetchone()
    return int(got[0]) if got else 0


def migrate(conn: Any, upto: int | None = None) -> tuple[int, int, list[str]]:
    """Bring the schema up to date (or to version ``upto``); (before, after, files applied)."""
    import psycopg

    from cfsession.errors import CfsessionError

    try:
        return _migrate(conn, upto)
    except psycopg.Error as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise CfsessionError(
            f"cannot migrate the fleet schema: {first}",
            "run it as the database's owner with CREATEROLE (docs/FLEET.md, Running a server)",
        ) from None


def _migrate(conn: Any, upto: int | None) -> tuple[int, int, list[str]]:
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK,))
        _roles(conn)
        conn.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        conn.execute("CREATE SCHEMA IF NOT EXISTS cfsession AUTHORIZATION cfsession_owner")
        conn.execute("SET LOCAL ROLE cfsession_owner")
        conn.execute(
            "CREATE TABLE IF NOT EXISTS cfsession.schema_version ("
            " version integer PRIMARY KEY, name text NOT NULL,"
            " applied_at timestamptz NOT NULL DEFAULT now())"
        )
        before = current_version(conn)
        applied = []
        for version, name, sql in migrations():
            if version <= before or (upto is not None and version > upto):
                continue
            conn.execute(sql)
            conn.execute(
                "INSERT INTO cfsession.schema_version (version, name) VALUES (%s, %s)",
                (version, name),
            )
            applied.append(name)
        conn.execute("RESET ROLE")
        return before, current_version(conn), applied


def _roles(conn: Any) -> None:
    """The group roles (cluster-wide, so they may exist from another database)."""
    for role in ROLES:
        exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone()
        if not exists:
            conn.execute(f"CREATE ROLE {role} NOLOGIN")
    member = "SELECT pg_has_role(%s, %s, 'MEMBER')"
    if not conn.execute(member, ("cfsession_auditor", "cfsession_reader")).fetchone()[0]:
        conn.execute("GRANT cfsession_reader TO cfsession_auditor")
    # The migrating login must be able to SET ROLE cfsession_owner (a superuser can anyway).
    if not conn.execute("SELECT pg_has_role(current_user, 'cfsession_owner', 'MEMBER')").fetchone()[0]:
        conn.execute("GRANT cfsession_owner TO CURRENT_USER")
