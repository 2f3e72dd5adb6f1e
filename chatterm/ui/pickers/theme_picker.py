"""The theme picker: a filtered list of themes with a live preview."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.content import Content
from textual.widgets import Input, Label, OptionList, Static
from textual.widgets.option_list import Option

from chatterm.ui.dialogs.base import Dialog
from chatterm.ui.pickers.model_picker import fuzzy_match, highlight


class ThemePicker(Dialog[str | None]):
    """Pick a theme with a live preview: the app's theme follows the highlight.

    Enter keeps the highlighted theme and saves it to the config (`theme = "..."`);
    Esc puts the previous theme back. A save problem is shown as a notification.

    Args:
        config_path: the config file to save to (None: locations.config_file()).
        save: False to only apply the choice (tests, or a read-only config).
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel"),
        Binding("up", "move(-1)", show=False),
        Binding("down", "move(1)", show=False),
    ]

    def __init__(self, config_path: Path | None = None, *, save: bool = True) -> None:
        super().__init__()
        self.config_path = config_path
        self.save = save
        self._original = ""
        self._names: list[str] = []
        self._shown: list[str] = []

    def compose(self) -> ComposeResult:
        with Vertical(id="theme-box"):
            yield Label("Change theme", classes="dialog-title")
            yield Input(placeholder="Filter themes", id="theme-filter")
            yield OptionList(id="theme-list")
            yield Static("Enter keep and save · ↑↓ preview · Esc restore",
                         classes="dialog-help", markup=False)

    def on_mount(self) -> None:
        self._original = self.app.theme
        themes = self.app.available_themes
        # chatterm's own first, then the rest by name.
        self._names = sorted(themes, key=lambda n: (not n.startswith("chatterm-"), n))
        self._rebuild()
        self.query_one("#theme-filter", Input).focus()

    def _rebuild(self) -> None:
        query = self.query_one("#theme-filter", Input).value.strip()
        matches: list[tuple[float, str, tuple[int, ...]]] = []
        for order, name in enumerate(self._names):
            hit = fuzzy_match(query, name)
            if hit is not None:
                matches.append((hit[0] if query else -order, name, hit[1]))
        matches.sort(key=lambda m: -m[0])
        option_list = self.query_one("#theme-list", OptionList)
        option_list.set_options(
            Option(
                Content.assemble(("● " if name == self._original else "  ", "bold"),
                                 highlight(name, positions)),
                id=f"theme-{index}",
            )
            for index, (_score, name, positions) in enumerate(matches)
        )
        self._shown = [name for _score, name, _positions in matches]
        if not query and self._original in self._shown:
            option_list.highlighted = self._shown.index(self._original)
        elif self._shown:
            option_list.highlighted = 0

    @property
    def highlighted_theme(self) -> str | None:
        index = self.query_one("#theme-list", OptionList).highlighted
        return None if index is None or index >= len(self._shown) else self._shown[index]

    @on(OptionList.OptionHighlighted, "#theme-list")
    def _preview(self, event: OptionList.OptionHighlighted) -> None:
        event.stop()
        name = self.highlighted_theme
        if name is not None and name != self.app.theme:
            self.app.theme = name

    @on(Input.Changed, "#theme-filter")
    def _filter(self) -> None:
        self._rebuild()

    @on(Input.Submitted, "#theme-filter")
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self._choose(self.highlighted_theme)

    @on(OptionList.OptionSelected, "#theme-list")
    def _selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self._choose(self.highlighted_theme)

    def _choose(self, name: str | None) -> None:
        if name is None:
            return
        self.app.theme = name
        if self.save:
            from chatterm.ui.themes import save_theme

            problem = save_theme(name, self.config_path)
            if problem:
                self.app.notify(problem, severity="warning")
        self.dismiss(name)

    def action_cancel(self) -> None:
        if self._original and self.app.theme != self._original:
            self.app.theme = self._original
        self.dismiss(None)

    def action_move(self, step: int) -> None:
        option_list = self.query_one("#theme-list", OptionList)
        if step < 0:
            option_list.action_cursor_up()
        else:
            option_list.action_cursor_down()
