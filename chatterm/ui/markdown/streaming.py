"""A Markdown view for a reply that is still arriving, at a flat cost per token.

How it stays cheap:

* `append()` only buffers. A one-shot timer flushes the buffer; its delay adapts to
  what the previous frame cost (CPU from the flush until Textual painted it), so a
  fast stream is rendered in batches rather than per token and rendering takes a
  bounded share of the CPU (1 / INTERVAL_FACTOR) whatever the machine.
* `BlockSplitter` cuts the text into top-level Markdown blocks. A block whose
  successor has started is *finished*: it is rasterised once into strips and never
  again (unless the width or theme changes: a resize re-rasterises them, even when
  Textual reuses a cached size and skips get_content_height). Only the open tail is
  re-rendered.
* Long code fences and long lists — the open block that keeps growing — are frozen
  in fixed pieces (CODE_CHUNK_LINES lines / LIST_RUN_ITEMS items) so the open
  tail stays small.
* The widget is a single line-API widget: finished lines live in one list and
  `render_line` indexes into it, so Textual never lays out hundreds of children.
  They are kept as plain segment lists (a Textual Strip carries seven caches, and
  thousands of them make every garbage collection slower); only lines on screen
  become Strips.
* `finish()` parses the whole text once and re-renders only the blocks whose final
  form differs from what was streamed (e.g. a fence that was shown in pieces).
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections import deque
from collections.abc import Callable, Iterable
from typing import ClassVar

from rich.segment import Segment
from rich.style import Style
from textual.geometry import Region, Size
from textual.strip import Strip
from textual.widget import Widget

from chatterm.ui.layout import SingleLayout
from chatterm.ui.markdown.blocks import Block, BlockSplitter, clean_source, final_blocks
from chatterm.ui.markdown.render import Line, rasterize


class RenderedBlock:
    """A block and its lines at one width. `render_count` counts rasterisations."""

    __slots__ = ("block", "lines", "render_count", "width")

    def __init__(self, block: Block) -> None:
        self.block = block
        self.render_count = 0
        self.lines: list[Line] = []
        self.width = -1


class StreamingMarkdown(SingleLayout, Widget):
    """Shows an assistant reply live as Markdown.

    Call `append()` for each delta, `finish()` when the stream ends, or `set_text()`
    for a message that is already complete.
    """

    DEFAULT_CSS = """
    StreamingMarkdown {
        width: 1fr;
        height: auto;
    }
    """

    MIN_INTERVAL: ClassVar[float] = 1 / 60
    MAX_INTERVAL: ClassVar[float] = 0.25
    """Upper bound, so the view is at most ~0.3 s behind the stream even on a slow or
    busy machine (flush delay + one frame), and still updates 4 times a second. The
    end of a reply is drawn at once, whatever the delay."""
    INTERVAL_FACTOR: ClassVar[float] = 50.0
    """The flush delay is this many times the last frame's CPU cost (then clamped),
    i.e. streaming spends about 1/50 of the time drawing the reply's new text."""

    GROW_STEP: ClassVar[int] = 4
    """While streaming, the height grows at least this many lines at a time..."""
    GROW_FRACTION: ClassVar[float] = 1 / 2
    """...and up to this share of the screen's height, but never by more lines than
    the reply already has. Each growth is a new layout and, in a view that follows the
    stream, a scroll, after which Textual redraws everything on screen (a 1-line
    scroll costs ~4 times a normal frame). Growing by up to half a screen at a time,
    the way xterm's jump scroll does, redraws the screen twice per screenful instead
    of every few lines, and keeps the text still while it is read.
    The spare lines are blank and go when the reply ends."""
    FILL_SECONDS: ClassVar[float] = 1.5
    """...and by no more lines than the stream adds in this many seconds, so the blank
    lines below the text fill within about that time: half a screen of blank lines
    under a slow stream (a line a second) looks like a stall. A fast stream still jumps
    by the whole share (at most one growth per FILL_SECONDS), a slow one by fewer
    lines, more often in lines but never more often in time."""
    RATE_WINDOW: ClassVar[float] = 3.0
    """Seconds of recent growth the stream's pace in lines per second is taken from."""

    STRIP_CACHE_SIZE: ClassVar[int] = 400
    """Frozen lines kept as ready Strips (a few screens' worth)."""

    RECENT_FRAMES: ClassVar[int] = 5
    """The delay follows the median cost of this many recent frames."""

    DARK_CODE_THEME: ClassVar[str] = "monokai"
    LIGHT_CODE_THEME: ClassVar[str] = "xcode"

    def __init__(
        self,
        text: str | None = None,
        *,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
        clock: Callable[[], float] = time.process_time,
        wall_clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self._clock = clock
        self._wall_clock = wall_clock
        self._growth: deque[tuple[float, int]] = deque()  # (time, lines) at recent flushes
        self._raw: list[str] = []
        self._pending: list[str] = []
        self._splitter = BlockSplitter()
        self._streaming = True
        self._rebuild = False  # append() after finish(): re-split the whole text once
        self._frozen: list[RenderedBlock] = []
        self._frozen_starts: list[int] = []  # first line (gap included) of each block
        self._frozen_lines: list[Line] = []
        self._strip_cache: dict[int, Strip] = {}  # styled Strips of frozen lines
        self._open: list[RenderedBlock] = []
        self._open_lines: list[Line] = []
        self._width = 0  # width the lines above were rasterised at (0: not yet)
        self._grow_step = self.GROW_STEP
        self._reserved = 0  # the height while streaming: the lines plus spare ones
        self._code_theme = ""
        self._timer: asyncio.TimerHandle | None = None
        self._interval = self.MIN_INTERVAL
        self._last_render_time = 0.0
        self._frame = 0  # id of the latest render; only its paint is timed
        self._frame_started = 0.0
        self._unpainted = 0  # renders whose frame Textual has not painted yet
        self._base_style: Style | None = None
        self._recent: deque[float] = deque(maxlen=self.RECENT_FRAMES)
        self.frames_timed = 0
        """How many flushes had their cost measured (for tests)."""
        self.flush_count = 0
        """How many times pending text was rendered (for tests and benchmarks)."""
        self.open_render_count = 0
        """How many open-tail blocks were rasterised while streaming."""
        self.flush_callback: Callable[[], None] | None = None
        """Called after each streaming flush, so other widgets can redraw in the same
        frame instead of costing one of their own."""
        if text is not None:
            self.set_text(text)

    # -- public API ----------------------------------------------------------------

    @property
    def text(self) -> str:
        """Everything received so far, exactly as received."""
        if len(self._raw) > 1:
            self._raw[:] = ["".join(self._raw)]
        return self._raw[0] if self._raw else ""

    @property
    def is_streaming(self) -> bool:
        return self._streaming

    @property
    def flush_interval(self) -> float:
        """Seconds the next flush waits after an append."""
        return self._interval

    @property
    def last_render_time(self) -> float:
        return self._last_render_time

    @property
    def frozen_blocks(self) -> tuple[RenderedBlock, ...]:
        return tuple(self._frozen)

    @property
    def open_blocks(self) -> tuple[RenderedBlock, ...]:
        return tuple(self._open)

    @property
    def has_pending(self) -> bool:
        """True while appended text waits for the flush timer."""
        return bool(self._pending) or self._rebuild

    @property
    def is_painted(self) -> bool:
        """True once everything received is rendered and Textual painted that frame."""
        return not self.has_pending and self._unpainted == 0

    def append(self, text: str) -> None:
        """Buffer a delta; a timer renders it. O(len(text))."""
        if not text:
            return
        self._raw.append(text)
        self._pending.append(text)
        if not self._streaming:
            self._streaming = True
            self._rebuild = True
        self._schedule()

    def flush(self) -> None:
        """Render pending text now (normally the timer does this)."""
        self._cancel_timer()
        if not self._pending and not self._rebuild:
            return
        self._frame += 1
        self._frame_started = self._clock()
        if self._rebuild:
            self._rebuild = False
            self._pending.clear()
            self._splitter = BlockSplitter()
            self._splitter.feed(clean_source(self.text))
            finished, open_blocks = self._splitter.split()
            self._reconcile(finished, open_blocks)
        else:
            self._splitter.feed(clean_source("".join(self._pending)))
            self._pending.clear()
            finished, open_blocks = self._splitter.split()
            self._advance(finished, open_blocks)
        self.flush_count += 1
        if self.flush_callback is not None:
            self.flush_callback()
        # The cost that matters includes Textual's layout and paint of this frame.
        self._await_paint(timed=True)

    def finish(self, text: str | None = None) -> None:
        """End the stream and render the full text once, correctly.

        `text`, if given, replaces what was received (e.g. the stored final reply).
        """
        self._cancel_timer()
        if text is not None:
            self._raw = [text]
        self._pending.clear()
        self._streaming = False
        self._reserved = 0
        self._growth.clear()
        self._rebuild = False
        self._splitter = BlockSplitter()
        self._reconcile(final_blocks(self.text), [])
        self._await_paint(timed=False)

    def set_text(self, text: str) -> None:
        """Show a message that is already complete (history)."""
        self.finish(text)

    def rendered_lines(self) -> list[str]:
        """The rendered lines as plain text (what the terminal would show)."""
        if self._width <= 0:
            self._layout_at(self.size.width or 80)
        return ["".join(segment.text for segment in line) for line in self._all_lines()]

    def rendered_text(self) -> str:
        return "\n".join(line.rstrip() for line in self.rendered_lines())

    # -- Textual hooks ---------------------------------------------------------------

    def on_mount(self) -> None:
        # Deltas appended before the widget was mounted could not arm the timer. Armed
        # here directly: `is_mounted`, which _schedule checks, turns True only after
        # this handler, so text given before mount (a reply reopened mid-stream, a
        # continue) would wait for the next delta to be drawn.
        if (self._pending or self._rebuild) and self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self._interval, self._on_timer)

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._base_style = None
        self._strip_cache.clear()
        if self._width > 0 and self._theme_name() != self._code_theme:
            self._width = 0  # force a re-rasterisation at the next layout
            self.refresh(layout=True)

    def get_content_width(self, container: Size, viewport: Size) -> int:
        return container.width

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        if width <= 0:
            return 0
        self._grow_step = max(self.GROW_STEP, int(viewport.height * self.GROW_FRACTION))
        self._layout_at(width)
        return self._height()

    def render_lines(self, crop: Region) -> list[Strip]:
        self._match_width()
        return super().render_lines(crop)

    def _match_width(self) -> None:
        """Re-rasterise if the lines were made for another width than the one drawn.

        Lines are normally made in get_content_height, but Textual caches box models
        by container size until the widget asks for a new layout. A reply that has
        stopped changing never asks, so after 120 -> 40 -> 120 columns the cached
        box for 120 is reused and get_content_height is not called: without this,
        the lines made for 40 columns would be drawn in the 120-column box, clipped
        to its height (the end of the reply off screen).
        """
        width = self.size.width
        if width <= 0 or width == self._width:
            return
        self._layout_at(width)
        if self._height() != self.size.height:
            self.refresh(layout=True)

    def render_line(self, y: int) -> Strip:
        # Lines were rasterised for this width (get_content_height or _match_width).
        style = self._base_style
        if style is None:  # computing rich_style walks the CSS; once per style change
            style = self._base_style = self.rich_style
        frozen = self._frozen_lines
        if y < len(frozen):
            strip = self._strip_cache.get(y)
            if strip is None:
                if len(self._strip_cache) > self.STRIP_CACHE_SIZE:
                    self._strip_cache.clear()
                strip = self._strip_cache[y] = self._strip(frozen[y], style)
            return strip
        if 0 <= y - len(frozen) < len(self._open_lines):
            return self._strip(self._open_lines[y - len(frozen)], style)
        return Strip.blank(self.size.width, style)

    def _strip(self, line: Line, style: Style) -> Strip:
        return Strip(Segment.apply_style(line, style), self._width)

    # -- internals ------------------------------------------------------------------

    def _schedule(self) -> None:
        if self._timer is None and self.is_mounted:
            # A bare event-loop timer: a Textual Timer would cost a task and a message
            # per flush, a tenth of the flush itself.
            self._timer = asyncio.get_running_loop().call_later(self._interval, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        if not self.is_mounted:
            return
        try:
            self.flush()
        except Exception as error:  # a drawing bug must not take the stream down
            self.log.error("markdown flush failed", repr(error))

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _await_paint(self, timed: bool) -> None:
        if not self.is_mounted:
            return
        if not timed:
            self._frame += 1
        self._unpainted += 1
        self.call_after_refresh(self._painted, self._frame, timed)

    def _painted(self, frame: int, timed: bool) -> None:
        self._unpainted -= 1
        if timed and frame == self._frame:
            self._record_render_time(self._clock() - self._frame_started)

    def _record_render_time(self, seconds: float) -> None:
        self._last_render_time = seconds
        self.frames_timed += 1
        # The median of the last few frames: one slow frame (a lexer loading, a
        # resize) must not stretch the delay for the rest of the stream.
        self._recent.append(seconds)
        cost = statistics.median(self._recent)
        self._interval = min(max(self.INTERVAL_FACTOR * cost, self.MIN_INTERVAL), self.MAX_INTERVAL)

    def _theme_name(self) -> str:
        try:
            dark = self.app.current_theme.dark
        except Exception:  # no app yet (widget built outside a running app)
            dark = True
        return self.DARK_CODE_THEME if dark else self.LIGHT_CODE_THEME

    def _height(self) -> int:
        lines = len(self._frozen_lines) + len(self._open_lines)
        if not self._streaming:
            return lines
        # While streaming, grow in steps (see GROW_FRACTION); the spare lines are blank.
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

    def _note_growth(self) -> None:
        """Record the line count at a streaming flush, for the pace in lines/second."""
        now = self._wall_clock()
        growth = self._growth
        growth.append((now, len(self._frozen_lines) + len(self._open_lines)))
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

    def _all_lines(self) -> list[Line]:
        return self._frozen_lines + self._open_lines

    def _rasterize(self, rendered: RenderedBlock) -> bool:
        """Bring `rendered` to the current width; False when it already was."""
        if self._width <= 0 or rendered.width == self._width:
            return False
        app = self.app
        rendered.lines = rasterize(
            rendered.block, self._width, app.console, app.console_options, self._code_theme
        )
        rendered.width = self._width
        rendered.render_count += 1
        return True

    def _gap(self) -> list[Line]:
        return [[Segment(" " * self._width)]] if self._width > 0 else []

    def _place(self, rendered: RenderedBlock, lines: list[Line], first: bool) -> None:
        """Append a block's lines (and the blank line before it) to `lines`."""
        if not first and not rendered.block.joined:
            lines.extend(self._gap())
        lines.extend(rendered.lines)

    def _freeze(self, rendered: RenderedBlock) -> None:
        self._rasterize(rendered)
        self._frozen_starts.append(len(self._frozen_lines))
        self._place(rendered, self._frozen_lines, first=not self._frozen)
        self._frozen.append(rendered)

    def _set_open(self, blocks: Iterable[Block], reuse: dict[Block, RenderedBlock]) -> None:
        self._open = []
        lines: list[Line] = []
        for block in blocks:
            rendered = reuse.get(block) or RenderedBlock(block)
            if self._rasterize(rendered):
                self.open_render_count += 1
            self._place(rendered, lines, first=not self._frozen and not self._open)
            self._open.append(rendered)
        self._open_lines = lines

    def _advance(self, finished: list[Block], open_blocks: list[Block]) -> None:
        """Streaming step: append newly finished blocks, replace the open tail."""
        height = self._height()
        # The pace is measured from the text of the first flush on (sampled after it is
        # placed, below), so a first flush that brings a reply's earlier text at once
        # (reopened or continued mid-stream) does not count as a burst of pace.
        tail_start = len(self._frozen_lines)
        old_tail = self._open_lines
        # A block that was open at the last flush and is unchanged keeps its strips:
        # freezing it costs nothing and it still counts as rendered once.
        previous = {rendered.block: rendered for rendered in self._open}
        for block in finished:
            self._freeze(previous.pop(block, None) or RenderedBlock(block))
        self._set_open(open_blocks, previous)
        self._note_growth()
        if height != self._height():
            self.refresh(layout=True)
            return
        # Same height: repaint only the lines that differ from the last flush, usually
        # the last line or two of a growing paragraph. Every repainted line costs Textual
        # a pass over each widget that overlaps it, so a whole open block (a paragraph,
        # a piece of a code fence) repainted per flush would cost several times more.
        new_tail = self._frozen_lines[tail_start:] + self._open_lines
        same = 0
        for old_line, new_line in zip(old_tail, new_tail, strict=False):
            if old_line != new_line:
                break
            same += 1
        start = tail_start + same
        end = tail_start + max(len(old_tail), len(new_tail))
        if end > start:
            self.refresh(Region(0, start, self.size.width, end - start))

    def _reconcile(self, frozen: list[Block], open_blocks: list[Block]) -> None:
        """Install a whole new block list, keeping every block that did not change."""
        keep = 0
        while (
            keep < len(frozen)
            and keep < len(self._frozen)
            and self._frozen[keep].block == frozen[keep]
        ):
            keep += 1
        reusable = {r.block: r for r in self._frozen[keep:] + self._open}
        if keep < len(self._frozen):
            self._strip_cache.clear()
            del self._frozen_lines[self._frozen_starts[keep] :]
            del self._frozen_starts[keep:]
            del self._frozen[keep:]
        for block in frozen[keep:]:
            self._freeze(reusable.pop(block, None) or RenderedBlock(block))
        self._set_open(open_blocks, reusable)
        self.refresh(layout=True)

    def _layout_at(self, width: int) -> None:
        """(Re)rasterise everything for a new width or theme. O(reply), rare."""
        theme = self._theme_name()
        if width == self._width and theme == self._code_theme:
            return
        if theme != self._code_theme:
            for rendered in self._frozen + self._open:
                rendered.width = -1
        self._width = width
        self._code_theme = theme
        self._reserved = 0  # the line count changes with the width
        before = len(self._frozen_lines) + len(self._open_lines)
        frozen, self._frozen = self._frozen, []
        self._frozen_lines = []
        self._strip_cache.clear()
        self._frozen_starts = []
        for rendered in frozen:
            self._freeze(rendered)
        self._set_open([r.block for r in self._open], {r.block: r for r in self._open})
        after = len(self._frozen_lines) + len(self._open_lines)
        if before and self._growth:
            # The pace in lines changes with the width by the same factor.
            scale = after / before
            self._growth = deque((at, round(lines * scale)) for at, lines in self._growth)


__all__ = ["RenderedBlock", "StreamingMarkdown"]
