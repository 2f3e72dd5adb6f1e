"""Ctrl+E (`edit_in_editor`): the prompt's text in the user's editor, the app suspended.

The editor itself (which one, the private temp file, reading it back) is
chatterm.editor, shared with `chatterm ask -e`. Here: handing the terminal over with
Textual's `App.suspend` and taking it back, the editor's text put in the prompt as one
edit (Ctrl+Z brings the old text back) with the cursor at its end, and a failure as one
line with the prompt as it was.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from textual.app import SuspendNotSupported
from textual.binding import BindingsMap
from textual.worker import WorkerState

from chatterm.editor import EditorError, edit_text, keys_for_the_editor
from chatterm.ui import compat
from chatterm.ui.keys import bindings_for

if TYPE_CHECKING:
    from textual.widgets import TextArea

KEPT = "the prompt keeps its text"


def show_prompt_keys(prompt: TextArea, keymap: Mapping[str, str]) -> None:
    """Give `prompt` bindings of its own for the prompt actions the footer shows (the
    editor key), in place of TextArea's for the same keys (Ctrl+E: end of line, taken
    on purpose: End and Ctrl+End still move the cursor). The prompt's key handler acts
    on those keys first; the bindings are what the footer lists and a click on it runs."""
    mine = BindingsMap([b for b in bindings_for("prompt", keymap) if b.show])
    kept = [binding for key, binding in compat.node_bindings(prompt)
            if key not in mine.key_to_bindings]
    compat.set_node_bindings(prompt, BindingsMap([*kept, *(b for _key, b in mine)]))


def reply_running(prompt: TextArea) -> bool:
    """Whether any chat's reply is streaming (a worker of group "reply", replies.py and
    compare/controller.py). Suspending blocks the event loop for as long as the editor
    is open; a stream read then would stall and could time out, so the editor waits."""
    return any(worker.group == "reply" and worker.state in (WorkerState.PENDING,
                                                             WorkerState.RUNNING)
               for worker in prompt.app.workers)


def open_in_editor(prompt: TextArea) -> None:
    app = prompt.app
    if reply_running(prompt):
        app.notify("A reply is streaming: the editor opens once it ends (Esc stops it).",
                   severity="warning")
        return
    try:
        if app.is_headless:
            # No terminal to hand over (run_test, the Pilot tests): the editor runs as is.
            edited = _edit(prompt.text)
        else:
            # Ctrl+C is ignored here from before the terminal is handed over until the
            # app has it back: a key typed while the editor starts (or as it ends) would
            # otherwise raise KeyboardInterrupt here, outside any editor.
            with keys_for_the_editor(), app.suspend():
                # Nothing may escape this block: App.suspend resumes the app only when
                # the block ends normally (no try/finally around its yield), so an
                # exception would leave the terminal in the shell's mode, the app unseen.
                edited = _edit(prompt.text)
    except SuspendNotSupported:
        edited = EditorError("this terminal cannot be handed to an editor")
    if isinstance(edited, EditorError):
        app.notify(f"{edited.message}; {KEPT}.", severity="error")
        return
    if edited != prompt.text:
        prompt.replace(edited, (0, 0), prompt.document.end, maintain_selection_offset=False)
    prompt.move_cursor(prompt.document.end)
    prompt.focus()


def _edit(text: str) -> str | EditorError:
    try:
        return edit_text(text)
    except EditorError as error:
        return error
    except Exception as error:  # see open_in_editor: nothing may escape the block
        return EditorError(f"the editor could not be run ({type(error).__name__}: {error})")
