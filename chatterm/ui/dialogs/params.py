"""The sampling-parameters dialog; the parsing of its fields is chatterm.params_text."""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Checkbox, Input, Label, Static

from chatterm.conversation import Params
from chatterm.params_text import ParamsError, format_stop, parse_params
from chatterm.ui.dialogs.base import Dialog


class ParamsDialog(Dialog[Params | None]):
    """Edit a conversation's sampling parameters; empty fields mean "server default".

    Args:
        params: the values to start from.
        kind: the provider kind; "mistral" adds the safe_prompt switch.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel"),
        Binding("ctrl+s", "submit", "Save"),
    ]

    def __init__(self, params: Params, kind: str) -> None:
        super().__init__()
        self.params = params
        self.kind = kind

    @staticmethod
    def _text(value: float | int | None) -> str:
        return "" if value is None else f"{value:g}" if isinstance(value, float) else str(value)

    def compose(self) -> ComposeResult:
        p = self.params
        rows = (
            ("Temperature", "params-temperature", self._text(p.temperature), "0–2, e.g. 0.7"),
            ("Top P", "params-top-p", self._text(p.top_p), "above 0, up to 1"),
            ("Max tokens", "params-max-tokens", self._text(p.max_tokens), "e.g. 1024"),
            ("Seed", "params-seed", self._text(p.seed), "whole number"),
        )
        with Vertical(classes="dialog-box -wide"):
            yield Label("Parameters for this chat", classes="dialog-title")
            for label, field_id, value, hint in rows:
                with Horizontal(classes="params-row"):
                    yield Label(label)
                    # Compact: five bordered inputs would not fit a 24-line terminal.
                    yield Input(value, placeholder=f"server default ({hint})", id=field_id,
                                compact=True)
            with Horizontal(classes="params-row"):
                yield Label("Stop")
                yield Input(format_stop(p.stop), id="params-stop", compact=True,
                            placeholder="comma separated; \\n for a newline")
            if self.kind == "mistral":
                yield Checkbox("Safe prompt (Mistral guardrail)", p.safe_prompt,
                               id="params-safe-prompt", compact=True)
            yield self._error_line()
            with Horizontal(classes="dialog-buttons"):
                yield Button("Save", id="params-save", variant="primary")
                yield Button("Cancel", id="params-cancel")
            yield Static("Enter or Ctrl+S save · empty = server default · Esc cancel",
                         classes="dialog-help", markup=False)

    def on_mount(self) -> None:
        self.query_one("#params-temperature", Input).focus()

    def _field(self, field_id: str) -> str:
        return self.query_one(f"#{field_id}", Input).value

    def action_submit(self) -> None:
        safe: bool | None = None
        if self.kind == "mistral":
            safe = self.query_one("#params-safe-prompt", Checkbox).value
        try:
            params = parse_params(
                self.params,
                temperature=self._field("params-temperature"),
                top_p=self._field("params-top-p"),
                max_tokens=self._field("params-max-tokens"),
                stop=self._field("params-stop"),
                seed=self._field("params-seed"),
                safe_prompt=safe,
            )
        except ParamsError as exc:
            self.show_error(str(exc))
            return
        self.dismiss(params)

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_submit()

    @on(Input.Changed)
    def _changed(self, event: Input.Changed) -> None:
        # A fix in progress should not keep shouting the old error.
        self.show_error("")

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "params-save":
            self.action_submit()
        else:
            self.action_cancel()
