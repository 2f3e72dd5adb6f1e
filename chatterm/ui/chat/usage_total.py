"""The status bar's running total of the conversation on screen (engine.usage).

Read through the engine's session, on the store's writer thread after its saves, when
the chat is shown and after each reply ends; the figure is the store's, the same as
`chatterm usage` gives for this conversation. A read that fails leaves the bar as it was:
the total is a comfort, never worth an error line.
"""

from __future__ import annotations

import asyncio
from functools import partial
from typing import TYPE_CHECKING

from chatterm.engine.usage import total_text
from chatterm.errors import ChattermError

if TYPE_CHECKING:
    from chatterm.engine.session import ChatSession
    from chatterm.ui.chat.screen import ChatScreen


def refresh(screen: ChatScreen, session: ChatSession | None = None) -> None:
    """Read the total again (of `session`, or the screen's own) and show it."""
    session = session or screen.engine()
    # Exclusive: a newer read cancels an older one (another chat opened meanwhile). A
    # callable, not a coroutine (see ui/chat/sidebar.py).
    screen.run_worker(partial(_read, screen, session), group="usage-total",  # type: ignore[arg-type]
                      exclusive=True, exit_on_error=False)


async def _read(screen: ChatScreen, session: ChatSession) -> None:
    try:
        total = await session.usage_total()
    except asyncio.CancelledError:
        raise
    except ChattermError:
        return
    if session.conversation.id == screen.conversation.id:
        screen.status.set_total(total_text(total))
