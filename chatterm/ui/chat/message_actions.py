"""New versions from a focused message: `e` edits a prompt, `r` regenerates a reply
(`R`: with a model picked for that one reply).

Editing happens in the prompt box, as in terminal chat tools: `e` puts the prompt's text
there (whatever draft the box held is kept aside), a line above the box says what Enter
and Esc do, and the message being edited is marked. Enter sends it as a new version of
that prompt (a sibling: the old prompt and everything after it stay on their branch) and
streams a reply to it; Esc gives the box back its draft. Either way the draft returns.

Regenerating asks the session for a new version of that reply, streamed where the reply
was; what came after it stays on the old branch. A regeneration that is stopped or fails
holding nothing gives the old version back (the session reports it; versions.py redraws).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.widgets import Static

from chatterm.conversation import Role
from chatterm.errors import ChattermError
from chatterm.ui.chat.copying import copy_code, copy_text
from chatterm.ui.chat.focus import message_key
from chatterm.ui.chat.key_hints import key_label, usable_keys
from chatterm.ui.chat.message_view import MessageView

if TYPE_CHECKING:
    from textual.events import Key
    from textual.widget import Widget
    from textual.widgets.text_area import Location

    from chatterm.ui.chat.screen import ChatScreen

EDITING_CLASS = "-editing"
BANNER_ID = "edit-banner"


class MessageActions:
    """The chat screen's edit mode and regenerations."""

    def __init__(self, screen: ChatScreen) -> None:
        self.screen = screen
        # The prompt being edited (None: the prompt box holds an ordinary draft).
        self.editing: str | None = None
        self._draft = ""
        self._cursor: Location = (0, 0)

    def run(self, action: str, message_id: str) -> None:
        """A message action asked for by a focused message's key or a click on ‹ or ›."""
        view = self.screen.message_list.view_for_id(message_id)
        if view is None:
            return
        if action == "copy":
            copy_text(self.screen, view.message.content, "message")
        elif action == "copy_code":
            copy_code(self.screen, view.message)
        elif action == "delete_message":
            self.screen.branches.ask_delete(message_id)
        elif action in ("previous_version", "next_version"):
            self.screen.versions.flip(message_id, -1 if action == "previous_version" else 1)
        elif action == "edit_prompt":
            self.start_edit(message_id)
        elif action == "regenerate":
            self.regenerate(message_id)
        elif action == "regenerate_with":
            self.regenerate_with(message_id)

    def take_key(self, focused: Widget | None, event: Key) -> None:
        """Called by the app for every key, in the order keys come, before the focused
        widget gets it: `e` on a focused prompt starts the edit here. Left to the message
        view's binding, it would run only when the view gets to the key, and the letters
        typed next could be in the prompt by then (and the `e` lost)."""
        if isinstance(focused, MessageView) and message_key(focused, event) == "edit_prompt":
            # The key now goes to the prompt: not typed there, and not passed up either.
            event.prevent_default()
            event.stop()
            self.start_edit(focused.message.id)

    # ---- editing a prompt ---------------------------------------------------------------

    def start_edit(self, message_id: str) -> None:
        """`e` on a focused prompt: its text into the prompt box, to change and send."""
        screen = self.screen
        if screen.replies.refuse_while_busy():
            return
        view = screen.message_list.view_for_id(message_id)
        if view is None or view.message.role is not Role.USER:
            return
        prompt = screen.prompt
        if self.editing is None:
            self._draft, self._cursor = prompt.text, prompt.cursor_location
        else:
            self._unmark()
        self.editing = message_id
        view.add_class(EDITING_CLASS)
        prompt.load_text(view.message.content)
        prompt.move_cursor(prompt.document.end)
        self._show_banner()
        # At once (focus() waits a turn): the next key typed goes to the text.
        screen.set_focus(prompt)

    def _show_banner(self) -> None:
        screen = self.screen
        keymap, kitty = screen.services.keymap, screen.services.kitty()
        send = usable_keys(keymap, "send", kitty=kitty)
        text = (f"Editing a prompt · {key_label(send[0]) if send else 'sending'} makes it a "
                "new version, the old one stays · Esc cancels")
        box = screen.query_one("#prompt-box")
        found = box.query(f"#{BANNER_ID}")
        if found:
            found.first(Static).update(text)
        else:
            box.mount(Static(text, id=BANNER_ID, markup=False), before=screen.prompt)

    def _unmark(self) -> None:
        for view in self.screen.message_list.query(f".{EDITING_CLASS}"):
            view.remove_class(EDITING_CLASS)

    def _leave_edit(self) -> None:
        """Out of edit mode: the mark and the banner go, the draft comes back."""
        self._unmark()
        self.screen.query(f"#{BANNER_ID}").remove()
        self.editing = None
        prompt = self.screen.prompt
        prompt.load_text(self._draft)
        prompt.move_cursor(self._cursor)
        self._draft, self._cursor = "", (0, 0)

    def cancel_edit(self) -> bool:
        """Esc while editing: the prompt box gets its draft back. False when not editing."""
        if self.editing is None:
            return False
        self._leave_edit()
        self.screen.prompt.focus()
        return True

    def send_edit(self, text: str) -> None:
        """Enter while editing: the new version of the prompt, and a reply to it."""
        screen = self.screen
        message_id = self.editing
        assert message_id is not None
        if not text.strip():
            screen.status.show_error("the edited prompt is empty (Esc cancels the edit)")
            return
        if screen.replies.refuse_while_busy():
            return
        if not screen.conversation.model:
            screen.status.show_error("no model chosen: press Ctrl+O to pick one")
            return
        old = next((m for m in screen.conversation.messages if m.id == message_id), None)
        if old is None:
            # Another branch is shown now (a flip or the tree view meanwhile).
            self._leave_edit()
            screen.status.show_error("that prompt is no longer on the branch shown; "
                                     "the edit was not sent")
            return
        try:
            turn = screen.engine().new_edit(message_id, text)
        except ChattermError as error:
            screen.status.show_error(error.message)
            return
        self._leave_edit()
        # The old prompt and what follows it leave the screen (they stay saved, on their
        # branch); the new version and its reply are drawn before the request is sent.
        screen.versions.replace_below(old.parent_id, [])
        screen.replies.start_edit(turn)

    # ---- regenerating a reply -----------------------------------------------------------

    def regenerate(self, message_id: str, model: tuple[str, str] | None = None) -> None:
        """`r` on a focused reply: a new version of it (`model`: provider and model for
        this reply only; the chat's own model stays)."""
        screen = self.screen
        view = screen.message_list.view_for_id(message_id)
        if view is None or view.message.role is not Role.ASSISTANT:
            return
        if screen.replies.refuse_while_busy():
            return
        if self.editing is not None:
            self.cancel_edit()
        # What came after this reply stays on the old branch; the new version streams
        # into this reply's place.
        screen.versions.replace_below(message_id, [])
        screen.replies.regenerate(message_id, model)
        view.focus()

    def regenerate_with(self, message_id: str) -> None:
        """`R` on a focused reply: pick a model, then regenerate the reply with it."""
        from chatterm.ui.chat.regenerate_picker import RegeneratePicker

        screen = self.screen
        if screen.replies.refuse_while_busy():
            return
        view = screen.message_list.view_for_id(message_id)
        if view is None or view.message.role is not Role.ASSISTANT:
            return
        conversation = screen.conversation
        picker = RegeneratePicker(screen.services.config.providers,
                                  view.message.provider or conversation.provider,
                                  view.message.model or conversation.model)

        def picked(result: tuple[str, str] | None) -> None:
            if result is not None:
                self.regenerate(message_id, result)
            elif view.is_attached:
                view.focus()

        screen.app.push_screen(picker, picked)
