"""``<home>/config.toml``: optional settings. Missing file = defaults; a bad file = clear error."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, NamedTuple

from cfsession.errors import CfsessionError

OUTPUT_CAP_DEFAULT = 64 * 1024  # characters of plain output kept per command (head + tail)


# NamedTuple rather than a dataclass: `dataclasses` imports `inspect` (~7 ms), and this
# is read on the way to the first prompt.
class Config(NamedTuple):
    output_cap: int = OUTPUT_CAP_DEFAULT
    redact_defaults: bool = True
    redact_patterns: tuple[str, ...] = ()
    redact_disable: tuple[str, ...] = ()  # default kinds to switch off, e.g. ("jwt",)
    etw: bool | None = None  # None: platform default (on for Windows)
    raw: dict[str, Any] | None = None  # the parsed file, for settings read elsewhere


def load_config(path: Path) -> Config:
    if not path.exists():
        return Config()
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CfsessionError(f"cannot read {path}: {exc}", "fix or remove the file") from exc
    rec = data.get("record", {}) if isinstance(data.get("record"), dict) else {}
    red = data.get("redact", {}) if isinstance(data.get("redact"), dict) else {}
    try:
        return Config(
            output_cap=int(rec.get("output_cap", OUTPUT_CAP_DEFAULT)),
            redact_defaults=bool(red.get("defaults", True)),
            redact_patterns=tuple(str(p) for p in red.get("patterns", [])),
            redact_disable=tuple(str(k) for k in red.get("disable", [])),
            etw=rec.get("etw"),
            raw=data,
        )
    except (TypeError, ValueError) as exc:
        raise CfsessionError(f"bad value in {path}: {exc}", "see README 'Configuration'") from exc
