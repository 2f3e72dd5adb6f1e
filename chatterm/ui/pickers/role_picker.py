"""The role picker: a filtered list of the saved roles (name, description, provider/model).

Enter dismisses with the picked role's name; Esc with None. With no roles it says where
roles go instead of showing an empty list.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.content import Content
from textual.widgets import Label, OptionList, Static
from textual.widgets.option_list import Option

from chatterm.fuzzy import rank
from chatterm.ui import inert
from chatterm.ui.dialogs.base import Dialog
from chatterm.ui.pickers.filter_list import FilterList, highlight

if TYPE_CHECKING:
    from chatterm.roles import SavedRole

NO_ROLES = ("No roles yet: add [roles.NAME] with a system_prompt to the config, "
            "or a NAME.toml file to the roles/ folder beside it ({folder}).")


class RolePicker(Dialog[str | None]):
    """Pick one of `roles` (by name, description or provider/model); `folder` is where
    role files go, named in the hint shown when there are none."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel"),
    ]

    def __init__(self, roles: list[SavedRole], folder: str) -> None:
        super().__init__()
        self.roles = sorted(roles, key=lambda role: role.name)
        self.folder = folder
        self._shown: list[SavedRole] = []

    def compose(self) -> ComposeResult:
        with Vertical(id="role-box"):
            yield Label("New chat with role", classes="dialog-title")
            if not self.roles:
                yield Static(NO_ROLES.format(folder=self.folder), id="role-empty",
                             markup=False)
                yield Static("Esc close", classes="dialog-help", markup=False)
                return
            yield FilterList(input_id="role-filter", list_id="role-list",
                             placeholder="Filter roles")
            yield Static("Enter start the chat · Esc cancel", classes="dialog-help",
                         markup=False)

    def on_mount(self) -> None:
        if self.roles:
            self._rebuild()
            self.query_one(FilterList).focus_filter()

    def _rebuild(self) -> None:
        filter_list = self.query_one(FilterList)
        by_text = {self._searched(role): role for role in self.roles}
        matches = rank(filter_list.filter_text, list(by_text))
        self._shown = [by_text[match.text] for match in matches]
        options = []
        for index, match in enumerate(matches):
            role = by_text[match.text]
            # The name is the first part of the searched text: its matched letters light up.
            name_positions = [p for p in match.positions if p < len(role.name)]
            name = highlight(*inert.marked(role.name, name_positions))
            parts: list[Content | tuple[str, str]] = [name]
            if role.description:
                parts.append((f"  {inert.line(role.description)}", ""))
            where = _where(role)
            if where:
                parts.append((f"  [{inert.line(where)}]", "$foreground-muted"))
            options.append(Option(Content.assemble(*parts), id=f"role-{index}"))
        filter_list.set_options(options, 0 if options else None)

    @staticmethod
    def _searched(role: SavedRole) -> str:
        return " ".join(part for part in (role.name, role.description, _where(role)) if part)

    @property
    def highlighted_role(self) -> str | None:
        index = self.query_one("#role-list", OptionList).highlighted
        return None if index is None or index >= len(self._shown) else self._shown[index].name

    @on(FilterList.Changed)
    def _filter(self, event: FilterList.Changed) -> None:
        event.stop()
        self._rebuild()

    @on(FilterList.Selected)
    def _selected(self, event: FilterList.Selected) -> None:
        event.stop()
        name = self.highlighted_role
        if name is not None:
            self.dismiss(name)

    def action_cancel(self) -> None:
        self.dismiss(None)


def _where(role: SavedRole) -> str:
    if role.provider and role.model:
        return f"{role.provider}/{role.model}"
    return role.provider or role.model or ""
