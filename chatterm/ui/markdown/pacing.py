"""When the streaming Markdown view draws: a flush timer whose delay follows frame cost.

`append()` only buffers; this one-shot timer flushes the buffer. Its delay is a multiple
(INTERVAL_FACTOR) of what recent frames cost (CPU from the flush until Textual painted
it), clamped, so a fast stream is drawn in batches rather than per token and drawing
takes a bounded share of the CPU whatever the machine.
"""

from __future__ import annotations

import asyncio
import statistics
from collections import deque
from collections.abc import Callable
from typing import ClassVar


class FlushPacer:
    """The flush timer and its adaptive delay. Holds no Textual state."""

    MIN_INTERVAL: ClassVar[float] = 1 / 60
    MAX_INTERVAL: ClassVar[float] = 0.25
    """Upper bound, so the view is at most ~0.3 s behind the stream even on a slow or
    busy machine (flush delay + one frame), and still updates 4 times a second. The
    end of a reply is drawn at once, whatever the delay."""
    INTERVAL_FACTOR: ClassVar[float] = 50.0
    """The flush delay is this many times the last frame's CPU cost (then clamped),
    i.e. streaming spends about 1/50 of the time drawing the reply's new text."""
    RECENT_FRAMES: ClassVar[int] = 5
    """The delay follows the median cost of this many recent frames."""

    def __init__(self, on_fire: Callable[[], None]) -> None:
        self._on_fire = on_fire
        self._timer: asyncio.TimerHandle | None = None
        self._recent: deque[float] = deque(maxlen=self.RECENT_FRAMES)
        self.interval = self.MIN_INTERVAL
        """Seconds the next flush waits after an append."""
        self.last_cost = 0.0
        """What the last timed frame cost, in seconds of the widget's clock."""
        self.frames_timed = 0
        """How many frames had their cost recorded."""

    @property
    def armed(self) -> bool:
        return self._timer is not None

    def arm(self) -> None:
        """Start the timer unless it runs already. Needs a running event loop."""
        if self._timer is None:
            # A bare event-loop timer: a Textual Timer would cost a task and a message
            # per flush, a tenth of the flush itself.
            self._timer = asyncio.get_running_loop().call_later(self.interval, self._fire)

    def cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _fire(self) -> None:
        self._timer = None
        self._on_fire()

    def record(self, seconds: float) -> None:
        """Note what a frame cost; the next delay follows the recent median."""
        self.last_cost = seconds
        self.frames_timed += 1
        # The median of the last few frames: one slow frame (a lexer loading, a
        # resize) must not stretch the delay for the rest of the stream.
        self._recent.append(seconds)
        cost = statistics.median(self._recent)
        self.interval = min(max(self.INTERVAL_FACTOR * cost, self.MIN_INTERVAL),
                            self.MAX_INTERVAL)
