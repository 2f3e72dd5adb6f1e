"""Opening a conversation at a search hit, however far from its end the hit is.

A chat normally mounts its newest messages and loads older ones as you scroll up. For a
hit, the conversation is loaded from the hit to its end (rows are cheap; widgets are
not: mounting costs ~15 ms a message here, so the ~770 messages after a hit at 1,234 of
2,000 would take seconds). Only a window is mounted: a few messages above the hit and a
screenful below it. Newer ones are mounted a page at a time as you scroll down, and
anything that adds a reply (send, retry, continue) first shows the end again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from chatterm.conversation import Message
    from chatterm.launch import OpenedConversation
    from chatterm.ui.chat.screen import ChatScreen

# Messages of context mounted above the hit.
REVEAL_BEFORE = 3
# Newer messages mounted per page once the reader reaches the bottom of the window.
NEWER_PAGE = 20
# The class that marks the hit's message (see chatterm.tcss).
HIT_CLASS = "-search-hit"


def hit_window(messages: list[Message], message_id: str, height: int) -> tuple[int, int] | None:
    """The slice of `messages` to mount first around the hit, or None if it is not there.

    Below the hit, about one message per two rows of the screen: enough to fill it, so
    the hit can be scrolled to the top.
    """
    index = next((i for i, m in enumerate(messages) if m.id == message_id), None)
    if index is None:
        return None
    after = max(12, height // 2)
    return max(0, index - REVEAL_BEFORE), min(len(messages), index + 1 + after)


def load_newer(screen: ChatScreen, page: int = NEWER_PAGE) -> int:
    """Mount up to `page` of the messages below the window; returns how many."""
    from chatterm.ui.chat.message_list import view_for

    newer = screen.loader.newer_messages
    if not newer:
        return 0
    chunk = newer[:page]
    del newer[:page]
    last = screen.last_reply()
    message_list = screen.message_list
    message_list.mount_all([view_for(m, is_last=m is last) for m in chunk])
    if not newer:
        message_list.has_newer = False
        # At the end now: follow the bottom again once the reader gets there.
        message_list.follow_from_bottom()
    return len(chunk)


def keep_last_page(opened: OpenedConversation, page: int) -> None:
    """Forget all but the last `page` loaded messages, as when a chat is opened normally.

    Showing the end again after a hit then mounts a page, not everything loaded since the
    hit; earlier messages come back from the store on scroll-up, and the whole history is
    loaded before a request as always.
    """
    messages = opened.conversation.messages
    drop = len(messages) - page
    if drop > 0:
        del messages[:drop]
        opened.first_position += drop
        opened.complete = False


def show_hit(screen: ChatScreen, message_id: str) -> None:
    """Scroll the hit's message to the top of the view, mark it and focus it."""
    message_list = screen.message_list
    view = message_list.view_for_id(message_id)
    if view is None:
        return
    view.add_class(HIT_CLASS)

    def go(tries: int = 5) -> None:
        if not view.is_attached:
            return
        view.focus(scroll_visible=False)
        if not view.virtual_region.height and tries:
            screen.call_after_refresh(go, tries - 1)  # not laid out yet
            return
        message_list.scroll_to_widget(view, animate=False, top=True, immediate=True)
        # The window may end above the screen's bottom: mount more and place it again.
        if (tries and screen.loader.newer_messages
                and message_list.scroll_y >= message_list.max_scroll_y):
            load_newer(screen)
            screen.call_after_refresh(go, tries - 1)

    screen.call_after_refresh(go)
