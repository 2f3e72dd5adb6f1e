"""Small modal dialogs: confirm, text prompts, export, sampling parameters, theme picker.

Each is a ModalScreen whose result is what the user chose, or None/False when cancelled
(Esc). Invalid input shows a one-line error under the fields and the dialog stays open.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any, ClassVar, Generic, Literal, TypeVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import (
    Button,
    Checkbox,
    Input,
    Label,
    OptionList,
    RadioButton,
    RadioSet,
    Static,
    TextArea,
)
from textual.widgets.option_list import Option

from chatterm.conversation import Params
from chatterm.ui.screens.model_picker import fuzzy_match, highlight

ExportFormat = Literal["markdown", "json"]
EXTENSIONS: dict[str, str] = {"markdown": ".md", "json": ".json"}


ResultT = TypeVar("ResultT")


class _Dialog(ModalScreen[ResultT], Generic[ResultT]):
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


# ---- confirm ------------------------------------------------------------------------------


class ConfirmDialog(_Dialog[bool]):
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


# ---- text ---------------------------------------------------------------------------------


class TextPrompt(_Dialog[str | None]):
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
        return field.text if isinstance(field, TextArea) else field.value  # type: ignore[attr-defined]

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


# ---- export -------------------------------------------------------------------------------


class ExportDialog(_Dialog[tuple[Path, ExportFormat] | None]):
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
        from chatterm.ui.screens.overwrite import free_path, replace_dialog

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


# ---- parameters ---------------------------------------------------------------------------


class ParamsError(ValueError):
    """One field of the parameters form is invalid; the message is shown as is."""


def _number(text: str, label: str, low: float, high: float, *,
            low_open: bool = False) -> float | None:
    """The same ranges as the config (`low_open`: above `low`, as top_p must be)."""
    text = text.strip()
    if not text:
        return None
    span = f"{'above' if low_open else 'from'} {low:g} up to {high:g}"
    try:
        value = float(text)
    except ValueError:
        raise ParamsError(f"{label} must be a number {span} (got {text!r}).") from None
    if not low <= value <= high or (low_open and value == low):
        raise ParamsError(f"{label} must be {span} (got {text}).")
    return value


def _integer(text: str, label: str, low: int) -> int | None:
    text = text.strip()
    if not text:
        return None
    try:
        value = int(text)
    except ValueError:
        raise ParamsError(f"{label} must be a whole number (got {text!r}).") from None
    if value < low:
        raise ParamsError(f"{label} must be at least {low} (got {value}).")
    return value


_ESCAPES = {"n": "\n", "t": "\t", "\\": "\\", ",": ","}


def _unescape(text: str) -> str:
    out: list[str] = []
    chars = iter(text)
    for ch in chars:
        if ch == "\\":
            nxt = next(chars, "")
            out.append(_ESCAPES.get(nxt, "\\" + nxt))
        else:
            out.append(ch)
    return "".join(out)


def parse_stop(text: str) -> list[str]:
    """Stop sequences typed one per line, or comma separated on one line.

    Escapes let a sequence hold what the separators would eat: \\n newline, \\t tab,
    \\, comma, \\\\ backslash. Surrounding spaces are dropped; blanks are skipped.
    """
    if "\n" in text.strip():
        pieces = text.splitlines()
    else:
        # Split on commas that are not escaped.
        pieces, current, escaped = [], [], False
        for ch in text:
            if escaped:
                current.append("\\" + ch)
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == ",":
                pieces.append("".join(current))
                current = []
            else:
                current.append(ch)
        if escaped:
            current.append("\\")
        pieces.append("".join(current))
    return [_unescape(piece.strip()) for piece in pieces if piece.strip()]


def format_stop(stop: list[str]) -> str:
    """The inverse of parse_stop, for showing saved stop sequences in the form."""
    def escape(sequence: str) -> str:
        return (sequence.replace("\\", "\\\\").replace("\n", "\\n").replace("\t", "\\t")
                .replace(",", "\\,"))

    return ", ".join(escape(s) for s in stop)


def parse_params(
    base: Params, *, temperature: str, top_p: str, max_tokens: str, stop: str, seed: str,
    safe_prompt: bool | None,
) -> Params:
    """The form's text turned into Params; ParamsError names the first bad field."""
    return replace(
        base,
        temperature=_number(temperature, "Temperature", 0, 2),
        top_p=_number(top_p, "Top P", 0, 1, low_open=True),
        max_tokens=_integer(max_tokens, "Max tokens", 1),
        stop=parse_stop(stop),
        seed=_integer(seed, "Seed", 0),
        safe_prompt=base.safe_prompt if safe_prompt is None else safe_prompt,
    )


class ParamsDialog(_Dialog[Params | None]):
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


# ---- theme picker -------------------------------------------------------------------------


class ThemePicker(_Dialog[str | None]):
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
