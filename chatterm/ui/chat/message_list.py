"""The scrolling list of message views, and which view shows which message.

It asks for older messages at the top and newer ones at the bottom of a window (a chat
opened at a search hit); the screen's loader (loading.py) answers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from textual import events
from textual.containers import VerticalScroll

from chatterm.conversation import Message, Role
from chatterm.ui import compat
from chatterm.ui.chat.assistant_view import AssistantMessage
from chatterm.ui.chat.message_view import MessageView, SystemMessage, ToolMessage, UserMessage
from chatterm.ui.compat import SingleLayout
from chatterm.ui.events import NewerMessagesWanted, OlderMessagesWanted

if TYPE_CHECKING:
    from textual.widget import AwaitMount, Widget

    from chatterm.ui.chat.message_header import Versions


def view_for(message: Message, *, is_last: bool = False) -> MessageView:
    if message.role is Role.ASSISTANT:
        return AssistantMessage(message, is_last=is_last)
    if message.role is Role.USER:
        return UserMessage(message, classes="user")
    if message.role is Role.SYSTEM:
        return SystemMessage(message, classes="system")
    return ToolMessage(message, classes="tool")


def link_tool_results(views: list[MessageView]) -> None:
    """Each tool message whose call is in the reply above it (past the other results
    of that reply) is drawn in that call's block; its own view takes no room."""
    owner: AssistantMessage | None = None
    for view in views:
        if not view.display:
            continue  # on its way out
        if isinstance(view, AssistantMessage):
            owner = view if view.message.tool_calls else None
        elif isinstance(view, ToolMessage):
            if owner is not None and not view.in_call and owner.has_call(view.message.tool_call_id):
                owner.attach_result(view.message)
                view.hide_in_call()
        else:
            owner = None


class MessageList(SingleLayout, VerticalScroll):
    """The conversation, newest at the bottom; asks for older messages at the top.

    It is anchored to the bottom so a stream stays in view, Textual releases the anchor
    when the user scrolls up and restores it when they come back down.
    """

    can_focus = False
    # Starts as True so the first scroll-to-top after a load asks for older messages.
    has_older: bool = False
    # True while loaded messages below the mounted ones wait (opened at a search hit).
    has_newer: bool = False

    def __init__(self, *, id: str | None = None,
                 versions_of: Callable[[str], Versions | None] | None = None) -> None:
        super().__init__(id=id)
        # Which version of its message each view shows (`‹ 2/3 ›`), looked up as views
        # are mounted so the header is drawn once, with its switch.
        self.versions_of = versions_of

    def mount(self, *widgets: Widget, **where: Any) -> AwaitMount:
        if self.versions_of is not None:
            for widget in widgets:
                if isinstance(widget, MessageView) and widget.versions is None \
                        and not isinstance(widget, SystemMessage):
                    widget.set_versions(self.versions_of(widget.message.id))
        mounted = super().mount(*widgets, **where)
        # In the list now (composed later): results go to their calls' blocks before
        # anything is drawn, whichever of the two was mounted first (scroll-back mounts
        # older messages above newer ones).
        if any(isinstance(widget, ToolMessage) or (isinstance(widget, AssistantMessage)
               and widget.message.tool_calls) for widget in widgets):
            link_tool_results(self.views())
        return mounted

    def on_mount(self) -> None:
        self.anchor()

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        if self.has_older and new_value <= 0 < old_value:
            self.post_message(OlderMessagesWanted())
        if self.has_newer and new_value >= self.max_scroll_y > old_value:
            self.post_message(NewerMessagesWanted())

    # Textual runs these before its own wheel handler (which scrolls), as it runs one
    # handler per class along the MRO.
    def on_mouse_scroll_up(self, event: events.MouseScrollUp) -> None:
        # Already at the top, the wheel moves nothing and scroll_y never changes.
        if self.has_older and self.scroll_y <= 0:
            self.post_message(OlderMessagesWanted())

    def on_mouse_scroll_down(self, event: events.MouseScrollDown) -> None:
        # Already at the bottom of a window, the wheel moves nothing.
        if self.has_newer and self.scroll_y >= self.max_scroll_y:
            self.post_message(NewerMessagesWanted())

    def follow_from_bottom(self) -> None:
        """Follow the bottom again from when the reader next gets there (not at once)."""
        if self.scroll_y < 0:
            # A chat shorter than the screen sits at its bottom: the anchor places it
            # there with a negative offset, re-computed only while the anchor is held.
            # Released, the old offset stayed and a longer branch drawn next was pushed
            # down out of view, blank rows above it (qa12 #4). Hold it for that layout.
            self.anchor()
            return
        compat.anchor_from_bottom(self)

    @property
    def following(self) -> bool:
        """True while the list sticks to the bottom (the user has not scrolled away)."""
        return self.is_anchored and not compat.anchor_released(self)

    def views(self) -> list[MessageView]:
        return [child for child in self.children if isinstance(child, MessageView)]

    def view_for_id(self, message_id: str) -> MessageView | None:
        for view in reversed(self.views()):
            if view.message.id == message_id:
                return view
        return None

