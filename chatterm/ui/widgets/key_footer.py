"""The footer: every key binding on one or two lines, never cut in the middle of a label.

Textual's Footer puts all keys on one line and cuts the rest off at the screen edge (at
120 columns, `f4 Sys▏^p palette`, with F5, F8 and Ctrl+S gone). This one lays the same
keys out in rows: a second row when one is not enough, and when two are not enough
either (a narrow terminal), the keys in their order of importance as far as they go,
then "^p N more keys" (the command palette lists every command with its key).
Which bindings exist and their order come from the action registry (chatterm.keymap).
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.cells import cell_len
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import HorizontalGroup
from textual.screen import Screen
from textual.widgets import Footer

from chatterm.keymap import ACTIONS_BY_NAME, ORDER
from chatterm.ui import compat

MAX_ROWS = 2
# A key's cells besides its text: the padding around the key and after the label.
KEY_PADDING = 3
# The palette key is drawn compact (as in Textual's footer), with a border on its left
# and padding on its right.
PALETTE_PADDING = 3


@dataclass(slots=True, frozen=True)
class FooterItem:
    key: str
    display: str
    description: str
    action: str
    enabled: bool
    tooltip: str

    @property
    def width(self) -> int:
        return cell_len(self.display) + cell_len(self.description) + KEY_PADDING


def lay_out(items: list[FooterItem], width: int, palette_width: int,
            max_rows: int = MAX_ROWS) -> tuple[list[list[FooterItem]], int]:
    """Rows of items filling `width`, the last row leaving room for the palette key;
    returns the rows and how many items did not fit."""
    rows: list[list[FooterItem]] = [[]]
    used = 0
    for index, item in enumerate(items):
        last_row = len(rows) == max_rows
        room = width - (palette_width if last_row else 0)
        if used + item.width > room and rows[-1]:
            if last_row:
                return rows, len(items) - index
            rows.append([])
            used = 0
            room = width - (palette_width if len(rows) == max_rows else 0)
        if used + item.width > room:
            return rows, len(items) - index  # not even alone on a row
        rows[-1].append(item)
        used += item.width
    # Everything fits: the palette key needs room on the last row too.
    if used + palette_width > width and len(rows) < max_rows:
        rows.append([])
    return rows, 0


def _footer_rank(item: FooterItem) -> tuple[int, int]:
    """The registry's order: the focused widget's own keys (a message's) first, then the
    keys that work anywhere; bindings the registry does not know keep their place last."""
    action = ACTIONS_BY_NAME.get(item.action)
    if action is None:
        return 2, 0  # sorted() is stable: these stay in Textual's order
    return (1 if action.scope in ("app", "chat") else 0), ORDER[action.name]


class KeyFooter(Footer):
    """Footer keys in up to MAX_ROWS rows (styled in chatterm.tcss)."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.hidden_count = 0
        self._laid_out_for = 0
        # What the keys shown were made from (the width, the items, the palette key).
        self._made_from: tuple[object, ...] | None = None

    def _layout_key(self) -> tuple[object, ...]:
        palette = self._palette()
        return (self.app.size.width, tuple(self._items()),
                (palette[0].key, palette[1]) if palette else None)

    def bindings_changed(self, screen: Screen[object]) -> None:
        # Textual makes the footer's widgets again at every focus change and every push
        # or pop of a screen (a dialog, the tree view), even when its keys stay the same:
        # ~30 widgets each time, a few hundred ms on a loaded 2-core host, paid again
        # when the dialog closes. Same keys, same footer: nothing to make.
        if (compat.footer_bindings_ready(self) and self._made_from is not None
                and screen is self.screen and self._layout_key() == self._made_from):
            return
        super().bindings_changed(screen)

    def _items(self) -> list[FooterItem]:
        seen: set[str] = set()
        items: list[FooterItem] = []
        for _node, binding, enabled, tooltip in self.screen.active_bindings.values():
            # One key per action, as Textual's footer shows (the first binding wins).
            if not binding.show or binding.action in seen:
                continue
            seen.add(binding.action)
            items.append(FooterItem(binding.key, self.app.get_key_display(binding),
                                    binding.description, binding.action, enabled, tooltip))
        return sorted(items, key=_footer_rank)

    def _palette(self) -> tuple[Binding, bool] | None:
        if not (self.show_command_palette and self.app.ENABLE_COMMAND_PALETTE):
            return None
        found = self.screen.active_bindings.get(self.app.COMMAND_PALETTE_BINDING)
        return (found[1], found[2]) if found is not None else None

    def compose(self) -> ComposeResult:
        if not compat.footer_bindings_ready(self):
            return
        width = self.app.size.width
        self._laid_out_for = width
        self._made_from = self._layout_key()
        palette = self._palette()
        palette_key = self.app.COMMAND_PALETTE_BINDING
        items = [item for item in self._items() if item.key != palette_key]
        palette_label = palette[0].description if palette else ""
        # Room for the longest label the palette key may get ("99 more keys").
        palette_width = (cell_len(self.app.get_key_display(palette[0])) + PALETTE_PADDING
                         + max(cell_len(palette_label), 12)) if palette else 0
        rows, hidden = lay_out(items, width, palette_width)
        footer_key = compat.footer_key_type()
        self.hidden_count = hidden
        for number, row in enumerate(rows, start=1):
            with HorizontalGroup(classes="footer-row"):
                for item in row:
                    yield footer_key(item.key, item.display, item.description, item.action,
                                    disabled=not item.enabled, tooltip=item.tooltip,
                                    ).data_bind(compact=Footer.compact)
                if number == len(rows) and palette is not None:
                    binding, enabled = palette
                    label = f"{hidden} more keys" if hidden else binding.description
                    yield footer_key(binding.key, self.app.get_key_display(binding), label,
                                    binding.action, classes="-command-palette",
                                    disabled=not enabled,
                                    tooltip=binding.tooltip or binding.description)

    def on_resize(self, event: events.Resize) -> None:
        # Laid out for a width: another width needs another layout.
        if compat.footer_bindings_ready(self) and self.app.size.width != self._laid_out_for:
            self.call_after_refresh(self.recompose)
