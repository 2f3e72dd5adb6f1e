"""Versions on screen: the `‹ 2/3 ›` of each message, flipping between versions, and
redrawing the branch below a message when another one becomes current.

A conversation is a tree; the chat shows one branch of it (the session's current path,
`conversation.messages`). Every message view shows which version of its message it is
(chatterm.ui.chat.message_header). Flipping (←/→, [/], a click on ‹ or ›) asks the
session for the neighbouring version; the session makes that version's most recently
active branch current, saves the choice and reports a BranchChanged. Only what changed
is redrawn: the views above the flipped message stay the same widgets, the views from it
down are replaced, and of a long new branch only a screenful is mounted (the rest waits
in the loader's `newer_messages` and comes as you scroll down, as below a search hit).

`sync` is the one redraw: it compares the mounted views with the current path and
replaces them from the first one that differs. Flips, edits, regenerations and a
regeneration that came to nothing (the old branch is current again) all end in it.
"""

from __future__ import annotations

import asyncio
from functools import partial
from typing import TYPE_CHECKING

from chatterm.conversation import Role
from chatterm.errors import ChattermError
from chatterm.ui.chat.assistant_view import AssistantMessage
from chatterm.ui.chat.message_list import view_for
from chatterm.ui.chat.message_view import MessageView, SystemMessage

if TYPE_CHECKING:
    from textual.widget import Widget

    from chatterm.conversation import Message
    from chatterm.engine.events import BranchChanged
    from chatterm.ui.chat.message_header import Versions
    from chatterm.ui.chat.screen import ChatScreen

# At most this many views are mounted below a flipped message at once (a screenful and
# more; mounting costs milliseconds per message); the rest load as you scroll down.
TAIL_PAGE = 8


class BranchView:
    """The chat screen's versions: marks, flips and redrawing the current branch."""

    def __init__(self, screen: ChatScreen) -> None:
        self.screen = screen
        # One flip at a time: a key held down must not flip from a stale view.
        self._lock = asyncio.Lock()

    # ---- the marks --------------------------------------------------------------------

    def versions_of(self, message_id: str) -> Versions | None:
        """(this version, how many) for a message of the chat on screen, if known."""
        session = self.screen.replies.session
        if session is None:
            return None
        shape = session.shape
        if message_id not in shape:
            return None
        return shape.version(message_id)

    def refresh_marks(self) -> None:
        """Bring every mounted view's `‹ n/m ›` up to date (a new version was made)."""
        if self.screen.replies.session is None:
            self._start_session()
            if self.screen.replies.session is None:
                return
        for view in self.screen.message_list.views():
            if not isinstance(view, SystemMessage):
                view.set_versions(self.versions_of(view.message.id))

    def _start_session(self) -> None:
        """The marks come from the session's tree; make it once the warm-up is done (the
        engine's imports must not race it), so opening a chat never waits for it."""
        from chatterm.ui import warmup

        screen = self.screen
        if not screen.is_attached or not screen.opened.saved:
            return
        if warmup.is_done() or not warmup.is_started():
            try:
                screen.engine()
            except ChattermError as error:
                screen.status.show_error(error.message)
        else:
            screen.set_timer(0.05, self.refresh_marks)

    # ---- flipping ----------------------------------------------------------------------

    def flip(self, message_id: str, step: int) -> None:
        """Show the previous (-1) or next (+1) version of a message of the current path."""
        screen = self.screen
        if screen.replies.refuse_while_busy():
            return
        # A callable, not a coroutine (one a cancelled worker never starts is never
        # awaited); Textual's WorkType is a union of callables: mypy infers Never for it.
        screen.run_worker(partial(self._flip, message_id, step),  # type: ignore[arg-type]
                          group="flip")

    async def _flip(self, message_id: str, step: int) -> None:
        screen = self.screen
        async with self._lock:
            if screen.busy:
                return
            # A press that came while the last flip was drawn names the version shown
            # before it: flip from the one shown now, at the same place.
            target = self._on_path(message_id)
            if target is None:
                return
            versions = self.versions_of(target)
            if versions is None:
                return
            if not 1 <= versions[0] + step <= versions[1]:
                which = "first" if step < 0 else "last"
                screen.status.show_note(f"this is the {which} version ({versions[1]} in all)")
                return
            conversation_id = screen.conversation.id
            try:
                changed = await screen.engine().flip(target, step)
            except ChattermError as error:
                screen.status.show_error(error.message)
                return
            if screen.conversation.id != conversation_id:
                return  # another chat was opened meanwhile
            self.show_branch(changed)

    def _on_path(self, message_id: str) -> str | None:
        """`message_id`, or the version of it that is on the current path now."""
        messages = self.screen.conversation.messages
        if any(m.id == message_id for m in messages):
            return message_id
        session = self.screen.replies.session
        if session is None or message_id not in session.shape:
            return None
        versions = set(session.shape.siblings(message_id))
        return next((m.id for m in messages if m.id in versions), None)

    def show_branch(self, changed: BranchChanged) -> None:
        """The session made another branch current: redraw below where it departs, and
        keep the focus on the message that was flipped (now its other version)."""
        if self.screen.status.state == "error":
            # An error (a reply's, or a refused Continue) was about what was shown
            # before: left up, it reads as the new version's (qa12 #7).
            self.screen.show_idle_hint()
        if not changed.messages:
            self.sync()
            return
        first = changed.messages[0]
        self.replace_below(first.parent_id, changed.messages, focus=first.id)

    # ---- redrawing -------------------------------------------------------------------------

    def replace_below(self, anchor_id: str | None, tail: list[Message], *,
                      focus: str | None = None) -> list[MessageView]:
        """Replace every view below the one of `anchor_id` (None: below the system
        prompt, i.e. all of them) with views of `tail`; the views above stay the same
        widgets. Of a long tail a page is mounted now, the rest as you scroll down."""
        screen = self.screen
        message_list = screen.message_list
        views = self._shown_views()
        anchor = next((i for i, v in enumerate(views) if v.message.id == anchor_id), None)
        if anchor_id is not None and anchor is None:
            # Not mounted: the branch departs above what is shown. Show it afresh.
            screen.loader.show()
            return []
        kept = 0 if anchor is None else anchor + 1
        stale = views[kept:]
        now, later = tail[:TAIL_PAGE], tail[TAIL_PAGE:]
        last_reply = _last_reply_id(screen.conversation.messages)
        new_views = [view_for(message, is_last=message.id == last_reply) for message in now]
        # The focused view goes only once its successor has the focus: removing it first
        # would move the focus twice (each move rebuilds the footer, a frame's worth).
        focused = screen.focused
        leaving = focused if focus is not None and focused in stale else None
        if stale:
            message_list.remove_children([view for view in stale if view is not leaving])
        if new_views:
            if kept:
                message_list.mount_all(new_views, after=views[kept - 1])
            else:
                message_list.mount_all(new_views)
        screen.loader.newer_messages[:] = later
        message_list.has_newer = bool(later)
        if not later:
            message_list.follow_from_bottom()
        for view in views[:kept]:
            if isinstance(view, AssistantMessage):
                view.set_last(view.message.id == last_reply)
        self.refresh_marks()
        if focus is not None:
            self._focus(focus, new_views, leaving)
        return new_views

    def sync(self, *, focus: str | None = None) -> None:
        """Make the mounted views show the current path (the session's
        `conversation.messages`): those that already do stay, the rest are replaced from
        the first that differs. Views scrolled back from the store may sit above the
        loaded part of the path; the comparison starts at the first view on it."""
        path = self.screen.conversation.messages
        where = {message.id: index for index, message in enumerate(path)}
        views = self._shown_views()
        first = next((i for i, v in enumerate(views) if v.message.id in where), None)
        if first is None:
            if not path or not views:
                self.replace_below(None, list(path), focus=focus)
            return
        start = where[views[first].message.id]
        differs = next((k for k in range(first, len(views))
                        if start + k - first >= len(path)
                        or path[start + k - first].id != views[k].message.id), len(views))
        if differs == len(views) and start + differs - first >= len(path):
            self.refresh_marks()  # nothing changed but the marks
            return
        anchor = views[differs - 1].message.id if differs else None
        self.replace_below(anchor, list(path[start + differs - first:]), focus=focus)

    def _shown_views(self) -> list[MessageView]:
        """The message views on screen, without the system prompt's and without those on
        their way out (a view swapped for another is still a child until it is gone;
        `display` is False from the moment its removal starts)."""
        return [view for view in self.screen.message_list.views()
                if view.display and not isinstance(view, SystemMessage)]

    def _focus(self, message_id: str, new_views: list[MessageView],
               leaving: Widget | None = None) -> None:
        """Focus the view of `message_id` once it is mounted, then remove `leaving`."""
        view = next((v for v in new_views if v.message.id == message_id), None)
        if view is None:
            view = self.screen.message_list.view_for_id(message_id)

        def go() -> None:
            if view is not None and view.is_attached:
                view.focus(scroll_visible=False)
                view.scroll_visible(animate=False)
            if leaving is not None:
                leaving.remove()

        self.screen.call_after_refresh(go)


def _last_reply_id(path: list[Message]) -> str | None:
    """The reply that carries the continue/regenerate links: the one after the last prompt."""
    for message in reversed(path):
        if message.role is Role.ASSISTANT:
            return message.id
        if message.role is Role.USER:
            return None
    return None
