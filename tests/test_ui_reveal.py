"""Opening a search hit goes to the hit, wherever it is in a long conversation."""

from __future__ import annotations

from typing import Any

import pytest
from loopback import sse_reply
from ui_helpers import running, screen_text, wait_until

from chatterm.conversation import Conversation, Message, Role
from chatterm.store import Store

pytestmark = pytest.mark.slow

CHAT = "chat/completions"
HIT = 1234
TOTAL = 2000


def seed_long(total: int = TOTAL, hit: int = HIT) -> tuple[str, str]:
    """A conversation of `total` messages; only message `hit` says "xylophone"."""
    conversation = Conversation(provider="loop", model="model-a", title="long one")
    for index in range(total):
        role = Role.USER if index % 2 == 0 else Role.ASSISTANT
        text = f"message number {index}" + (" about the xylophone" if index == hit else "")
        conversation.messages.append(Message(
            role=role, content=text, conversation_id=conversation.id,
            model="model-a" if role is Role.ASSISTANT else None,
            provider="loop" if role is Role.ASSISTANT else None))
    with Store.open() as store:
        store.create_conversation(conversation)
    return conversation.id, conversation.messages[hit].id


async def open_hit_from_search(app: Any, pilot: Any, word: str) -> None:
    await pilot.press("ctrl+f")
    await wait_until(pilot, lambda: app.chat.sidebar is not None, what="the sidebar")
    sidebar = app.chat.sidebar
    await wait_until(pilot, lambda: app.focused is sidebar.query_one("#sidebar-search"),
                     what="search focused")
    for key in word:
        await pilot.press(key)
    await wait_until(pilot, lambda: sidebar.is_searching and sidebar.hit_count, what="hits")
    await pilot.press("enter")


def in_view(message_list: Any, view: Any) -> bool:
    top = message_list.scroll_y
    region = view.virtual_region
    return top <= region.y and region.bottom <= top + message_list.scrollable_content_region.height


async def test_a_hit_deep_in_a_long_chat_is_mounted_scrolled_to_and_highlighted(
        server: Any) -> None:
    conversation_id, hit_id = seed_long()
    async with running(size=(120, 40)) as (app, pilot):
        await open_hit_from_search(app, pilot, "xylophone")
        chat = app.chat
        await wait_until(pilot, lambda: chat.conversation.id == conversation_id,
                         what="the hit's conversation")
        message_list = chat.message_list
        await wait_until(pilot, lambda: message_list.view_for_id(hit_id) is not None,
                         what="the hit mounted")
        view = message_list.view_for_id(hit_id)
        await wait_until(pilot, lambda: in_view(message_list, view) and app.focused is view,
                         what="the hit scrolled into view and focused")
        # At the top of the view (its margin line above it), the context above it.
        assert view.virtual_region.y - message_list.scroll_y <= 1
        from chatterm.ui.chat.reveal import HIT_CLASS

        assert view.has_class(HIT_CLASS)
        assert "message number 1234 about the xylophone" in screen_text(app)
        # A window, not everything from the hit to the end.
        assert len(message_list.views()) < 100
        assert message_list.has_newer

        # Scrolling down mounts newer messages, page by page.
        mounted = len(message_list.views())
        message_list.scroll_end(animate=False, immediate=True)
        await wait_until(pilot, lambda: len(message_list.views()) > mounted,
                         what="newer messages")
        newest = message_list.views()[-1].message.content
        assert newest != "message number 1999"


async def test_sending_from_a_hit_shows_the_end_and_sends_the_whole_history(
        server: Any) -> None:
    conversation_id, hit_id = seed_long()
    server.script(CHAT, sse_reply(["the reply"]))
    async with running(size=(120, 40)) as (app, pilot):
        await open_hit_from_search(app, pilot, "xylophone")
        chat = app.chat
        await wait_until(pilot, lambda: chat.message_list.view_for_id(hit_id) is not None,
                         what="the hit mounted")
        chat.prompt.focus()
        chat.prompt.insert("one more")
        await pilot.press("enter")
        await wait_until(pilot, lambda: not chat.busy and "the reply" in screen_text(app),
                         what="the reply")
        views = chat.message_list.views()
        contents = [v.message.content for v in views[-3:]]
        assert contents == ["message number 1999", "one more", "the reply"]
        assert not chat.message_list.has_newer
        sent = server.requests[0].json["messages"]
        assert len(sent) == TOTAL + 1 and sent[0]["content"] == "message number 0"
    with Store.open() as store:
        assert store.count_messages(conversation_id) == TOTAL + 2


async def test_a_hit_near_the_end_still_opens_at_the_hit(server: Any) -> None:
    _, hit_id = seed_long(total=200, hit=160)
    async with running(size=(120, 40)) as (app, pilot):
        await open_hit_from_search(app, pilot, "xylophone")
        message_list = app.chat.message_list
        await wait_until(pilot, lambda: message_list.view_for_id(hit_id) is not None,
                         what="the hit mounted")
        view = message_list.view_for_id(hit_id)
        await wait_until(pilot, lambda: in_view(message_list, view) and app.focused is view,
                         what="the hit in view")
        assert "message number 160 about the xylophone" in screen_text(app)


async def test_a_hit_in_a_chat_whose_reply_streams_in_the_background_shows_the_reply(
        server: Any) -> None:
    import threading

    from chatterm.launch import LaunchOptions

    conversation_id, hit_id = seed_long(total=200, hit=20)
    hold = threading.Event()
    server.script(CHAT, sse_reply(["first words", " and the last words."], hold=hold))
    try:
        async with running(LaunchOptions(resume_id=conversation_id), size=(120, 40)) as (
                app, pilot):
            chat = app.chat
            chat.prompt.insert("go on")
            await pilot.press("enter")
            await wait_until(pilot, lambda: "first words" in screen_text(app), what="the reply")
            await pilot.press("ctrl+n")
            await wait_until(pilot, lambda: chat.conversation.id != conversation_id,
                             what="the new chat")
            app.chat.open_saved(conversation_id, hit_id)
            await wait_until(pilot, lambda: chat.conversation.id == conversation_id,
                             what="back to the chat")
            # Its end, where the reply goes on live, rather than a window at the hit.
            await wait_until(pilot, lambda: "first words" in screen_text(app),
                             what="the streaming reply")
            hold.set()
            await wait_until(pilot, lambda: "the last words." in screen_text(app),
                             what="the rest of the reply, live")
            await wait_until(pilot, lambda: not chat.busy, what="the end")
    finally:
        hold.set()
