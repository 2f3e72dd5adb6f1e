"""The text prompt: a line (rename) or a block (system prompt)."""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Input, Label, Static, TextArea

from chatterm.ui.dialogs.base import Dialog


class TextPrompt(Dialog[str | None]):
    """Ask for a line of text (rename) or, with multiline=True, a block (system prompt).

    Enter submits a single line; a multi-line prompt submits with Ctrl+S so Enter can
    insert newlines. With allow_empty=False an empty answer is refused inline.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel"),
        Binding("ctrl+s", "submit", "Save"),
    ]

    def __init__(
        self,
        title: str,
        initial: str = "",
        placeholder: str = "",
        *,
        multiline: bool = False,
        allow_empty: bool = False,
        help: str | None = None,
    ) -> None:
        super().__init__()
        self.title_text = title
        self.initial = initial
        self.placeholder = placeholder
        self.multiline = multiline
        self.allow_empty = allow_empty
        self.help = help

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog-box" + (" -wide" if self.multiline else "")):
            yield Label(self.title_text, classes="dialog-title", markup=False)
            if self.help:
                yield Static(self.help, classes="dialog-help-text", markup=False)
            if self.multiline:
                yield TextArea(self.initial, id="prompt-text", soft_wrap=True,
                               placeholder=self.placeholder)
            else:
                yield Input(self.initial, placeholder=self.placeholder, id="prompt-text")
            yield self._error_line()
            with Horizontal(classes="dialog-buttons"):
                yield Button("Save", id="prompt-save", variant="primary")
                yield Button("Cancel", id="prompt-cancel")
            keys = "Ctrl+S save" if self.multiline else "Enter save"
            yield Static(f"{keys} · Esc cancel", classes="dialog-help", markup=False)

    def on_mount(self) -> None:
        field = self.query_one("#prompt-text")
        field.focus()
        if isinstance(field, TextArea):
            field.move_cursor(field.document.end)

    @property
    def value(self) -> str:
        field = self.query_one("#prompt-text")
        if isinstance(field, TextArea):
            return field.text
        return self.query_one("#prompt-text", Input).value

    def action_submit(self) -> None:
        value = self.value if self.multiline else self.value.strip()
        if not value.strip() and not self.allow_empty:
            self.show_error("This cannot be empty.")
            return
        self.dismiss(value)

    @on(Input.Submitted, "#prompt-text")
    def _input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_submit()

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "prompt-save":
            self.action_submit()
        else:
            self.action_cancel()
