"""The one filter list: a text box over an option list, for the pickers and the sidebar.

The box keeps the focus while ↑/↓ and PgUp/PgDn move the list's highlight, and Enter
in the box (or a click or Enter on a row) chooses the highlighted row. The owner decides
what the rows are: it listens for `FilterList.Changed` (the text changed) and rebuilds
the rows with `set_options`, and acts on `FilterList.Selected`. Matching lives in the
core (`chatterm.fuzzy`); `highlight` styles the letters it matched.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.content import Content
from textual.message import Message
from textual.widgets import Input, OptionList
from textual.widgets.option_list import Option


def highlight(text: str, positions: Sequence[int], style: str = "bold underline") -> Content:
    """`text` as plain Content (never parsed as markup) with `positions` styled."""
    content = Content(text)
    ordered = sorted(positions)
    index = 0
    while index < len(ordered):
        start = end = ordered[index]
        while index + 1 < len(ordered) and ordered[index + 1] == end + 1:
            index += 1
            end = ordered[index]
        content = content.stylize(style, start, end + 1)
        index += 1
    return content


class FilterInput(Input):
    """The filter box; keys in `passes` are left to the owner's bindings, not typed."""

    def __init__(self, *, passes: frozenset[str] = frozenset(), placeholder: str = "",
                 id: str | None = None) -> None:
        super().__init__(placeholder=placeholder, id=id)
        self.passes = passes

    def check_consume_key(self, key: str, character: str | None) -> bool:
        # Textual drops an ancestor's binding for any key the focused Input may type.
        return key not in self.passes and super().check_consume_key(key, character)


class FilterList(Vertical):
    """A filter box and the list it filters.

    Args:
        input_id / list_id: ids of the box and the list (the stylesheet and tests use them).
        placeholder: the box's hint text.
        passes: keys the box does not type, left to the owner's bindings (the
            multi-select picker's Space).
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "move(-1)", show=False),
        Binding("down", "move(1)", show=False),
        Binding("pageup", "page(-1)", show=False),
        Binding("pagedown", "page(1)", show=False),
    ]

    class Changed(Message):
        """The filter text changed; `query` is it without surrounding spaces."""

        def __init__(self, filter_list: FilterList, query: str) -> None:
            super().__init__()
            self.filter_list = filter_list
            self.query = query

        @property
        def control(self) -> FilterList:
            return self.filter_list

    class Selected(Message):
        """A row was chosen: Enter in the box, or a click or Enter on the row."""

        def __init__(self, filter_list: FilterList, option: Option) -> None:
            super().__init__()
            self.filter_list = filter_list
            self.option = option

        @property
        def control(self) -> FilterList:
            return self.filter_list

    def __init__(self, *, input_id: str, list_id: str, placeholder: str = "",
                 passes: frozenset[str] = frozenset(),
                 id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        # Made here, not in compose: an owner may focus or fill them in the same turn as
        # it mounts this widget, before this widget's own children are mounted.
        self._input = FilterInput(placeholder=placeholder, id=input_id, passes=passes)
        self._list = OptionList(id=list_id)

    def compose(self) -> ComposeResult:
        yield self._input
        yield self._list

    # -- what the owner uses ------------------------------------------------------------------

    @property
    def filter_input(self) -> Input:
        return self._input

    @property
    def option_list(self) -> OptionList:
        return self._list

    @property
    def filter_text(self) -> str:
        """The filter text without surrounding spaces (not `query`: that is DOMNode's)."""
        return self.filter_input.value.strip()

    @property
    def highlighted_option(self) -> Option | None:
        return self.option_list.highlighted_option

    def set_options(self, options: Iterable[Option], highlighted: int | None = None) -> None:
        """Replace the rows and highlight row `highlighted` (None: the first enabled row)."""
        option_list = self.option_list
        option_list.set_options(options)
        if highlighted is not None:
            option_list.highlighted = highlighted
        else:
            option_list.action_first()

    def focus_filter(self, *, select: bool = False) -> None:
        box = self.filter_input
        box.focus()
        if select:
            box.select_all()

    # -- keys and events ----------------------------------------------------------------------

    def action_move(self, step: int) -> None:
        if step < 0:
            self.option_list.action_cursor_up()
        else:
            self.option_list.action_cursor_down()

    def action_page(self, step: int) -> None:
        # Textual leaves these two actions unannotated (8.2.8).
        if step < 0:
            self.option_list.action_page_up()  # type: ignore[no-untyped-call]
        else:
            self.option_list.action_page_down()  # type: ignore[no-untyped-call]

    @on(Input.Changed)
    def _changed(self, event: Input.Changed) -> None:
        event.stop()
        self.post_message(self.Changed(self, event.value.strip()))

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        option = self.highlighted_option
        if option is not None:
            self.post_message(self.Selected(self, option))

    @on(OptionList.OptionSelected)
    def _selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.post_message(self.Selected(self, event.option))
