"""What the loops call on a session: the in-process :class:`cfsession.session.Session`
and the bookkeeping child's :class:`cfsession.recorder.bookkeeper.Remote` both are one."""

from __future__ import annotations

from typing import Protocol

from cfsession.segmenter import Mark


class LoopSession(Protocol):
    active: bool  # the shell has reported in (H received)

    def data(self, data: bytes, t: float) -> None: ...

    def data_err(self, data: bytes, t: float) -> None: ...

    def mark(self, m: Mark, t: float) -> None: ...

    def resize(self, cols: int, rows: int, t: float) -> None: ...

    def pause(self, t: float) -> None: ...

    def resume(self, t: float) -> None: ...

    def toggle_pause(self, t: float) -> None: ...

    def typeahead(self, t: float) -> None: ...

    def no_hello(self, t: float, reason: str) -> None: ...

    def hangup(self, t: float) -> None:
        """The recorder was told to end and hangs up the shell (SIGHUP/SIGTERM)."""

    def tick(self, t: float) -> None:
        """The .cast writer's timer (nothing without a .cast)."""

    def end_batch(self) -> None:
        """Hand over what one pass of the loop produced (nothing to do in one process)."""
