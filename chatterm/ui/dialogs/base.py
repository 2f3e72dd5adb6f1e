"""The shared base of chatterm's small modal dialogs.

Each dialog is a ModalScreen whose result is what the user chose, or None/False when
cancelled (Esc). Invalid input shows a one-line error under the fields and the dialog
stays open.
"""

from __future__ import annotations

from typing import Any, ClassVar, Generic, TypeVar

from textual.binding import Binding, BindingType
from textual.screen import ModalScreen
from textual.widgets import Static

ResultT = TypeVar("ResultT")


class Dialog(ModalScreen[ResultT], Generic[ResultT]):
    """Shared layout pieces: a boxed column, an error line, a help line."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def _error_line(self) -> Static:
        return Static("", classes="dialog-error -empty", markup=False)

    def show_error(self, message: str) -> None:
        line = self.query_one(".dialog-error", Static)
        line.update(message)
        line.set_class(not message, "-empty")

    @property
    def error_text(self) -> str:
        """The error line's text ("" when none); handy for tests."""
        return str(self.query_one(".dialog-error", Static).render())

    def action_cancel(self) -> None:
        self.dismiss(self._cancel_result())

    def _cancel_result(self) -> Any:
        return None
