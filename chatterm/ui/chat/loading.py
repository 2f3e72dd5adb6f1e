"""Putting a conversation's messages on screen: the first paint, the backfill of the rest
of the loaded page, older pages on scroll-up, newer ones below a search hit's window,
and the whole history before a request.

A reopened chat mounts only the newest few messages before its first frame; the rest of
the loaded page follows a few per frame (the backlog), then older pages come from the
store as the reader scrolls up. A chat opened at a search hit mounts a window around the
hit (reveal.py) and keeps the messages below it in `newer_messages`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from chatterm.conversation import Message, Role
from chatterm.errors import ChattermError
from chatterm.launch import FIRST_PAGE, open_at, open_saved
from chatterm.ui import inert
from chatterm.ui.chat import usage_total
from chatterm.ui.chat.message_list import view_for
from chatterm.ui.chat.message_view import MessageView, SystemMessage
from chatterm.ui.chat.replies import last_reply_index
from chatterm.ui.chat.reveal import REVEAL_BEFORE, hit_window, keep_last_page

if TYPE_CHECKING:
    from chatterm.conversation import Conversation
    from chatterm.engine.session import ChatSession
    from chatterm.launch import OpenedConversation
    from chatterm.ui.chat.live_replies import LiveReply
    from chatterm.ui.chat.screen import ChatScreen

# Messages mounted before the first frame of a reopened chat; the rest of the first
# page follows BACKFILL_CHUNK at a time (see HistoryLoader.show).
FIRST_PAINT = 12
BACKFILL_CHUNK = 8


class HistoryLoader:
    """Which of the open conversation's messages are mounted, and mounting more."""

    def __init__(self, screen: ChatScreen) -> None:
        self.screen = screen
        self._loading_older = False
        # Loaded messages above the mounted ones, mounted a few per frame after the first.
        self._backlog: list[Message] = []
        # Loaded messages below the mounted ones (a chat opened at a search hit).
        self.newer_messages: list[Message] = []

    def load_saved(self, conversation_id: str,
                   message_id: str | None = None) -> OpenedConversation | None:
        """The last page of a saved conversation, or from a search hit (`message_id`) to
        its end; None (and a notification) if it cannot be read."""
        screen = self.screen
        store = screen.services.store
        if store is None:
            return None
        try:
            if message_id is not None:
                # From just above the hit to the end, on the hit's branch (which becomes
                # the current one); only a window is mounted.
                return open_at(store, conversation_id, message_id, above=REVEAL_BEFORE)
            return open_saved(store, conversation_id, FIRST_PAGE)
        except ChattermError as error:
            screen.notify(inert.server_words(error.message), severity="error", markup=False)
            return None

    def show(self, reveal: str | None = None) -> None:
        """Mount the open conversation from scratch (at the search hit `reveal`, if any)."""
        screen = self.screen
        conversation = screen.conversation
        screen.replies.session = None
        screen.forget_last_message()
        screen.refresh_title()
        screen.status.set_model(conversation.provider, conversation.model or "(no model)")
        screen.status.set_total("")
        if screen.opened.saved:  # what it cost so far, read after the first frame
            usage_total.refresh(screen)
        screen.show_idle_hint()
        message_list = screen.message_list
        message_list.remove_children()
        # The newest few are mounted now, the rest of the loaded page just after the
        # first frame: a long chat shows (and takes input) before its history is laid out.
        messages = conversation.messages
        # At a search hit, only a window around it (see reveal.py).
        window = hit_window(messages, reveal, screen.app.size.height) if reveal else None
        cut, end = window or (len(messages) - self._first_paint_count(messages), len(messages))
        self._backlog = list(messages[:cut])
        self.newer_messages = list(messages[end:])
        message_list.has_newer = bool(self.newer_messages)
        last_reply = last_reply_index(messages)
        views: list[MessageView] = [
            view_for(message, is_last=index == last_reply)
            for index, message in enumerate(messages[cut:end], start=cut)
        ]
        if not self.has_older():
            views[:0] = self._system_view()
        message_list.has_older = self.has_older()
        if views:
            message_list.mount_all(views)
        message_list.anchor(not self.newer_messages)
        if self._backlog:
            screen.call_after_refresh(self._backfill)
        screen.edits.check_key()

    def _first_paint_count(self, messages: list[Message]) -> int:
        """How many of the newest messages fill the screen (an estimate, capped)."""
        size = self.screen.app.size
        width = max(20, size.width - 8)
        budget = size.height + 4
        rows = 0
        count = 0
        for message in reversed(messages):
            count += 1
            # A header line and a blank one, then the text (lines wrapped at `width`);
            # only the start of a long message matters for the estimate.
            rows += 2 + sum(1 + len(line) // width
                            for line in message.content[:4000].splitlines())
            if rows >= budget or count >= FIRST_PAINT:
                break
        return count

    def has_older(self) -> bool:
        """True while earlier messages than the mounted ones exist (loaded or stored)."""
        return bool(self._backlog) or self.screen.opened.first_position > 0

    def _system_view(self) -> list[MessageView]:
        text = self.screen.conversation.system_prompt
        return [SystemMessage(Message(role=Role.SYSTEM, content=text))] if text.strip() else []

    def _backfill(self) -> None:
        """Mount the loaded-but-unmounted history a few messages per frame."""
        screen = self.screen
        if not self._backlog or not screen.is_mounted:
            return
        if self._loading_older:
            screen.call_after_refresh(self._backfill)
            return
        self.load_older(BACKFILL_CHUNK)
        if self._backlog:
            screen.call_after_refresh(self._backfill)

    def show_end(self) -> None:
        """A reply goes at the end: a window around a search hit makes way for the end."""
        if self.newer_messages:
            keep_last_page(self.screen.opened, FIRST_PAGE)
            self.show()

    def leave_to_scroll_back(self, live: LiveReply) -> None:
        """A chat reopened mid-stream holds its whole history: mount one page of it, and
        leave the oldest to scroll-back from the store, as for any chat opened."""
        opened = self.screen.opened
        cut = live.trim_backlog(self._backlog, len(opened.conversation.messages))
        if cut and opened.saved and opened.complete:
            del self._backlog[:cut]
            opened.first_position = cut

    def load_older(self, page: int = FIRST_PAGE) -> int:
        """Mount up to `page` earlier messages above the first one; returns how many.

        They come from what was loaded but not mounted yet, else from the store.
        """
        screen = self.screen
        opened = screen.opened
        if self._loading_older or not self.has_older():
            return 0
        if self._backlog:
            older = self._backlog[-page:]
            del self._backlog[-page:]
        elif screen.services.store is not None:
            # The branch's messages above the oldest one mounted: by id, since positions
            # count every branch's messages, not this branch's.
            top = next((view.message.id for view in screen.message_list.views()
                        if not isinstance(view, SystemMessage)), None)
            if top is None:
                return 0
            try:
                older = screen.engine().older_messages(top, page)
            except ChattermError as error:
                screen.status.show_error(error.message)
                return 0
            # Nothing above: the branch starts here, whatever the count said.
            opened.first_position = max(0, opened.first_position - len(older)) if older else 0
        else:
            return 0
        self._loading_older = True
        message_list = screen.message_list
        message_list.has_older = self.has_older()
        views: list[MessageView] = [] if self.has_older() else self._system_view()
        views.extend(view_for(message) for message in older)
        current = message_list.views()
        anchor_view = current[0] if current else None
        if anchor_view is not None:
            message_list.mount_all(views, before=anchor_view)
        else:
            message_list.mount_all(views)

        following = message_list.following

        def keep_place() -> None:
            # Stay on the message that was at the top, instead of jumping to the oldest;
            # a list still following the bottom stays there by itself.
            if anchor_view is not None and not following:
                message_list.scroll_to(y=anchor_view.virtual_region.y, animate=False,
                                       immediate=True)
            self._loading_older = False

        screen.call_after_refresh(keep_place)
        return len(older)

    async def load_history(self, opened: OpenedConversation, session: ChatSession) -> None:
        """The whole history of `opened` into its session (requests carry all of it)."""
        # What is loaded may have been cut back to a page since (reveal.keep_last_page).
        session.complete = session.complete and opened.complete
        await session.load_history()
        opened.complete = True

    async def whole_conversation(self) -> Conversation:
        """The chat on screen with its whole history loaded (for an export)."""
        screen = self.screen
        await self.load_history(screen.opened, screen.engine())
        return screen.opened.conversation

    def show_system_prompt(self, text: str) -> None:
        """Redraw the system prompt's view (above the oldest message, once it is mounted)."""
        message_list = self.screen.message_list
        for view in message_list.query(SystemMessage):
            view.remove()
        if text.strip() and not self.has_older():
            view = SystemMessage(Message(role=Role.SYSTEM, content=text))
            first = message_list.views()
            if first:
                message_list.mount(view, before=first[0])
            else:
                message_list.mount(view)
