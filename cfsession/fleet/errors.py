"""How the shipper reads what the server says: refusals, transient failures, retries."""

from __future__ import annotations

from cfsession.errors import CfsessionError, UsageError
from cfsession.fleet import config


class ServerError(CfsessionError):
    retryable = False


def retryable(exc: CfsessionError) -> bool:
    return bool(getattr(exc, "retryable", False)) or exc.message.startswith("cannot connect")


def first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def nul_in_text(exc: BaseException) -> UsageError | None:
    """A search text or filter with a NUL byte (an agent's JSON can carry one): PostgreSQL
    text cannot hold it, psycopg refuses to send it, and it is the caller's to fix."""
    if "NUL (0x00)" not in str(exc):
        return None
    return UsageError("a search text or filter holds a NUL byte, which the fleet server cannot take",
                      "leave the NUL character out")


def server_error(exc: BaseException) -> CfsessionError:
    if isinstance(exc, CfsessionError):
        return exc
    state = getattr(getattr(exc, "diag", None), "sqlstate", None) or ""
    text = first_line(exc)
    if config.is_connection_lost(exc):
        what = ("lost the connection to the server" if not state or state.startswith(("08", "57P"))
                else "the server could not take the batch just now")
        err = ServerError(f"{what} ({text})", "it will be retried")
        err.retryable = True
        return err
    if state == "42501":
        return ServerError(f"the server refused this login: {text}",
                           "the login must be a member of cfsession_shipper (docs/FLEET.md)")
    if state in ("42883", "3F000", "42P01"):
        return _schema_missing(text)
    return ServerError(f"the server refused a batch: {text}", "see the server log")


def _schema_missing(text: str) -> ServerError:
    return ServerError(f"the fleet schema is missing or old: {text}",
                       "run `cfsession admin migrate --url …` as an administrator")


def reader_error(exc: BaseException) -> CfsessionError:
    """What a failed read (``--remote``, :mod:`cfsession.fleet.api`) says, in one line."""
    if isinstance(exc, CfsessionError):
        return exc
    nul = nul_in_text(exc)
    if nul is not None:
        return nul
    state = getattr(getattr(exc, "diag", None), "sqlstate", None) or ""
    text = first_line(exc)
    if state in ("42883", "3F000", "42P01", "42703"):  # … or a column a later version added
        return _schema_missing(text)
    if state == "42501":
        return ServerError(f"this login may not read the fleet server: {text}",
                           "read as a login in cfsession_reader or cfsession_auditor (docs/FLEET.md)")
    if config.is_connection_lost(exc):
        return ServerError(f"lost the connection to the server ({text})", "try again")
    return ServerError(f"the server could not answer: {text}", "see the server log")
