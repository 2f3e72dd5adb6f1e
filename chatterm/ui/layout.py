"""A widget mixin that spares Textual a second, idle layout pass.

When a layout changes a widget's virtual size, Textual stores the new size through a
reactive that asks for *another* full layout of the screen. For our reply widgets that
second pass has nothing left to change (the size was set by the pass that is running,
and the message list keeps a stable scrollbar gutter), yet it repaints the screen: one
wasted frame each time a streaming reply grows. Textual itself stores the size without
the extra layout when it only scrolls; this makes our widgets do the same always.

Relies on `Widget._size_updated` (Textual is pinned to an exact version);
tests/test_streaming_markdown.py checks that a growing reply costs one layout.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from textual.geometry import Size
    from textual.widget import Widget

    _Base = Widget
else:
    _Base = object


class SingleLayout(_Base):
    """Mix in before the Textual widget class."""

    def _size_updated(
        self, size: Size, virtual_size: Size, container_size: Size, layout: bool = True
    ) -> bool:
        return super()._size_updated(size, virtual_size, container_size, layout=False)
