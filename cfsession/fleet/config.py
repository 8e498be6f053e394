"""Where the fleet server is, and connecting to it safely.

The shipper's URL: ``--url``, else ``$CFSESSION_SHIP_URL``, else ``[ship] url`` in
config.toml. Readers (``--remote``) use ``$CFSESSION_REMOTE_URL`` / ``[remote] url``
first, since an auditor logs in as another role than a shipper, then the ship URL.

A server that is not on this machine gets ``sslmode=verify-full`` unless the URL says
otherwise: the connection is encrypted and the server's certificate must be signed by the
CA in ``sslrootcert`` (libpq's default ``~/.postgresql/root.crt``) for the name in the URL.
"""

from __future__ import annotations

import os
import re
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from cfsession.errors import CfsessionError, UsageError

LOCAL_HOSTS = frozenset({"", "localhost", "127.0.0.1", "::1", "[::1]"})


def ship_url(url: str | None = None) -> str:
    return url or os.environ.get("CFSESSION_SHIP_URL") or _from_config("ship") or _missing("ship")


def remote_url(url: str | None = None) -> str:
    return (
        url
        or os.environ.get("CFSESSION_REMOTE_URL")
        or _from_config("remote")
        or os.environ.get("CFSESSION_SHIP_URL")
        or _from_config("ship")
        or _missing("remote")
    )


def _from_config(section: str) -> str | None:
    from cfsession import paths
    from cfsession.config import load_config

    raw = load_config(paths.config_path()).raw or {}
    table = raw.get(section)
    value = table.get("url") if isinstance(table, dict) else None
    return str(value) if value else None


def _missing(kind: str) -> str:
    env = "CFSESSION_SHIP_URL" if kind == "ship" else "CFSESSION_REMOTE_URL"
    raise UsageError(
        "no fleet server given",
        f"pass --url postgresql://…, set {env}, or put `[{kind}] url = \"…\"` in config.toml",
    )


def with_tls_default(url: str) -> str:
    """``url`` with ``sslmode=verify-full`` added when it names a server elsewhere."""
    if not url.startswith(("postgresql://", "postgres://")):
        raise UsageError(f"not a PostgreSQL URL: {redact(url)}", "use postgresql://user@host:port/db")
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    if "sslmode" in query:
        return url
    hosts = [h.rsplit(":", 1)[0] if h.count(":") == 1 else h
             for h in (parts.netloc.rsplit("@", 1)[-1]).split(",")]
    host_param = query.get("host", "")
    local = all(h.lower() in LOCAL_HOSTS for h in hosts) and (
        not host_param or host_param.startswith("/") or host_param.lower() in LOCAL_HOSTS
    )
    if local:
        return url
    query["sslmode"] = "verify-full"
    return urlunsplit(parts._replace(query=urlencode(query)))


def redact(url: str) -> str:
    """The URL without its password, for messages (and the checkpoints' server key).

    The password may be in the user part, where libpq takes everything up to the last
    ``@`` before the query (so an unescaped ``/`` or ``@`` is still password), or given as
    ``password=`` in the query or in a libpq keyword string.
    """
    url = re.sub(r"(?i)(\bpassword\s*=\s*)('(?:[^'\\]|\\.)*'|[^&\s]*)", r"\1***", url)
    head, sep, query = url.partition("?")
    scheme, found, rest = head.partition("://")
    if found and "@" in rest:
        user, _, where = rest.rpartition("@")
        if ":" in user:
            head = f"{scheme}://{user.split(':', 1)[0]}:***@{where}"
    return head + sep + query


def connect(url: str, *, autocommit: bool = False, connect_timeout: int = 10) -> Any:
    """A psycopg connection; failures become one clear CfsessionError."""
    import psycopg

    target = with_tls_default(url)
    try:
        return psycopg.connect(target, autocommit=autocommit, connect_timeout=connect_timeout,
                               application_name="cfsession")
    except psycopg.OperationalError as exc:
        raise connection_error(exc, target) from None
    except psycopg.ProgrammingError as exc:  # a parameter libpq does not know: not retried
        raise CfsessionError(f"cannot use the URL {redact(target)}: {' '.join(str(exc).split())}",
                             "check its parameters against libpq's connection parameters") from None


def _secrets(url: str) -> list[str]:
    """The parts of the user part's password that libpq may have read as something else (a
    host, a port) and so may name in its message: around an unescaped ``@`` or ``/``."""
    scheme, found, rest = url.partition("?")[0].partition("://")
    user = rest.rpartition("@")[0] if found else ""
    secret = user.split(":", 1)[1] if ":" in user else ""
    return [p for p in re.split(r"[@/]", secret) if len(p) >= 3]


def connection_error(exc: Exception, url: str) -> CfsessionError:
    text = " ".join(str(exc).split())
    for secret in _secrets(url):
        text = text.replace(secret, "***")
    where = redact(url)
    if "certificate verify failed" in text:
        return CfsessionError(
            f"TLS: the certificate of {where} is not signed by a CA you trust ({text})",
            "give the server's CA with sslrootcert=/path/ca.crt in the URL",
        )
    if "does not match host name" in text:
        return CfsessionError(
            f"TLS: the server's certificate is for another host name ({text})",
            "connect by the name in the certificate, or fix the certificate",
        )
    if "root certificate file" in text:
        return CfsessionError(
            f"TLS: no CA to check {where} against ({text})",
            "add sslrootcert=/path/ca.crt to the URL (or sslmode=disable for a trusted network)",
        )
    if any(m in text for m in _REFUSED_LOGIN):
        # Not "cannot connect": waiting will not make a wrong password right, so it is
        # said at once instead of retried (in silence, forever with --follow).
        return CfsessionError(f"the server refused the login {where}: {text}",
                              "check the user, password and database in the URL (or ~/.pgpass)")
    return CfsessionError(f"cannot connect to {where}: {text}",
                          "check the URL, that the server runs, and pg_hba.conf")


# What the server says (FATAL, before any SQLSTATE reaches the client) to a login it will
# not take: wrong password, no such login or database, no pg_hba.conf line for it.
# ("too many connections for role" and a server starting up are retried.)
_REFUSED_LOGIN = ("password authentication failed", "authentication failed for user",
                  "\" does not exist", "is not permitted to log in", "no pg_hba.conf entry",
                  "pg_hba.conf rejects")


def is_connection_lost(exc: BaseException) -> bool:
    """A transport failure worth retrying (server restarting, network), not a refusal."""
    import psycopg

    if isinstance(exc, CfsessionError):
        return "cannot connect" in exc.message
    state = getattr(getattr(exc, "diag", None), "sqlstate", None)
    if state and state.startswith(("40", "55P03", "23505")):
        return True  # deadlock, serialisation, lock timeout, two shippers creating one session
    if isinstance(exc, psycopg.OperationalError):
        return state is None or state.startswith(("08", "57P"))
    return isinstance(exc, psycopg.InterfaceError)
