"""How tall a streaming reply claims to be: it grows in jumps, the way xterm's jump scroll does.

Each growth is a new layout and, in a view that follows the stream, a scroll, after which
Textual redraws everything on screen (a 1-line scroll costs ~4 times a normal frame).
Reserving spare blank lines and growing by up to half a screen at a time redraws the
screen twice per screenful instead of every few lines, and keeps the text still while it
is read. The spare lines go when the reply ends.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import ClassVar


class JumpGrowth:
    """The height of a streaming reply: its lines plus spare ones. Holds no Textual state."""

    GROW_STEP: ClassVar[int] = 4
    """While streaming, the height grows at least this many lines at a time..."""
    GROW_FRACTION: ClassVar[float] = 1 / 2
    """...and up to this share of the screen's height, but never by more lines than
    the reply already has."""
    FILL_SECONDS: ClassVar[float] = 1.5
    """...and by no more lines than the stream adds in this many seconds, so the blank
    lines below the text fill within about that time: half a screen of blank lines
    under a slow stream (a line a second) looks like a stall. A fast stream still jumps
    by the whole share (at most one growth per FILL_SECONDS), a slow one by fewer
    lines, more often in lines but never more often in time."""
    RATE_WINDOW: ClassVar[float] = 3.0
    """Seconds of recent growth the stream's pace in lines per second is taken from."""

    def __init__(self, wall_clock: Callable[[], float]) -> None:
        self._wall_clock = wall_clock
        self._growth: deque[tuple[float, int]] = deque()  # (time, lines) at recent flushes
        self._grow_step = self.GROW_STEP
        self._reserved = 0  # the height while streaming: the lines plus spare ones

    def fit_viewport(self, viewport_height: int) -> None:
        """The screen's height sets the largest jump."""
        self._grow_step = max(self.GROW_STEP, int(viewport_height * self.GROW_FRACTION))

    def reset(self) -> None:
        """The stream ended: no spare lines, no pace."""
        self._reserved = 0
        self._growth.clear()

    def relaid(self, before: int, after: int) -> None:
        """The lines were re-made (a new width): `before` lines became `after`."""
        self._reserved = 0  # the line count changes with the width
        if before and self._growth:
            # The pace in lines changes with the width by the same factor.
            scale = after / before
            self._growth = deque((at, round(lines * scale)) for at, lines in self._growth)

    def height(self, lines: int, streaming: bool) -> int:
        if not streaming:
            return lines
        if lines > self._reserved:
            step = min(self._grow_step, max(self.GROW_STEP, min(lines, self._fill_lines())))
            self._reserved = lines + step - 1
        elif len(self._growth) >= 2:
            # A first flush that brought much text at once (a reply reopened or continued
            # mid-stream) reserved a big step before the pace was known; once it is, a
            # gap well over what FILL_SECONDS of stream fills shrinks back, once.
            allowed = max(self.GROW_STEP, self._fill_lines())
            if self._reserved - lines > allowed + self.GROW_STEP:
                self._reserved = lines + allowed - 1
        return self._reserved

    def note(self, lines: int) -> None:
        """Record the line count at a streaming flush, for the pace in lines/second."""
        now = self._wall_clock()
        growth = self._growth
        growth.append((now, lines))
        while len(growth) > 2 and now - growth[1][0] >= self.RATE_WINDOW:
            growth.popleft()

    def _fill_lines(self) -> int:
        """How many lines the stream adds in FILL_SECONDS, at its recent pace."""
        growth = self._growth
        if len(growth) < 2:
            return self._grow_step  # no pace yet: the first flush
        (start, first), (end, last) = growth[0], growth[-1]
        if end - start < 0.5:  # too short a span to tell a pace from a burst
            return self._grow_step
        return int((last - first) / (end - start) * self.FILL_SECONDS) + 1
