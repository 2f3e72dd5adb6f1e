"""The tree view's list: one line per message, drawn with Textual's line API.

Only the lines on screen are ever rendered, so a tree of 2,000 messages opens as fast as
one of 20 (an OptionList would measure every option first). ↑/↓, PgUp/PgDn, Home/End
move the cursor; Enter or a click chooses the line under it (`BranchTree.Chosen`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Region, Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from chatterm.ui import inert
from chatterm.ui.branches.layout import TreeLine

# A role label's column, so the first words line up.
ROLE_WIDTH = 6


class BranchTree(ScrollView, can_focus=True):
    """The lines of a conversation tree (see layout.tree_lines), with a cursor."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "branch-tree--cursor", "branch-tree--current", "branch-tree--muted",
        "branch-tree--version",
    }
    DEFAULT_CSS = """
    BranchTree {
        height: 1fr;
        background: $surface;
    }
    BranchTree > .branch-tree--cursor {
        background: $block-cursor-background;
        color: $block-cursor-foreground;
        text-style: bold;
    }
    BranchTree:blur > .branch-tree--cursor {
        background: $block-cursor-blurred-background;
    }
    BranchTree > .branch-tree--current {
        color: $accent;
        text-style: bold;
    }
    BranchTree > .branch-tree--muted {
        color: $text-muted;
    }
    BranchTree > .branch-tree--version {
        color: $primary;
        text-style: bold;
    }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "move(-1)", show=False),
        Binding("down", "move(1)", show=False),
        Binding("pageup", "page(-1)", show=False),
        Binding("pagedown", "page(1)", show=False),
        Binding("home", "jump(0)", show=False),
        Binding("end", "jump(-1)", show=False),
        Binding("enter", "choose", show=False),
    ]

    cursor: reactive[int] = reactive(0)

    class Chosen(Message):
        """A line was chosen (Enter or a click): its message id."""

        def __init__(self, message_id: str) -> None:
            super().__init__()
            self.message_id = message_id

    def __init__(self, lines: Sequence[TreeLine] = (), *, cursor: int = 0,
                 id: str | None = None) -> None:
        super().__init__(id=id)
        self.lines: list[TreeLine] = list(lines)
        self.set_reactive(BranchTree.cursor, self.validate_cursor(cursor))
        # Known before the first layout, which sizes an auto-height list by it.
        self.virtual_size = Size(0, len(self.lines))

    # ---- what the owner uses -----------------------------------------------------------

    @property
    def cursor_line(self) -> TreeLine | None:
        return self.lines[self.cursor] if self.lines else None

    def set_lines(self, lines: Sequence[TreeLine], cursor: int = 0) -> None:
        self.lines = list(lines)
        self.virtual_size = Size(self.size.width, len(self.lines))
        self.cursor = max(0, min(cursor, len(self.lines) - 1))
        self.refresh()

    def line_of(self, message_id: str) -> int | None:
        for index, line in enumerate(self.lines):
            if line.message_id == message_id:
                return index
        return None

    # ---- moving --------------------------------------------------------------------------

    def on_mount(self) -> None:
        self.virtual_size = Size(self.size.width, len(self.lines))

    def on_resize(self, event: events.Resize) -> None:
        self.virtual_size = Size(event.size.width, len(self.lines))
        self._show_cursor(center=True)

    def validate_cursor(self, cursor: int) -> int:
        return max(0, min(cursor, len(self.lines) - 1))

    def watch_cursor(self, old: int, new: int) -> None:
        self.refresh_line(old - int(self.scroll_offset.y))
        self.refresh_line(new - int(self.scroll_offset.y))
        self._show_cursor()

    def _show_cursor(self, *, center: bool = False) -> None:
        if self.lines:
            self.scroll_to_region(Region(0, self.cursor, 1, 1), animate=False, center=center,
                                  immediate=True, force=True)

    def center_cursor(self) -> None:
        self._show_cursor(center=True)

    def action_move(self, step: int) -> None:
        self.cursor += step

    def action_page(self, step: int) -> None:
        self.cursor += step * max(1, self.scrollable_content_region.height - 1)

    def action_jump(self, where: int) -> None:
        self.cursor = where if where >= 0 else len(self.lines) - 1

    def action_choose(self) -> None:
        line = self.cursor_line
        if line is not None:
            self.post_message(self.Chosen(line.message_id))

    def on_click(self, event: events.Click) -> None:
        index = int(self.scroll_offset.y) + event.y
        if 0 <= index < len(self.lines):
            self.cursor = index
            self.action_choose()

    # ---- drawing -------------------------------------------------------------------------

    def render_line(self, y: int) -> Strip:
        index = int(self.scroll_offset.y) + y
        width = self.size.width
        base = self.rich_style
        if not 0 <= index < len(self.lines):
            return Strip.blank(width, base)
        text = self._line_text(self.lines[index], width)
        if index == self.cursor:
            text.stylize(self.get_component_rich_style("branch-tree--cursor"))
        segments = list(text.render(self.app.console))
        strip = Strip(segments).extend_cell_length(width, base).crop(0, width)
        return Strip([Segment(s.text, base + s.style if s.style else base, s.control)
                      for s in strip], width)

    def _line_text(self, line: TreeLine, width: int) -> Text:
        muted = self.get_component_rich_style("branch-tree--muted")
        strong = self.get_component_rich_style("branch-tree--current") if line.on_current \
            else Style()
        marker = "● " if line.is_current else "  "
        # Deep nesting keeps a third of the line for the guides at most.
        guides = ("│ " * line.level)[: max(0, width // 3)]
        left = Text.assemble((marker, strong), (guides, muted),
                             (line.role.ljust(ROLE_WIDTH), strong + Style(bold=True)))
        right = Text()
        if line.model:
            model = inert.line(line.model)
            limit = max(8, width // 4)
            if len(model) > limit:
                model = model[: limit - 1] + "…"
            right.append(" " + model, muted)
        if line.version is not None:
            right.append(f" {line.version[0]}/{line.version[1]}",
                         self.get_component_rich_style("branch-tree--version"))
        room = width - left.cell_len - right.cell_len - 1
        words = Text(inert.line(line.words), style=strong, no_wrap=True)
        if room > 0:
            words.truncate(room, overflow="ellipsis", pad=True)
        else:
            words = Text()
        return Text.assemble(left, words, right, " ", no_wrap=True, end="")
