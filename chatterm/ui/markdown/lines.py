"""The lines of a reply, block by block: finished blocks frozen, the open tail replaced.

A block whose successor has started is *finished*: it is rasterised once and its lines
are appended to one flat list that is never rewritten (unless the width or the code
theme changes). Only the open tail's lines are made again at each flush. Lines are kept
as plain segment lists; the widget turns the few on screen into Strips.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from rich.segment import Segment

from chatterm.ui.markdown.blocks import Block
from chatterm.ui.markdown.render import Line

Rasterizer = Callable[[Block, int, str], list[Line]]
"""(block, width, code theme) -> the block's lines."""


class RenderedBlock:
    """A block and its lines at one width. `render_count` counts rasterisations."""

    __slots__ = ("block", "lines", "render_count", "width")

    def __init__(self, block: Block) -> None:
        self.block = block
        self.render_count = 0
        self.lines: list[Line] = []
        self.width = -1


class BlockLines:
    """The frozen blocks and the open tail of one reply, as lines at one width."""

    def __init__(self, rasterize: Rasterizer) -> None:
        self._rasterizer = rasterize
        self.frozen: list[RenderedBlock] = []
        self.frozen_starts: list[int] = []  # first line (gap included) of each block
        self.frozen_lines: list[Line] = []
        self.open: list[RenderedBlock] = []
        self.open_lines: list[Line] = []
        self.width = 0  # width the lines above were rasterised at (0: not yet)
        self.code_theme = ""
        self.open_render_count = 0
        """How many open-tail blocks were rasterised while streaming."""

    def __len__(self) -> int:
        return len(self.frozen_lines) + len(self.open_lines)

    def all_lines(self) -> list[Line]:
        return self.frozen_lines + self.open_lines

    def advance(self, finished: list[Block], open_blocks: list[Block]) -> None:
        """Streaming step: append newly finished blocks, replace the open tail."""
        # A block that was open at the last flush and is unchanged keeps its strips:
        # freezing it costs nothing and it still counts as rendered once.
        previous = {rendered.block: rendered for rendered in self.open}
        for block in finished:
            kept = previous.pop(block, None)
            self._freeze(kept or RenderedBlock(block))
        self._set_open(open_blocks, previous)

    def reconcile(self, frozen: list[Block], open_blocks: list[Block]) -> bool:
        """Install a whole new block list, keeping every block that did not change.

        True when frozen lines were cut (so anything cached from them is stale)."""
        keep = 0
        while (
            keep < len(frozen)
            and keep < len(self.frozen)
            and self.frozen[keep].block == frozen[keep]
        ):
            keep += 1
        reusable = {r.block: r for r in self.frozen[keep:] + self.open}
        cut = keep < len(self.frozen)
        if cut:
            del self.frozen_lines[self.frozen_starts[keep] :]
            del self.frozen_starts[keep:]
            del self.frozen[keep:]
        for block in frozen[keep:]:
            kept = reusable.pop(block, None)
            self._freeze(kept or RenderedBlock(block))
        self._set_open(open_blocks, reusable)
        return cut

    def relayout(self, width: int, theme: str) -> bool:
        """(Re)rasterise everything for a new width or theme. O(reply), rare.

        False when the lines were already made for both."""
        if width == self.width and theme == self.code_theme:
            return False
        if theme != self.code_theme:
            for rendered in self.frozen + self.open:
                rendered.width = -1
        self.width = width
        self.code_theme = theme
        frozen, self.frozen = self.frozen, []
        self.frozen_lines = []
        self.frozen_starts = []
        for rendered in frozen:
            self._freeze(rendered)
        self._set_open([r.block for r in self.open], {r.block: r for r in self.open})
        return True

    def _rasterize(self, rendered: RenderedBlock) -> bool:
        """Bring `rendered` to the current width; False when it already was."""
        if self.width <= 0 or rendered.width == self.width:
            return False
        rendered.lines = self._rasterizer(rendered.block, self.width, self.code_theme)
        rendered.width = self.width
        rendered.render_count += 1
        return True

    def _gap(self) -> list[Line]:
        return [[Segment(" " * self.width)]] if self.width > 0 else []

    def _place(self, rendered: RenderedBlock, lines: list[Line], first: bool) -> None:
        """Append a block's lines (and the blank line before it) to `lines`."""
        if not first and not rendered.block.joined:
            lines.extend(self._gap())
        lines.extend(rendered.lines)

    def _freeze(self, rendered: RenderedBlock) -> None:
        self._rasterize(rendered)
        self.frozen_starts.append(len(self.frozen_lines))
        self._place(rendered, self.frozen_lines, first=not self.frozen)
        self.frozen.append(rendered)

    def _set_open(self, blocks: Iterable[Block], reuse: dict[Block, RenderedBlock]) -> None:
        self.open = []
        lines: list[Line] = []
        for block in blocks:
            rendered = reuse.get(block) or RenderedBlock(block)
            if self._rasterize(rendered):
                self.open_render_count += 1
            self._place(rendered, lines, first=not self.frozen and not self.open)
            self.open.append(rendered)
        self.open_lines = lines
