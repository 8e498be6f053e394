"""Reassembly of markers sent in parts (``part=i/n``): the Windows integrations cut long
values so each marker stays under ConPTY's OSC length limit (SHELL_INTEGRATION.md §3.5)."""

from __future__ import annotations

from dataclasses import dataclass, field

from cfsession.segmenter import Mark

LONG_KEYS = ("cmd", "cwd", "loc")  # the only fields the Windows integrations ever cut


@dataclass
class PartJoiner:
    """Reassemble ``part=i/n`` markers into one :class:`Mark` (for the session state machine).

    ``feed`` returns the mark to act on: an ordinary mark unchanged, ``None`` while parts
    are still coming, and the joined mark when the last part arrives (its ``seq`` is the
    last part's). When parts went missing (seq gap, out of order, interrupted) the group
    is counted in ``lost``; its last part still yields the event, without the cut value
    and with ``parts_lost=1``, so a command still starts or ends where it should.
    """

    lost: int = 0
    _event: str | None = None
    _pieces: dict[str, list[str]] = field(default_factory=dict)
    _next: int = 1
    _total: int = 0
    _broken: bool = False

    def feed(self, mark: Mark) -> Mark | None:
        spec = mark.fields.get("part")
        if spec is None:
            self._drop()
            return mark
        try:
            i_s, n_s = spec.split("/", 1)
            i, n = int(i_s), int(n_s)
        except ValueError:
            i, n = 0, 0
        if i == 1:
            self._drop()
            self._event, self._total, self._next = mark.event, n, 1
        in_order = (
            self._event == mark.event and i == self._next and n == self._total and n >= i >= 1
        )
        if not in_order:
            if not self._broken:
                self.lost += 1
                self._broken = True
            self._event, self._pieces, self._next, self._total = None, {}, 1, 0
            if i == n and n >= 1:
                self._broken = False
                fields = {
                    k: v for k, v in mark.fields.items() if k != "part" and k not in LONG_KEYS
                }
                fields["parts_lost"] = "1"
                return Mark(mark.event, mark.seq, fields)
            return None
        for key, value in mark.fields.items():
            if key != "part":
                self._pieces.setdefault(key, []).append(value)
        self._next += 1
        if i < n:
            return None
        joined = {}
        for key, pieces in self._pieces.items():
            # Pieces end on character boundaries when the sender follows the rules;
            # surrogateescape round-trips whatever bytes came if it did not.
            text = "".join(pieces)
            joined[key] = text.encode("utf-8", "surrogateescape").decode("utf-8", "surrogateescape")
        self._event, self._pieces, self._next, self._total = None, {}, 1, 0
        return Mark(mark.event, mark.seq, joined)

    def _drop(self) -> None:
        """Forget an unfinished group (counted as lost once)."""
        if self._event is not None and not self._broken:
            self.lost += 1
        self._broken = False
        self._event, self._pieces, self._next, self._total = None, {}, 1, 0
