"""An incremental decoder for `text/event-stream` bodies, following the WHATWG rules.

The decoder is fed whatever bytes the network delivers, split anywhere (inside a UTF-8
sequence, between CR and LF, in the middle of a field name) and returns complete events.
It deviates from the standard in one place on purpose: at EOF the pending event is
dispatched instead of discarded, because real servers end with `data: [DONE]` and no
blank line (see the recorded Mistral stream).
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass

# Lines longer than this are dropped: a hostile or broken server must not make us
# buffer without bound.
DEFAULT_MAX_LINE = 8 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class SSEEvent:
    event: str = "message"
    data: str = ""
    id: str | None = None


class SSEDecoder:
    """feed(bytes) -> complete events so far; close() -> whatever EOF completes.

    `warnings` collects one line per dropped over-long line/event.
    `retry` holds the last `retry:` value in milliseconds (informational only).
    """

    def __init__(self, *, max_line: int = DEFAULT_MAX_LINE) -> None:
        self.max_line = max_line
        self.warnings: list[str] = []
        self.retry: int | None = None
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._parts: list[str] = []  # pieces of the current, unfinished line
        self._part_len = 0
        self._skipping_line = False  # the current line overflowed; ignore it to its end
        self._pending_cr = False  # the last text ended in CR; a leading LF belongs to it
        self._at_start = True  # a BOM is only stripped at the very start
        self._data: list[str] = []
        self._data_len = 0
        self._event_type = ""
        self._last_id: str | None = None
        self._event_dropped = False  # part of the current event was too long
        self._closed = False

    # ---- public -------------------------------------------------------------------

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        if self._closed:
            raise ValueError("feed() after close()")
        if not chunk:
            return []
        return self._feed_text(self._decoder.decode(chunk))

    def close(self) -> list[SSEEvent]:
        """Flush at EOF: an unterminated last line and an undispatched event both count."""
        if self._closed:
            return []
        events = self._feed_text(self._decoder.decode(b"", final=True))
        self._closed = True
        if self._parts and not self._skipping_line:
            events.extend(self._line("".join(self._parts)))
        self._parts.clear()
        self._part_len = 0
        if self._skipping_line:
            self._skipping_line = False
        events.extend(self._dispatch())
        return events

    # ---- line splitting -----------------------------------------------------------

    def _feed_text(self, text: str) -> list[SSEEvent]:
        if not text:
            return []
        if self._at_start:
            self._at_start = False
            if text.startswith("\ufeff"):
                text = text[1:]
        if self._pending_cr:
            self._pending_cr = False
            if text.startswith("\n"):
                text = text[1:]
        if not text:
            return []
        # A CR at the very end may be the first half of a CRLF split across reads.
        self._pending_cr = text.endswith("\r")
        # str.split, not a regex: ~30x faster on a long line (a 128 MiB body took 3.5 s).
        if "\r" in text:
            text = text.replace("\r\n", "\n").replace("\r", "\n")
        pieces = text.split("\n")
        events: list[SSEEvent] = []
        if len(pieces) == 1:
            self._append_partial(pieces[0])
            return events
        # The first piece completes the line buffered from earlier reads.
        self._append_partial(pieces[0])
        events.extend(self._finish_line())
        for line in pieces[1:-1]:
            if len(line) > self.max_line:
                self._overflow()
                self._skipping_line = False
                continue
            events.extend(self._line(line))
        self._append_partial(pieces[-1])
        return events

    def _append_partial(self, piece: str) -> None:
        if not piece or self._skipping_line:
            return
        if self._part_len + len(piece) > self.max_line:
            self._overflow()
            return
        self._parts.append(piece)
        self._part_len += len(piece)

    def _overflow(self) -> None:
        self.warnings.append(
            f"dropped an event with a line longer than {self.max_line} characters"
        )
        self._parts.clear()
        self._part_len = 0
        self._skipping_line = True
        self._event_dropped = True

    def _finish_line(self) -> list[SSEEvent]:
        if self._skipping_line:
            # The over-long line ends here; nothing of it is kept.
            self._skipping_line = False
            return []
        line = "".join(self._parts)
        self._parts.clear()
        self._part_len = 0
        return self._line(line)

    # ---- field processing ---------------------------------------------------------

    def _line(self, line: str) -> list[SSEEvent]:
        if not line:
            return self._dispatch()
        if line.startswith(":"):
            return []  # comment, e.g. a keep-alive ping
        name, sep, value = line.partition(":")
        if sep and value.startswith(" "):
            value = value[1:]
        if name == "data":
            if self._data_len + len(value) > self.max_line:
                if not self._event_dropped:
                    self.warnings.append(
                        f"dropped an event whose data exceeded {self.max_line} characters"
                    )
                self._event_dropped = True
                self._data.clear()
                self._data_len = 0
            elif not self._event_dropped:
                self._data.append(value)
                self._data_len += len(value) + 1
        elif name == "event":
            self._event_type = value
        elif name == "id":
            if "\0" not in value:
                self._last_id = value
        elif name == "retry" and value.isascii() and value.isdigit():
            self.retry = int(value)
        return []

    def _dispatch(self) -> list[SSEEvent]:
        dropped = self._event_dropped
        data = "\n".join(self._data)
        has_data = bool(self._data)
        event_type = self._event_type or "message"
        self._data.clear()
        self._data_len = 0
        self._event_type = ""
        self._event_dropped = False
        if dropped or not has_data:
            return []
        return [SSEEvent(event=event_type, data=data, id=self._last_id)]
