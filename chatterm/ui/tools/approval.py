"""The approval dialog: may this tool call run, as asked or with edited arguments?

The engine's tool loop awaits the session's `Approver` for every call of an "ask" server
(chatterm.toolbox); in the app that is a `DialogApprover`, which opens an
`ApprovalDialog` and answers with what the user chose:

- y: allow once, a: always allow this tool (the engine saves it through
  ToolBox.allow_always), n: deny (the model is told the user declined),
  Esc: deny and stop the round (Decision.STOP);
- the arguments are shown whole, as pretty JSON, in an editor (e, or a click; Tab or
  Esc leaves it, so the keys above act again): edited arguments run
  instead of the model's (and replace them in the saved reply). Text that is not JSON, or
  JSON that is not an object, is one line in the dialog, and allowing is refused until
  it is fixed.

Several calls of one reply are asked one dialog at a time, in the order the engine asks.
Cancelling the reply (Esc in the chat, quitting) cancels the awaiting task, and the
dialog it opened closes with it.
"""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Any, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Button, Label, Static, TextArea

from chatterm.api import safe_json
from chatterm.toolbox import Approval, ApprovalRequest, Approver, Decision
from chatterm.ui import inert
from chatterm.ui.dialogs.base import Dialog
from chatterm.ui.widgets.key_footer import KeyFooter

if TYPE_CHECKING:
    from collections.abc import Callable

    from textual.app import App


def pretty_arguments(text: str) -> str:
    """The arguments as the editor shows them: pretty JSON when they parse, the text as
    sent (made inert) when not.

    Strings may hold escape sequences or bidi overrides: every character that is not
    printable is written as its JSON escape (`\\u001b`, `\\u202e`), so the text is safe
    to draw and still parses to exactly the same value.
    """
    try:
        value = safe_json.loads(text)  # hostile nesting is a ValueError, not a crash
    except ValueError:
        return inert.text(text)
    pretty = json.dumps(value, indent=2, ensure_ascii=False)
    return "".join(char if char == "\n" or char.isprintable() else _escape(char)
                   for char in pretty)


def _escape(char: str) -> str:
    code = ord(char)
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    code -= 0x10000  # outside the BMP: JSON spells it as a surrogate pair
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"


def parse_arguments(text: str) -> tuple[dict[str, Any] | None, str | None]:
    """(the arguments, None) or (None, one line saying what is wrong with them). No text
    at all is no arguments, as the engine reads it (a tool without parameters)."""
    if not text.strip():
        return {}, None
    try:
        value = safe_json.loads(text)
    except json.JSONDecodeError as error:
        return None, (f"The arguments are not valid JSON: {error.msg} "
                      f"(line {error.lineno}, column {error.colno}).")
    except ValueError as error:  # nested too deeply, lone surrogates and the like
        return None, f"The arguments are not valid JSON: {' '.join(str(error).split())}."
    if not isinstance(value, dict):
        kind = type(value).__name__.replace("NoneType", "null").replace("dict", "object")
        return None, f'The arguments must be a JSON object ({{"name": value, …}}), not {kind}.'
    return value, None


class ApprovalDialog(Dialog[Approval]):
    """One tool call waiting for the user's yes or no."""

    # Its own box class: the shared `.dialog-box TextArea` rule (app CSS, which wins over
    # any DEFAULT_CSS) would make the editor 12 rows tall for a one-line argument.
    DEFAULT_CSS = """
    ApprovalDialog { align: center middle; }
    ApprovalDialog .approval-box {
        width: 90; max-width: 95%; height: auto; max-height: 95%;
        border: round $primary; background: $surface; padding: 0 1;
    }
    ApprovalDialog #approval-body { height: auto; max-height: 50vh; }
    ApprovalDialog #approval-description { color: $text-muted; margin-bottom: 1; }
    ApprovalDialog #approval-arguments { height: auto; min-height: 3; max-height: 30vh; }
    ApprovalDialog .dialog-buttons { padding-top: 0; height: auto; }
    /* Three compact buttons fit a 40-column terminal. */
    ApprovalDialog .dialog-buttons Button { min-width: 0; width: auto; }
    /* The full width (align would centre it) and both rows the chat's footer may take,
       which would show through the dialog's see-through background. */
    ApprovalDialog KeyFooter { dock: bottom; width: 100%; min-height: 2; }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "decide('stop')", "Deny and stop"),
        Binding("y", "decide('allow')", "Allow once"),
        Binding("a", "decide('always')", "Always"),
        Binding("n", "decide('deny')", "Deny"),
        Binding("e", "edit", "Edit arguments"),
        Binding("left", "app.focus_previous", show=False),
        Binding("right", "app.focus_next", show=False),
    ]

    def __init__(self, request: ApprovalRequest, *, chat: str | None = None) -> None:
        super().__init__()
        self.request = request
        self._chat = chat  # the chat's title when it is not the one on screen
        self._shown = pretty_arguments(request.arguments)
        self._asked, _ = parse_arguments(request.arguments)

    def compose(self) -> ComposeResult:
        spec = self.request.spec
        with Vertical(classes="approval-box"):
            yield Label(f"Run {inert.line(spec.label)}?", classes="dialog-title",
                        markup=False)
            with VerticalScroll(id="approval-body"):
                if self._chat is not None:
                    yield Static(f"chat: {inert.line(self._chat)}", markup=False)
                yield Static(f"server: {inert.line(spec.server)}", id="approval-server",
                             markup=False)
                yield Static(f"tool: {inert.line(spec.tool)}", id="approval-tool",
                             markup=False)
                yield Static(inert.text(spec.description.strip()) or "(no description)",
                             id="approval-description", markup=False)
                yield Static("Arguments (JSON; edit them to run something else):",
                             markup=False)
                yield TextArea(self._shown, id="approval-arguments", soft_wrap=True,
                               tab_behavior="focus")
            yield self._error_line()
            with Horizontal(classes="dialog-buttons"):
                yield Button("Allow once", id="approval-allow", variant="primary",
                             compact=True)
                yield Button("Always", id="approval-always", compact=True)
                yield Button("Deny", id="approval-deny", variant="error", compact=True)
            # Short: two lines at 40 columns, so the buttons fit a 15-row terminal.
            yield Static("y once · a always · n deny · Esc deny and stop · "
                         "e edit (Esc back)", classes="dialog-help", markup=False)
        # Its own footer over the chat's: that one kept listing the chat's keys (^n New,
        # ^r Retry, …), which do nothing while the dialog is open (qa13 F8).
        yield KeyFooter()

    def on_mount(self) -> None:
        # Deny has the focus: a stray Enter never runs anything.
        self.query_one("#approval-deny", Button).focus()
        self._check(self._shown)

    @property
    def editor(self) -> TextArea:
        return self.query_one("#approval-arguments", TextArea)

    def action_edit(self) -> None:
        self.editor.focus()

    @on(TextArea.Changed, "#approval-arguments")
    def _edited(self, event: TextArea.Changed) -> None:
        self._check(event.text_area.text)

    def _check(self, text: str) -> dict[str, Any] | None:
        """Say what is wrong with the arguments (or nothing), and allow only valid ones."""
        value, problem = parse_arguments(text)
        self.show_error(problem or "")
        for name in ("#approval-allow", "#approval-always"):
            self.query_one(name, Button).disabled = problem is not None
        return value

    def action_decide(self, decision: str) -> None:
        chosen = Decision(decision)
        if chosen is Decision.STOP and self.focused is self.editor:
            # Esc while editing leaves the editor, as Esc leaves an edit in the prompt;
            # stopping the whole round there would throw the edit away by surprise.
            self.query_one("#approval-deny", Button).focus()
            return
        if chosen in (Decision.DENY, Decision.STOP):
            self.dismiss(Approval(chosen))
            return
        value = self._check(self.editor.text)
        if value is None:
            return  # the line under the editor says why; the dialog stays
        # The model's arguments as they were: None (the engine runs them as asked).
        edited = None if value == self._asked else json.dumps(value, ensure_ascii=False)
        self.dismiss(Approval(chosen, edited))

    def _cancel_result(self) -> Approval:
        return Approval(Decision.STOP)

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        event.stop()
        decision = {"approval-allow": "allow", "approval-always": "always"}.get(
            event.button.id or "", "deny")
        self.action_decide(decision)


class DialogApprover:
    """The app's Approver (chatterm.toolbox): one dialog at a time, in the order asked."""

    def __init__(self, app: App[Any]) -> None:
        self._app = app
        # asyncio.Lock wakes its waiters first come, first served: calls asked together
        # (the parallel calls of one reply, or two chats' replies) get their dialogs in turn.
        self._turn = asyncio.Lock()
        self.dialog: ApprovalDialog | None = None  # the one open now

    async def __call__(self, request: ApprovalRequest) -> Approval:
        return await self.ask(request)

    def for_chat(self, elsewhere: Callable[[], str | None]) -> Approver:
        """The Approver of one chat's session: `elsewhere()` is that chat's title while
        another chat is on screen (the dialog then names it), else None."""

        async def approve(request: ApprovalRequest) -> Approval:
            return await self.ask(request, elsewhere)

        return approve

    async def ask(self, request: ApprovalRequest,
                  elsewhere: Callable[[], str | None] | None = None) -> Approval:
        async with self._turn:
            answer: asyncio.Future[Approval] = asyncio.get_running_loop().create_future()

            def settle(result: Approval | None) -> None:
                if not answer.done():
                    answer.set_result(result or Approval(Decision.STOP))

            dialog = ApprovalDialog(request, chat=elsewhere() if elsewhere else None)
            self.dialog = dialog
            self._app.push_screen(dialog, callback=settle)
            try:
                return await answer
            finally:
                self.dialog = None
                if not answer.done() or answer.cancelled():
                    _close(dialog)  # the reply was stopped: the question is moot


def _close(dialog: ApprovalDialog) -> None:
    app = dialog.app
    if dialog not in app.screen_stack:
        return
    if app.screen is not dialog:
        dialog.pop_until_active()  # the palette or a help screen opened over it
    dialog.dismiss(None)
