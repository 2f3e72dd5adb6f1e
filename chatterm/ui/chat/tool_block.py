"""A tool call in a reply: `server.tool`, its arguments, its state, then its result.

One block per call of an assistant message (assistant_view.py mounts them under the
reply's text). While the tool loop runs (chatterm.engine.tool_loop), the reply painter
moves each block along: waiting for approval, running (a spinner and the seconds so
far), then the outcome. The result is the call's `tool` message (its view stays in the
message list, one per message, but takes no room: message_list.link_tool_results puts
its text here), so a reloaded conversation is drawn from the same messages as a live one.

Arguments and results are hostile input: they reach the widget through chatterm.ui.inert
only. A long result is folded to its first lines; Enter on the focused block, or a click,
shows all of it (still capped at DISPLAY_LIMIT characters, as a prompt is). The copy key
(`c`) on a focused block copies what the block is about: its result, whole, or the
arguments while there is no result (qa13 F4: it copied the reply's prose around it).
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from textual import events
from textual.binding import Binding
from textual.content import Content
from textual.timer import Timer
from textual.widgets import Static

from chatterm.conversation import Message, ToolCall
from chatterm.keymap import DEFAULT_KEYMAP
from chatterm.toolbox import DECLINED_TEXT, STOPPED_TEXT, ToolOutcome, ToolSpec
from chatterm.ui import inert
from chatterm.ui.events import MessageActionRequested, MessageFocusChanged
from chatterm.ui.keys import bindings_for, install_bindings

if TYPE_CHECKING:
    from textual.binding import BindingType

# Folded, a result shows this many lines and the arguments a few more (they are what the
# reader checks); every shown line is cut at LINE_CHARS, so a one-line megabyte of JSON
# folds too. Expanded, all of it up to DISPLAY_LIMIT characters.
RESULT_LINES = 4
ARGUMENT_LINES = 8
LINE_CHARS = 240
DISPLAY_LIMIT = 32_000
SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
# The spinner's frame rate: the block is redrawn (no layout) this often while it runs.
SPIN_INTERVAL = 0.2

# Where a call is, before it has an outcome (ToolOutcome values after).
ARRIVING = "arriving"  # the model is still writing its arguments (its name comes last)
ASKED = "asked"  # the reply named it; the loop has not reached it yet
WAITING = "waiting"  # waiting for the user's approval
QUEUED = "queued"  # approved (or auto), about to run
RUNNING = "running"
NOT_RUN = "not run"  # the reply ended with it and nothing ran it (no tools, or stopped)

_BADGES: dict[str, tuple[str, str]] = {
    ASKED: ("", ""),
    WAITING: ("⏳ waiting for approval", "$warning"),
    QUEUED: ("… about to run", "$foreground-muted"),
    NOT_RUN: ("· not run", "$foreground-muted"),
    ToolOutcome.OK: ("✓ done", "$success"),
    ToolOutcome.ERROR: ("✗ error", "$error"),
    ToolOutcome.DECLINED: ("⊘ declined", "$warning"),
    ToolOutcome.STOPPED: ("■ stopped", "$warning"),
    ToolOutcome.UNKNOWN: ("? unknown tool", "$error"),
}
_FINAL = frozenset({NOT_RUN, *ToolOutcome})
# The one message key a block answers itself; the reply's other keys act on the reply.
_OWN_KEYS = frozenset({"copy_message"})


def pretty_arguments(arguments: str) -> str:
    """The arguments as indented JSON; as sent when they are not JSON."""
    try:
        parsed = json.loads(arguments)
    except ValueError:
        return arguments
    return json.dumps(parsed, indent=2, ensure_ascii=False)


def fold(text: str, lines: int) -> tuple[list[str], int, bool]:
    """The first `lines` lines of `text`, each cut at LINE_CHARS; how many lines are
    left out; whether anything was (a cut line counts)."""
    every = text.split("\n")
    shown = every[:lines]
    cut = [line if len(line) <= LINE_CHARS else line[:LINE_CHARS] + "…" for line in shown]
    hidden = len(every) - len(shown)
    return cut, hidden, hidden > 0 or cut != shown


def capped(text: str) -> str:
    if len(text) <= DISPLAY_LIMIT:
        return text
    return (f"{text[:DISPLAY_LIMIT]}\n… ({len(text) - DISPLAY_LIMIT:,} more characters not "
            "shown; all were saved)")


def result_label(result: Message) -> str | None:
    """`server.tool` from a tool message (provider = server, model = tool), if it says."""
    if result.provider and result.model:
        return f"{result.provider}.{result.model}"
    return None


def known_specs(tools: Any) -> dict[str, ToolSpec]:
    """The tools `tools` (a ToolBox, or None) offers now, by the name the model sees."""
    if tools is None:
        return {}
    return {spec.name: spec for spec in tools.specs()}


class ToolBlock(Static, can_focus=True):
    """One tool call: header (label and state), arguments, result; folds and unfolds."""

    BINDINGS: ClassVar[list[BindingType]] = [
        *bindings_for("message", only=_OWN_KEYS),
        Binding("enter", "fold", "Expand", show=False),
        Binding("up", "move(-1)", show=False),
        Binding("down", "move(1)", show=False),
        Binding("escape", "back", "Back", show=False),
    ]

    def __init__(self, call: ToolCall, result: Message | None = None) -> None:
        super().__init__("", markup=False, classes="tool-block")
        self.call = call
        self.spec: ToolSpec | None = None
        self.result: Message | None = None
        self.state: str = ASKED
        self.expanded = False
        self.started = 0.0  # time.monotonic() when it started running
        self._timer: Timer | None = None
        self._frame = 0
        if result is not None:
            self.set_result(result)
        self._draw()

    # ---- what the loop reports -----------------------------------------------------------

    @property
    def label(self) -> str:
        """`server.tool` (the ToolSpec's label, or the result's), else the raw name."""
        if self.spec is not None:
            return self.spec.label
        from_result = result_label(self.result) if self.result is not None else None
        return from_result or self.call.name or "tool call"

    @property
    def finished(self) -> bool:
        return self.state in _FINAL

    def arriving(self, arguments: str) -> None:
        """The reply is still streaming this call's arguments."""
        self.call = ToolCall(self.call.id, self.call.name, arguments)
        self.state = ARRIVING
        self._draw()

    def reset(self, call: ToolCall, result: Message | None) -> None:
        """The reply ended: the call as the model made it (and its result, if saved)."""
        self.call, self.state = call, ASKED
        if result is not None:
            self.set_result(result)
        else:
            self._draw()

    def pending(self, call: ToolCall, spec: ToolSpec | None, needs_approval: bool) -> None:
        self.call, self.spec = call, spec
        self.state = WAITING if needs_approval else QUEUED
        self._draw()

    def running(self, call: ToolCall, spec: ToolSpec, started: float) -> None:
        # The call as it runs: edited arguments replace the model's.
        self.call, self.spec, self.started = call, spec, started
        self.state = RUNNING
        self._draw()
        if self._timer is None and self.is_mounted:
            self._timer = self.set_interval(SPIN_INTERVAL, self._tick)

    def set_result(self, result: Message, call: ToolCall | None = None) -> None:
        """The call's tool message: its outcome (finish_reason) and text."""
        self.result = result
        if call is not None:
            self.call = call
        outcome = result.finish_reason or ToolOutcome.OK
        self.state = outcome if outcome in _BADGES else ToolOutcome.ERROR
        self._stop_timer()
        if self.is_mounted:
            self._draw()
            if self.has_focus:  # the hint's "copy result" (it said "copy arguments")
                self.post_message(MessageFocusChanged(self, True))

    def settle(self, specs: Mapping[str, ToolSpec] | None = None) -> None:
        """The reply's loop is over: a call it never finished did not run. `specs` (the
        tools on offer, by the name the model sees) name it `server.tool` all the same
        (qa13 F6: one left by max_tool_rounds was headed by the bare `shout`)."""
        if not self.finished:
            if self.spec is None and specs:
                self.spec = specs.get(self.call.name)
            self.state = NOT_RUN
            self._stop_timer()
            self._draw()

    # ---- drawing -------------------------------------------------------------------------

    @property
    def spinning(self) -> bool:
        """True while the spinner ticks (a call waiting or running)."""
        return self._timer is not None

    def on_mount(self) -> None:
        keymap = getattr(self.app, "keymap", None)
        if isinstance(keymap, dict) and any(
                keymap.get(name) != DEFAULT_KEYMAP[name] for name in _OWN_KEYS):
            install_bindings(self, keymap, "message", only=_OWN_KEYS)
        if self.state == RUNNING and self._timer is None:
            self._timer = self.set_interval(SPIN_INTERVAL, self._tick)

    def on_unmount(self) -> None:
        self._stop_timer()

    def _stop_timer(self) -> None:
        if self._timer is not None:
            self._timer.stop()
            self._timer = None

    def _tick(self) -> None:
        self._frame = (self._frame + 1) % len(SPINNER)
        self._draw(layout=False)  # the same rows: a repaint is enough

    def badge(self) -> tuple[str, str]:
        if self.state == RUNNING:
            seconds = max(0, int(time.monotonic() - self.started))
            return f"{SPINNER[self._frame]} running {seconds} s", "$warning"
        if self.state == ARRIVING:
            return f"… arriving ({len(self.call.arguments):,} characters)", "$foreground-muted"
        return _BADGES.get(self.state, ("", ""))

    @property
    def foldable(self) -> bool:
        return self._content(expanded=False)[1]

    def _draw(self, *, layout: bool = True) -> None:
        self.update(self._content(expanded=self.expanded)[0], layout=layout)

    def _content(self, *, expanded: bool) -> tuple[Content, bool]:
        """The block's text, and whether folding leaves anything out."""
        badge, style = self.badge()
        parts: list[str | tuple[str, str]] = [("⚙ ", "$secondary"),
                                              (inert.line(self.label), "bold")]
        if badge:
            parts += ["  ", (badge, style)]
        folded = False
        # Each part left out says how much; the last such line says how to see it all.
        trailer: list[str] = []
        arguments = self.call.arguments.strip()
        if arguments and arguments != "{}":
            lines, hidden, cut = self._lines(pretty_arguments(arguments), ARGUMENT_LINES,
                                             expanded)
            folded |= cut
            parts += ["\n", (lines, "$foreground-muted")]
            if hidden:
                trailer.append(f"{hidden:,} more line{'s' * (hidden != 1)} of arguments")
        body = self._result_text()
        if body:
            if trailer:  # the arguments' note before the result, where it belongs
                parts += ["\n", (f"… {trailer.pop()}", "$foreground-muted italic")]
            lines, hidden, cut = self._lines(body, RESULT_LINES, expanded)
            folded |= cut
            parts += ["\n", ("→ ", "$secondary"), lines]
            if hidden:
                trailer.append(f"{hidden:,} more line{'s' * (hidden != 1)}")
        if folded:
            parts += ["\n", (f"… {trailer[0]} · " if trailer else "… ", "$foreground-muted italic"),
                      ("Enter or click shows all", "$foreground-muted")]
        elif expanded and self.foldable:
            parts += ["\n", ("▴ Enter or click folds", "$foreground-muted")]
        return Content.assemble(*parts), folded

    @staticmethod
    def _lines(text: str, count: int, expanded: bool) -> tuple[str, int, bool]:
        if expanded:
            return inert.text(capped(text)), 0, False
        lines, hidden, cut = fold(text, count)
        return inert.text("\n".join(lines)), hidden, cut

    def _result_text(self) -> str:
        result = self.result
        if result is None:
            return ""
        text = result.content
        if text.strip() in (DECLINED_TEXT, STOPPED_TEXT):
            return ""  # what the model is told; the badge says it to a person
        if not text.strip() and result.error:
            return inert.server_words(result.error)
        return text.rstrip("\n")

    # ---- keys and clicks -----------------------------------------------------------------

    @property
    def keys_hint(self) -> str:
        """This block's own key for the status line ("" when nothing is folded)."""
        if self.expanded:
            return "Enter folds"
        return "Enter shows all" if self.foldable else ""

    @property
    def copy_what(self) -> str:
        """What the copy key copies here: "result" or "arguments"."""
        return "result" if self._result_text() else "arguments"

    def copy_payload(self) -> str:
        """The text the copy key puts on the clipboard: the result as saved (not the
        folded, capped view), or the arguments as the block shows them."""
        result = self.result
        if self._result_text() and result is not None:
            text = result.content if result.content.strip() else (result.error or "")
            return text.rstrip("\n")
        return pretty_arguments(self.call.arguments.strip())

    def action_copy_message(self) -> None:
        from chatterm.ui.chat.copying import copy_text

        copy_text(self.screen, self.copy_payload(),
                  f"{self.copy_what} of {inert.line(self.label)}")

    def action_fold(self) -> None:
        if not (self.foldable or self.expanded):
            return
        self.expanded = not self.expanded
        self._draw()
        if self.has_focus:
            self.post_message(MessageFocusChanged(self, True))  # the hint's verb
        self.call_after_refresh(self.scroll_visible, animate=False)

    def on_click(self, event: events.Click) -> None:
        event.stop()
        self.focus(scroll_visible=False)
        self.action_fold()

    def action_move(self, step: int) -> None:
        from chatterm.ui.chat.message_view import move_focus

        move_focus(self, step)

    def action_back(self) -> None:
        self.post_message(MessageActionRequested(None, "back"))

    def on_focus(self, event: events.Focus) -> None:
        self.post_message(MessageFocusChanged(self, True))

    def on_blur(self, event: events.Blur) -> None:
        self.post_message(MessageFocusChanged(self, False))
