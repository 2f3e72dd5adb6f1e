"""The saved-chats sidebar's place on the chat screen: shown beside the chat, or drawn
over it in a narrow terminal, and mounted only on first use.

Below SIDEBAR_OVERLAY_BELOW columns the sidebar is drawn over the chat (see the
stylesheet): beside it, the chat would be squeezed to a few columns. The sidebar widget
itself (the list and the search) is sidebar.py.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from chatterm.ui import inert

if TYPE_CHECKING:
    from chatterm.ui.chat.screen import ChatScreen
    from chatterm.ui.chat.sidebar import Sidebar

# The sidebar takes 36 columns; beside it the chat keeps at least 54.
SIDEBAR_OVERLAY_BELOW = 90


class SidebarPanel:
    """Shows, hides and refreshes the sidebar in the screen's `#sidebar-slot`."""

    def __init__(self, screen: ChatScreen) -> None:
        self.screen = screen

    @property
    def sidebar(self) -> Sidebar | None:
        """The sidebar widget, once it has been shown."""
        found = self.screen.query("#sidebar")
        # The one widget with that id; its module is imported only once it is shown.
        return cast("Sidebar", found.first()) if found else None

    @property
    def overlays(self) -> bool:
        """True when the sidebar is drawn over the chat rather than beside it."""
        return self.screen.app.size.width < SIDEBAR_OVERLAY_BELOW

    def reopen(self) -> None:
        """Show the sidebar as it was left at the last quit, without taking the focus."""
        # Not over the chat of a narrow terminal: the prompt, focused, would be hidden.
        if self.screen.is_attached and not self.overlays:
            self.toggle(show=True, focus=False)

    def toggle(self, show: bool | None = None, *, search: bool = False,
               focus: bool = True) -> None:
        """Show/hide the saved chats; mounted on first use so start-up never pays for it.
        With `focus` False the prompt keeps the focus."""
        screen = self.screen
        slot = screen.query_one("#sidebar-slot")
        visible = not slot.display if show is None else show
        sidebar = self.sidebar
        if visible and sidebar is None:
            from chatterm.ui.chat.sidebar import Sidebar

            sidebar = Sidebar(screen.services.store, current_id=self._current_id(),
                              id="sidebar")
            sidebar.streaming_ids = screen.replies.live.streaming_ids()
            slot.mount(sidebar)
        slot.display = visible
        problem = screen.services.screen_memory.remember_sidebar(visible)
        if problem:
            screen.notify(inert.text(problem), severity="warning", timeout=8, markup=False)
        if not visible:
            screen.prompt.focus()
            return
        assert sidebar is not None
        if not focus:
            return
        if search:
            screen.call_after_refresh(sidebar.focus_search)
        else:
            screen.call_after_refresh(sidebar.focus_list)

    def refresh(self) -> None:
        """The list of chats changed (a new reply, a rename, a delete): list it again."""
        sidebar = self.sidebar
        if sidebar is not None:
            sidebar.current_id = self._current_id()
            sidebar.refresh_list()

    def set_streaming(self, conversation_ids: frozenset[str]) -> None:
        sidebar = self.sidebar
        if sidebar is not None:
            sidebar.set_streaming(conversation_ids)

    def _current_id(self) -> str | None:
        screen = self.screen
        return screen.conversation.id if screen.opened.saved else None

    def selected(self, event: Sidebar.Selected) -> None:
        """A chat (or a search hit) was picked in the sidebar: open it."""
        if self.overlays:
            self.toggle(show=False)  # it would cover the chat just opened
        self.screen.open_saved(event.conversation_id, event.message_id)
