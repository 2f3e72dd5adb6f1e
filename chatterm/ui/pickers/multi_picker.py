"""The model picker's multi-select mode, for "Compare models": mark 2 to 4 models.

The same list as the model picker (providers as tabs, the filter box, rows by vendor);
Space marks or unmarks the highlighted row (a click does too), a line under the list says
how many are marked and which, and Enter confirms. Model ids hold no spaces, so Space is
free to mark while the filter box keeps the focus. Dismisses with the marked (provider,
model id) pairs in the order they were marked, or None when cancelled. Fewer than
MIN_MODELS or more than MAX_MODELS is refused with one line, and the picker stays open.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.content import Content
from textual.widgets import Static

from chatterm.ui import inert
from chatterm.ui.pickers.filter_list import FilterList
from chatterm.ui.pickers.model_picker import ModelListScreen

if TYPE_CHECKING:
    from textual.widgets.option_list import Option

    from chatterm.model_choices import ModelSource
    from chatterm.providers import ProviderConfig

MIN_MODELS = 2
MAX_MODELS = 4


def picked_label(picked: list[tuple[str, str]], provider: str) -> str:
    """The marked models in one line; a model of another provider is named with it."""
    return ", ".join(model if name == provider else f"{name}/{model}"
                     for name, model in picked)


class CompareModelPicker(ModelListScreen[list[tuple[str, str]]]):
    """Mark 2 to 4 models to compare; the conversation's current model starts marked.

    Args: as ModelListScreen's (`provider`/`model` are the chat's current ones).
    """

    TITLE = f"Compare models: mark {MIN_MODELS} to {MAX_MODELS}"
    HELP = "Space marks · Enter compares · ↑↓ move · Tab provider · Esc cancel"

    FILTER_PASSES = frozenset({"space"})
    # Priority: the filter box has the focus and would take Space and Enter itself.
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("space", "mark", "Mark", priority=True),
        Binding("enter", "confirm", "Compare", priority=True),
    ]

    def __init__(self, providers: Mapping[str, ProviderConfig], provider: str, model: str,
                 *, source: ModelSource | None = None) -> None:
        super().__init__(providers, provider, model, source=source)
        self._home = provider
        self.picked: list[tuple[str, str]] = [(provider, model)] if model else []

    def compose_extra(self) -> ComposeResult:
        yield Static(self._picked_text(), id="picker-picked", markup=False)

    def is_marked(self, provider: str, model_id: str) -> bool:
        return (provider, model_id) in self.picked

    def _picked_text(self) -> Content:
        if not self.picked:
            return Content.styled("none marked yet: Space marks the highlighted model", "dim")
        names = inert.line(picked_label(self.picked, self._home))
        return Content.assemble((f"{len(self.picked)} marked: ", "bold"), names)

    def _say(self, problem: str | None = None) -> None:
        line = self.query_one("#picker-picked", Static)
        if problem is None:
            line.update(self._picked_text())
        else:
            line.update(Content.assemble(self._picked_text(), "  ",
                                         (problem, "bold $text-warning")))

    # -- marking ------------------------------------------------------------------------------

    def toggle(self, choice: tuple[str, str]) -> None:
        """Mark or unmark one model; a fifth is refused (one line says so)."""
        if choice in self.picked:
            self.picked.remove(choice)
        elif len(self.picked) >= MAX_MODELS:
            self._say(f"at most {MAX_MODELS}: unmark one first")
            return
        else:
            self.picked.append(choice)
        self.refresh_rows()
        self._say()

    def action_mark(self) -> None:
        option = self.query_one(FilterList).highlighted_option
        choice = self.option_model(option) if option is not None else None
        if choice is not None:
            self.toggle(choice)
            # The next model is usually typed anew: typing replaces the filter.
            self.query_one(FilterList).focus_filter(select=True)

    def _pick(self, option: Option) -> None:
        # A click on a row (Enter is the confirm binding): marks it, as Space does.
        choice = self.option_model(option)
        if choice is not None:
            self.toggle(choice)

    def action_confirm(self) -> None:
        if len(self.picked) < MIN_MODELS:
            self._say(f"mark at least {MIN_MODELS} to compare")
            return
        self.dismiss(list(self.picked))
