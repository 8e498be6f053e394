"""cfsession: record terminal sessions command by command.

The library never prints; only :mod:`cfsession.cli` talks to people.
"""

from __future__ import annotations

__version__ = "0.1.0"
