"""A Markdown view for a reply that is still arriving, at a flat cost per token.

How it stays cheap (each job in its own module):

* `append()` only buffers; a one-shot timer flushes the buffer, its delay adapted to
  what recent frames cost (`pacing.FlushPacer`).
* `BlockSplitter` (`blocks`) cuts the text into top-level Markdown blocks. A finished
  block is rasterised once into lines and never again, unless the width or theme
  changes; only the open tail is re-rendered (`lines.BlockLines`). A resize
  re-rasterises them, even when Textual reuses a cached size and skips
  get_content_height. Long code fences and long lists are frozen in fixed pieces so
  the open tail stays small.
* While streaming, the height grows in jumps of up to half a screen
  (`growth.JumpGrowth`), so a view that follows the stream scrolls rarely.
* The widget is a single line-API widget: `render_line` indexes into the flat list of
  lines, so Textual never lays out hundreds of children. Lines are plain segment lists
  (a Textual Strip carries seven caches, and thousands of them make every garbage
  collection slower); only lines on screen become Strips.
* `finish()` parses the whole text once and re-renders only the blocks whose final
  form differs from what was streamed (e.g. a fence that was shown in pieces).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import ClassVar

from rich.segment import Segment
from rich.style import Style
from textual.geometry import Region, Size
from textual.strip import Strip
from textual.widget import Widget

from chatterm.ui.compat import SingleLayout
from chatterm.ui.markdown.blocks import Block, BlockSplitter, clean_source, final_blocks
from chatterm.ui.markdown.growth import JumpGrowth
from chatterm.ui.markdown.lines import BlockLines, RenderedBlock
from chatterm.ui.markdown.pacing import FlushPacer
from chatterm.ui.markdown.render import Line, rasterize


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

    STRIP_CACHE_SIZE: ClassVar[int] = 400
    """Frozen lines kept as ready Strips (a few screens' worth)."""

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
        self._pacer = FlushPacer(self._on_timer)
        self._growth = JumpGrowth(wall_clock)
        self._lines = BlockLines(self._rasterize)
        self._raw: list[str] = []
        self._pending: list[str] = []
        self._splitter = BlockSplitter()
        self._streaming = True
        self._rebuild = False  # append() after finish(): re-split the whole text once
        self._strip_cache: dict[int, Strip] = {}  # styled Strips of frozen lines
        self._frame = 0  # id of the latest render; only its paint is timed
        self._frame_started = 0.0
        self._unpainted = 0  # renders whose frame Textual has not painted yet
        self._base_style: Style | None = None
        self.flush_count = 0
        """How many times pending text was rendered (for tests and benchmarks)."""
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
        return self._pacer.interval

    @property
    def last_render_time(self) -> float:
        return self._pacer.last_cost

    @property
    def frames_timed(self) -> int:
        """How many flushes had their cost measured (for tests)."""
        return self._pacer.frames_timed

    @property
    def open_render_count(self) -> int:
        """How many open-tail blocks were rasterised while streaming."""
        return self._lines.open_render_count

    @property
    def frozen_blocks(self) -> tuple[RenderedBlock, ...]:
        return tuple(self._lines.frozen)

    @property
    def open_blocks(self) -> tuple[RenderedBlock, ...]:
        return tuple(self._lines.open)

    @property
    def open_source_length(self) -> int:
        """Characters of source in the open tail, re-parsed at each flush (for tests)."""
        return len(self._splitter.tail)

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
        self._pacer.cancel()
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
        self._pacer.cancel()
        if text is not None:
            self._raw = [text]
        self._pending.clear()
        self._streaming = False
        self._growth.reset()
        self._rebuild = False
        self._splitter = BlockSplitter()
        self._reconcile(final_blocks(self.text), [])
        self._await_paint(timed=False)

    def set_text(self, text: str) -> None:
        """Show a message that is already complete (history)."""
        self.finish(text)

    def rendered_lines(self) -> list[str]:
        """The rendered lines as plain text (what the terminal would show)."""
        if self._lines.width <= 0:
            self._layout_at(self.size.width or 80)
        return ["".join(segment.text for segment in line) for line in self._lines.all_lines()]

    def rendered_text(self) -> str:
        return "\n".join(line.rstrip() for line in self.rendered_lines())

    # -- Textual hooks ---------------------------------------------------------------

    def on_mount(self) -> None:
        # Deltas appended before the widget was mounted could not arm the timer. Armed
        # here directly: `is_mounted`, which _schedule checks, turns True only after
        # this handler, so text given before mount (a reply reopened mid-stream, a
        # continue) would wait for the next delta to be drawn.
        if self._pending or self._rebuild:
            self._pacer.arm()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._base_style = None
        self._strip_cache.clear()
        if self._lines.width > 0 and self._theme_name() != self._lines.code_theme:
            self._lines.width = 0  # force a re-rasterisation at the next layout
            self.refresh(layout=True)

    def get_content_width(self, container: Size, viewport: Size) -> int:
        return container.width

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        if width <= 0:
            return 0
        self._growth.fit_viewport(viewport.height)
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
        if width <= 0 or width == self._lines.width:
            return
        self._layout_at(width)
        if self._height() != self.size.height:
            self.refresh(layout=True)

    def render_line(self, y: int) -> Strip:
        # Lines were rasterised for this width (get_content_height or _match_width).
        style = self._base_style
        if style is None:  # computing rich_style walks the CSS; once per style change
            style = self._base_style = self.rich_style
        frozen = self._lines.frozen_lines
        if y < len(frozen):
            strip = self._strip_cache.get(y)
            if strip is None:
                if len(self._strip_cache) > self.STRIP_CACHE_SIZE:
                    self._strip_cache.clear()
                strip = self._strip_cache[y] = self._strip(frozen[y], style)
            return strip
        open_lines = self._lines.open_lines
        if 0 <= y - len(frozen) < len(open_lines):
            return self._strip(open_lines[y - len(frozen)], style)
        return Strip.blank(self.size.width, style)

    def _strip(self, line: Line, style: Style) -> Strip:
        return Strip(Segment.apply_style(line, style), self._lines.width)

    # -- internals ------------------------------------------------------------------

    def _schedule(self) -> None:
        if self.is_mounted:
            self._pacer.arm()

    def _on_timer(self) -> None:
        if not self.is_mounted:
            return
        try:
            self.flush()
        except Exception as error:  # a drawing bug must not take the stream down
            self.log.error("markdown flush failed", repr(error))

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
            self._pacer.record(self._clock() - self._frame_started)

    def _theme_name(self) -> str:
        try:
            dark = self.app.current_theme.dark
        except Exception:  # no app yet (widget built outside a running app)
            dark = True
        return self.DARK_CODE_THEME if dark else self.LIGHT_CODE_THEME

    def _height(self) -> int:
        return self._growth.height(len(self._lines), self._streaming)

    def _rasterize(self, block: Block, width: int, code_theme: str) -> list[Line]:
        app = self.app
        return rasterize(block, width, app.console, app.console_options, code_theme)

    def _advance(self, finished: list[Block], open_blocks: list[Block]) -> None:
        """Streaming step: place the new blocks, then refresh as little as will do."""
        lines = self._lines
        height = self._height()
        # The pace is measured from the text of the first flush on (sampled after it is
        # placed, below), so a first flush that brings a reply's earlier text at once
        # (reopened or continued mid-stream) does not count as a burst of pace.
        tail_start = len(lines.frozen_lines)
        old_tail = lines.open_lines
        lines.advance(finished, open_blocks)
        self._growth.note(len(lines))
        if height != self._height():
            self.refresh(layout=True)
            return
        # Same height: repaint only the lines that differ from the last flush, usually
        # the last line or two of a growing paragraph. Every repainted line costs Textual
        # a pass over each widget that overlaps it, so a whole open block (a paragraph,
        # a piece of a code fence) repainted per flush would cost several times more.
        new_tail = lines.frozen_lines[tail_start:] + lines.open_lines
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
        if self._lines.reconcile(frozen, open_blocks):
            self._strip_cache.clear()
        self.refresh(layout=True)

    def _layout_at(self, width: int) -> None:
        """(Re)rasterise everything for a new width or theme. O(reply), rare."""
        before = len(self._lines)
        if self._lines.relayout(width, self._theme_name()):
            self._strip_cache.clear()
            self._growth.relaid(before, len(self._lines))


__all__ = ["RenderedBlock", "StreamingMarkdown"]
