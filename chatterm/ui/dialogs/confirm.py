"""The yes/no question dialog."""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Label, Static

from chatterm.ui.dialogs.base import Dialog


class ConfirmDialog(Dialog[bool]):
    """Ask a yes/no question; Y or the confirm button answers True, N/Esc False.

    The cancel button has the focus, so a stray Enter never deletes anything.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,n", "cancel", "Cancel"),
        Binding("y", "confirm", "Confirm"),
        Binding("left", "app.focus_previous", show=False),
        Binding("right", "app.focus_next", show=False),
    ]

    def __init__(
        self, question: str, *, confirm: str = "Yes", cancel: str = "No",
        danger: bool = False, title: str = "Please confirm",
    ) -> None:
        super().__init__()
        self.question = question
        self._labels = (confirm, cancel)
        self._danger = danger
        self._title = title

    def compose(self) -> ComposeResult:
        confirm, cancel = self._labels
        with Vertical(classes="dialog-box"):
            yield Label(self._title, classes="dialog-title", markup=False)
            yield Static(self.question, id="confirm-question", markup=False)
            with Horizontal(classes="dialog-buttons"):
                yield Button(confirm, id="confirm-yes",
                             variant="error" if self._danger else "primary")
                yield Button(cancel, id="confirm-no")
            yield Static("Y confirm · N or Esc cancel", classes="dialog-help", markup=False)

    def on_mount(self) -> None:
        self.query_one("#confirm-no", Button).focus()

    def _cancel_result(self) -> bool:
        return False

    def action_confirm(self) -> None:
        self.dismiss(True)

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(event.button.id == "confirm-yes")
