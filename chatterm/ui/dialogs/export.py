"""The export dialog: where to write the chat, and as Markdown or JSON."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar, Literal

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Input, Label, RadioButton, RadioSet, Static

from chatterm.ui.dialogs.base import Dialog

ExportFormat = Literal["markdown", "json"]
EXTENSIONS: dict[str, str] = {"markdown": ".md", "json": ".json"}


class ExportDialog(Dialog[tuple[Path, ExportFormat] | None]):
    """Ask where to export and in which format; returns (path, "markdown" | "json").

    Switching the format swaps a .md/.json ending on the path. The path must name a file
    in an existing folder ("~" is expanded). An existing file is replaced only after a
    "Replace it?" question; keeping it offers a free name instead.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel"),
        Binding("ctrl+t", "toggle_format", "Markdown/JSON"),
        Binding("ctrl+s", "submit", "Export", show=False),
    ]

    def __init__(self, default_path: str | Path, fmt: ExportFormat = "markdown") -> None:
        super().__init__()
        self.default_path = str(default_path)
        self.fmt: ExportFormat = fmt

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog-box -wide"):
            yield Label("Export chat", classes="dialog-title")
            yield Input(self.default_path, id="export-path", placeholder="File to write")
            with RadioSet(id="export-format"):
                yield RadioButton("Markdown", value=self.fmt == "markdown", id="fmt-markdown")
                yield RadioButton("JSON", value=self.fmt == "json", id="fmt-json")
            yield self._error_line()
            with Horizontal(classes="dialog-buttons"):
                yield Button("Export", id="export-save", variant="primary")
                yield Button("Cancel", id="export-cancel")
            yield Static("Enter export · Ctrl+T Markdown/JSON · Esc cancel",
                         classes="dialog-help", markup=False)

    def on_mount(self) -> None:
        self.query_one("#export-path", Input).focus()

    def _set_format(self, fmt: ExportFormat) -> None:
        if fmt == self.fmt:
            return
        old, new = EXTENSIONS[self.fmt], EXTENSIONS[fmt]
        self.fmt = fmt
        path_input = self.query_one("#export-path", Input)
        if path_input.value.endswith(old):
            path_input.value = path_input.value[: -len(old)] + new
        button = self.query_one(f"#fmt-{fmt}", RadioButton)
        if not button.value:
            button.value = True

    @on(RadioSet.Changed, "#export-format")
    def _format_changed(self, event: RadioSet.Changed) -> None:
        event.stop()
        self._set_format("json" if event.pressed.id == "fmt-json" else "markdown")

    def action_toggle_format(self) -> None:
        self._set_format("json" if self.fmt == "markdown" else "markdown")

    def action_submit(self) -> None:
        raw = self.query_one("#export-path", Input).value.strip()
        if not raw:
            self.show_error("Enter a file name to export to.")
            return
        path = Path(raw).expanduser()
        if path.is_dir():
            self.show_error(f"{path} is a folder; add a file name.")
            return
        if not path.parent.is_dir():
            self.show_error(f"The folder {path.parent} does not exist.")
            return
        if path.exists() or path.is_symlink():
            self._ask_to_replace(path)
            return
        self.dismiss((path, self.fmt))

    def _ask_to_replace(self, path: Path) -> None:
        from chatterm.ui.dialogs.overwrite import free_path, replace_dialog

        def answered(replace: bool | None) -> None:
            if replace:
                self.dismiss((path, self.fmt))
                return
            # Kept: offer a free name, so the next Enter exports without a question.
            free = free_path(path)
            self.query_one("#export-path", Input).value = str(free)
            self.show_error(f"{path.name} is kept. Enter exports to {free.name} instead.")

        self.app.push_screen(replace_dialog(path), answered)

    @on(Input.Submitted, "#export-path")
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_submit()

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "export-save":
            self.action_submit()
        else:
            self.action_cancel()
