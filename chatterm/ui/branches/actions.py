"""What the chat screen does with branches: the tree view, forking, deleting a subtree.

Each change goes through the session (`screen.engine()`): `switch_branch`, `fork` and
`delete_message` save it and report it, and the chat then shows the branch that is
current now, read back from the store as any reopened chat is (the message the change
was about highlighted and focused, as a search hit is). The screen never writes to the
store; it only reads the tree for the view, off the event loop.
"""

from __future__ import annotations

import asyncio
from functools import partial
from typing import TYPE_CHECKING

from chatterm.conversation import Role
from chatterm.errors import ChattermError
from chatterm.tree import Node, Shape, TreeError
from chatterm.ui import inert
from chatterm.ui.branches.layout import TreeLine, branch_count, tree_lines

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from chatterm.conversation import Message
    from chatterm.ui.chat.screen import ChatScreen
    from chatterm.ui.services import ChatStore


def read_tree(store: ChatStore, conversation_id: str) -> tuple[list[TreeLine], int]:
    """The tree view's lines and its branch count, read from the store (on a thread)."""
    shape = store.shape(conversation_id)
    conversation = store.get_tree(conversation_id)
    messages = {message.id: message for message in conversation.messages}
    current = conversation.current_id or shape.latest_leaf()
    return tree_lines(shape, messages, current), branch_count(shape)


def unsaved_tree(messages: list[Message]) -> tuple[list[TreeLine], int]:
    """The same for a chat that is not saved: the messages in memory, one branch."""
    shape = Shape(Node(m.id, m.parent_id, index, m.created_at)
                  for index, m in enumerate(messages))
    current = messages[-1].id if messages else None
    return (tree_lines(shape, {m.id: m for m in messages}, current),
            branch_count(shape))


class BranchActions:
    """The chat screen's branch commands (its `action_*` methods call these)."""

    def __init__(self, screen: ChatScreen) -> None:
        self.screen = screen

    def _run(self, work: Callable[[], Awaitable[None]]) -> None:
        self.screen.run_worker(work, group="branches", exclusive=True, exit_on_error=False)

    def target(self) -> Message | None:
        """The focused message, else the current branch's last one."""
        from chatterm.ui.chat.message_view import MessageView

        focused = self.screen.focused
        # The system prompt's view stands above the tree, it is not one of its messages.
        if isinstance(focused, MessageView) and focused.message.role is not Role.SYSTEM:
            return focused.message
        messages = self.screen.conversation.messages
        return messages[-1] if messages else None

    # ---- the tree view -----------------------------------------------------------------

    def show_tree(self) -> None:
        self._run(partial(self._show_tree))

    async def _show_tree(self) -> None:
        screen = self.screen
        store = screen.services.store
        conversation = screen.conversation
        try:
            if screen.opened.saved and store is not None:
                await screen.engine().flush()  # what the view reads is all written
                lines, branches = await asyncio.to_thread(read_tree, store, conversation.id)
            else:
                lines, branches = unsaved_tree(conversation.messages)
        except ChattermError as error:
            screen.notify(inert.server_words(error.message), severity="error", markup=False)
            return
        except TreeError as error:  # a damaged tree: say so, never a traceback
            screen.notify(inert.server_words(str(error)), severity="error", markup=False)
            return
        if not lines:
            screen.notify("This chat has no messages yet.")
            return
        from chatterm.ui.branches.tree_screen import TreeScreen

        title = "Conversation tree: " + inert.line(conversation.title or "New chat")
        screen.app.push_screen(TreeScreen(lines, branches=branches, title=title),
                               self._tree_answered)

    def _tree_answered(self, message_id: str | None) -> None:
        if message_id is None:
            self.screen.prompt.focus()
            return
        self.switch_to(message_id)

    def switch_to(self, message_id: str) -> None:
        """Make the latest branch through `message_id` current and show it there."""
        if self.screen.replies.refuse_while_busy():
            return
        self._run(partial(self._switch_to, message_id))

    async def _switch_to(self, message_id: str) -> None:
        screen = self.screen
        if not screen.opened.saved:
            screen.reveal(message_id)  # one branch only: it is the one shown
            return
        conversation_id = screen.conversation.id
        try:
            await screen.engine().switch_branch(message_id)
        except ChattermError as error:
            screen.status.show_error(error.message)
            return
        screen.open_saved(conversation_id, message_id)

    # ---- forking -------------------------------------------------------------------------

    def fork_here(self) -> None:
        """A new chat holding the current branch up to the focused (or last) message."""
        screen = self.screen
        message = self.target()
        if message is None or not screen.opened.saved:
            screen.notify("There is nothing to fork yet: send a prompt first.",
                          severity="warning")
            return
        if self.screen.replies.refuse_while_busy():
            return
        self._run(partial(self._fork, message.id))

    async def _fork(self, message_id: str) -> None:
        screen = self.screen
        # Its own title, so the sidebar does not list two chats by the same name.
        title = f"{screen.conversation.title or 'New chat'} (fork)"
        try:
            forked = await screen.engine().fork(message_id, title)
        except ChattermError as error:
            screen.status.show_error(error.message)
            return
        screen.open_saved(forked.id)
        # The new chat in the list, marked as the one shown (not over a narrow chat).
        if not screen.sidebar_panel.overlays:
            screen.sidebar_panel.toggle(show=True, focus=False)
        screen.notify(f"Forked into a new chat: “{inert.line(forked.title)}” "
                      f"({len(forked.messages)} messages). The original is unchanged.",
                      markup=False)

    # ---- deleting a message and what follows it -----------------------------------------

    def ask_delete(self, message_id: str) -> None:
        screen = self.screen
        if not screen.opened.saved:
            screen.notify("This chat is not saved yet: there is nothing to delete.")
            return
        if self.screen.replies.refuse_while_busy():
            return
        session = screen.engine()
        if message_id not in session.shape:
            # The system prompt's view: it is not a message of the tree.
            from chatterm.ui.chat.key_hints import key_label, usable_keys

            keys = usable_keys(screen.services.keymap, "edit_system_prompt",
                               kitty=screen.services.kitty())
            how = key_label(keys[0]) if keys else "“Edit system prompt” (palette)"
            screen.notify(f"The system prompt is not a message of the chat: {how} edits it.",
                          severity="warning")
            return
        count = len(session.shape.subtree(message_id))
        view = screen.message_list.view_for_id(message_id)
        role = view.message.role if view is not None else None
        what = {"user": "your prompt", "assistant": "this reply"}.get(str(role), "this message")
        question = (f"Delete {what} and everything below it, on every branch: "
                    f"{count:,} messages? This cannot be undone." if count > 1
                    else f"Delete {what} (1 message)? This cannot be undone.")
        from chatterm.ui.dialogs.confirm import ConfirmDialog

        dialog = ConfirmDialog(question, confirm="Delete", cancel="Keep", danger=True,
                               title="Delete message")

        def answered(yes: bool | None) -> None:
            if yes:
                self._run(partial(self._delete, message_id))
            else:
                view = screen.message_list.view_for_id(message_id)
                if view is not None:
                    view.focus()

        screen.app.push_screen(dialog, answered)

    async def _delete(self, message_id: str) -> None:
        screen = self.screen
        conversation_id = screen.conversation.id
        try:
            changed = await screen.engine().delete_message(message_id)
        except ChattermError as error:
            screen.status.show_error(error.message)
            return
        # Where the deleted message was: the version that took its place, else the end.
        shown = changed.messages[0].id if changed.messages else None
        screen.open_saved(conversation_id, shown)
        screen.notify("Deleted. The chat shows the branch that is current now.")
