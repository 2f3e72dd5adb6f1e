"""The theme picker: a filtered list of themes with a live preview."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.content import Content
from textual.widgets import Label, OptionList, Static
from textual.widgets.option_list import Option

from chatterm.fuzzy import rank
from chatterm.ui.dialogs.base import Dialog
from chatterm.ui.pickers.filter_list import FilterList, highlight

if TYPE_CHECKING:
    from chatterm.config import Config


class ThemePicker(Dialog[str | None]):
    """Pick a theme with a live preview: the app's theme follows the highlight.

    Enter keeps the highlighted theme and saves it to the config (`theme = "..."`);
    Esc puts the previous theme back. A save problem is shown as a notification.

    Args:
        config_path: the config file to save to (None: locations.config_file()).
        save: False to only apply the choice (tests, or a read-only config).
        config: the app's Config, updated with the file when the choice is saved.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel"),
    ]

    def __init__(self, config_path: Path | None = None, *, save: bool = True,
                 config: Config | None = None) -> None:
        super().__init__()
        self.config_path = config_path
        self.config = config
        self.save = save
        self._original = ""
        self._names: list[str] = []
        self._shown: list[str] = []

    def compose(self) -> ComposeResult:
        with Vertical(id="theme-box"):
            yield Label("Change theme", classes="dialog-title")
            yield FilterList(input_id="theme-filter", list_id="theme-list",
                             placeholder="Filter themes")
            yield Static("Enter keep and save · ↑↓ preview · Esc restore",
                         classes="dialog-help", markup=False)

    def on_mount(self) -> None:
        self._original = self.app.theme
        themes = self.app.available_themes
        # chatterm's own first, then the rest by name.
        self._names = sorted(themes, key=lambda n: (not n.startswith("chatterm-"), n))
        self._rebuild()
        self.query_one(FilterList).focus_filter()

    def _rebuild(self) -> None:
        filter_list = self.query_one(FilterList)
        query = filter_list.filter_text
        matches = rank(query, self._names)
        self._shown = [match.text for match in matches]
        options = [
            Option(
                Content.assemble(("● " if match.text == self._original else "  ", "bold"),
                                 highlight(match.text, match.positions)),
                id=f"theme-{index}",
            )
            for index, match in enumerate(matches)
        ]
        current = None
        if not query and self._original in self._shown:
            current = self._shown.index(self._original)
        filter_list.set_options(options, current)

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

    @on(FilterList.Changed)
    def _filter(self, event: FilterList.Changed) -> None:
        event.stop()
        self._rebuild()

    @on(FilterList.Selected)
    def _selected(self, event: FilterList.Selected) -> None:
        event.stop()
        self._choose(self.highlighted_theme)

    def _choose(self, name: str | None) -> None:
        if name is None:
            return
        self.app.theme = name
        if self.save:
            from chatterm.ui.themes import save_theme

            problem = save_theme(name, self.config_path, self.config)
            if problem:
                self.app.notify(problem, severity="warning")
        self.dismiss(name)

    def action_cancel(self) -> None:
        if self._original and self.app.theme != self._original:
            self.app.theme = self._original
        self.dismiss(None)
