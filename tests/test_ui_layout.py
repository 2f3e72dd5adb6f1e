"""The screen's layout at every size: the sidebar beside or over the chat, the footer, the
status line and where notifications go (Pilot, real app, real store)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from ui_helpers import LOOP_KEY, LOOP_KEY_ENV, running, screen_text, wait_until, write_config

from chatterm.conversation import Conversation, Message, Role
from chatterm.store import Store
from chatterm.ui.launch import LaunchOptions

LONG = " ".join(f"word{i}" for i in range(120))


@pytest.fixture
def configured(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Nothing is sent in these tests: the URL only has to be well formed.
    monkeypatch.setenv(LOOP_KEY_ENV, LOOP_KEY)
    write_config(Path(os.environ["CHATTERM_CONFIG"]), "http://127.0.0.1:9/v1")


def seed_reply(title: str = "layout", model: str = "model-a") -> str:
    conversation = Conversation(provider="loop", model=model, title=title)
    conversation.messages = [
        Message(role=Role.USER, content="say many words", conversation_id=conversation.id),
        Message(role=Role.ASSISTANT, content=LONG, model=model, provider="loop",
                conversation_id=conversation.id),
    ]
    with Store.open() as store:
        store.create_conversation(conversation)
    return conversation.id


def reply_body(app: Any) -> Any:
    from chatterm.ui.widgets.message_view import AssistantMessage
    from chatterm.ui.widgets.streaming_markdown import StreamingMarkdown

    views = [v for v in app.chat.message_list.views() if isinstance(v, AssistantMessage)]
    return views[-1].query_one(StreamingMarkdown)


async def settle(pilot: Any, width: int, height: int = 30) -> None:
    await pilot.resize_terminal(width, height)
    await wait_until(pilot, lambda: pilot.app.size.width == width, what=f"width {width}")
    await pilot.pause()
    await pilot.pause()


def widest_reply_line(app: Any) -> int:
    return max(len(line.rstrip()) for line in reply_body(app).rendered_lines())


# ---- the sidebar -------------------------------------------------------------------------


@pytest.mark.parametrize("width", [40, 60, 89, 90, 120])
async def test_the_sidebar_never_squeezes_the_chat(configured: None, width: int) -> None:
    conversation_id = seed_reply()
    async with running(LaunchOptions(resume_id=conversation_id), size=(width, 30)) as (
            app, pilot):
        await pilot.press("ctrl+b")
        await wait_until(pilot, lambda: app.chat._sidebar() is not None
                         and "layout" in screen_text(app), what="the sidebar")
        await pilot.pause()
        chat = app.chat.query_one("#chat").region
        slot = app.chat.query_one("#sidebar-slot").region
        if width < 90:
            # Over the chat, which keeps the whole width (and its wrapping).
            assert chat.x == 0 and chat.width == width
            assert slot.x == 0 and slot.width == min(36, width)
        else:
            # Beside it, leaving the chat at least 54 columns.
            assert chat.x == slot.right and chat.width == width - 36 >= 54
        # The sidebar's own text is drawn, and the reply keeps lines of readable length.
        assert "Search all chats" in screen_text(app)
        assert widest_reply_line(app) >= min(30, chat.width - 10)


async def test_closing_the_sidebar_and_widening_rewraps_the_reply(configured: None) -> None:
    """The report: at 40 columns with the sidebar open the chat was 4 columns wide, and
    after closing it and widening the reply was drawn one character per line."""
    conversation_id = seed_reply()
    async with running(LaunchOptions(resume_id=conversation_id), size=(120, 30)) as (
            app, pilot):
        await wait_until(pilot, lambda: "word119" in screen_text(app), what="the reply")
        await pilot.press("ctrl+b")
        await wait_until(pilot, lambda: app.chat._sidebar() is not None, what="the sidebar")
        for width in (40, 120, 40):  # resized with the sidebar open
            await settle(pilot, width)
            assert app.chat.query_one("#chat").region.width == (width if width < 90
                                                                else width - 36)
        assert widest_reply_line(app) > 25
        await pilot.press("ctrl+b")
        await wait_until(pilot, lambda: not app.chat.query_one("#sidebar-slot").display,
                         what="the sidebar to close")
        await settle(pilot, 120)
        body = reply_body(app)
        assert widest_reply_line(app) > body.size.width - 12
        assert "word0" in screen_text(app) or "word119" in screen_text(app)


async def test_choosing_a_chat_in_the_overlay_closes_it(configured: None) -> None:
    seed_reply("other chat")
    async with running(size=(50, 30)) as (app, pilot):
        await pilot.press("ctrl+b")
        await wait_until(pilot, lambda: "other chat" in screen_text(app), what="the list")
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.chat.conversation.title == "other chat",
                         what="the chat to open")
        await wait_until(pilot, lambda: not app.chat.query_one("#sidebar-slot").display,
                         what="the overlay to close")
        assert app.chat.query_one("#chat").region.width == 50
