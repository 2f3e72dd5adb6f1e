"""A reply keeps streaming while another chat is open (Ctrl+N, the sidebar), Pilot
against the real client and the loopback server."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import pytest
from loopback import sse_reply
from ui_helpers import LOOP_KEY, LOOP_KEY_ENV, running, screen_text, wait_until, write_config

from chatterm.conversation import Conversation, MessageState
from chatterm.store import Store

CHAT = "chat/completions"


@pytest.fixture
def server(loopback: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv(LOOP_KEY_ENV, LOOP_KEY)
    # Replies are held back for seconds while the test switches chats.
    write_config(Path(os.environ["CHATTERM_CONFIG"]), loopback.url, read_timeout=60)
    return loopback


def saved(conversation_id: str) -> Conversation:
    """Read through a second connection, as another process would."""
    with Store.open() as store:
        return store.get_conversation(conversation_id)


async def type_and_send(pilot: Any, text: str) -> None:
    pilot.app.chat.prompt.insert(text)
    await pilot.press("enter")


def sidebar_text(app: Any) -> str:
    from textual.widgets import OptionList

    options = app.chat.query_one("#sidebar-list", OptionList)
    return "\n".join(str(options.get_option_at_index(i).prompt)
                     for i in range(options.option_count))


@pytest.mark.slow
async def test_ctrl_n_leaves_the_reply_streaming_and_reopening_shows_it_live(
    server: Any,
) -> None:
    hold = threading.Event()
    server.script(CHAT, sse_reply(["Once upon", " a time", " there was a dragon."],
                                  hold=hold))
    server.script(CHAT, sse_reply(["Hello there."]))
    try:
        async with running() as (app, pilot):
            await type_and_send(pilot, "tell a story")
            await wait_until(pilot, lambda: "Once upon" in screen_text(app), what="first words")
            story = app.chat.conversation.id
            await pilot.press("ctrl+n")
            await wait_until(pilot, lambda: app.chat.conversation.id != story,
                             what="the new chat")
            # Not stopped: still streaming, as saved, and no longer on screen.
            assert story in app.chat.replies.live.streaming_ids()
            assert not app.chat.busy
            assert "Once upon" not in screen_text(app)
            # Saved as it streams (every half second), as a streaming reply.
            await wait_until(pilot, lambda: saved(story).messages[-1].content == "Once upon",
                             what="the partial reply saved")
            assert saved(story).messages[-1].state is MessageState.STREAMING
            # The chat list marks it.
            await pilot.press("ctrl+b")
            await wait_until(pilot, lambda: "tell a story" in sidebar_text(app),
                             what="the chat in the list")
            assert "streaming…" in sidebar_text(app)
            # The new chat works meanwhile: two replies at once.
            app.chat.prompt.focus()
            await type_and_send(pilot, "hi")
            await wait_until(pilot, lambda: "Hello there." in screen_text(app),
                             what="the new chat's reply")
            await wait_until(pilot, lambda: not app.chat.busy, what="the new chat's reply")
            assert story in app.chat.replies.live.streaming_ids()
            # Back to the story: what has arrived is there, and the rest streams in live.
            app.chat.open_saved(story)
            await wait_until(pilot, lambda: app.chat.conversation.id == story,
                             what="the story reopened")
            await wait_until(pilot, lambda: "Once upon" in screen_text(app), what="the text")
            assert app.chat.busy
            hold.set()
            await wait_until(pilot, lambda: "there was a dragon." in screen_text(app),
                             what="the rest, live")
            await wait_until(pilot, lambda: not app.chat.busy, what="the end")
            # The count went on from what had come while the chat was not shown.
            assert app.chat.status.text.startswith("3 tokens")
            stored = saved(story).messages[-1]
            assert stored.content == "Once upon a time there was a dragon."
            assert stored.state is MessageState.COMPLETE
            await wait_until(pilot, lambda: "streaming…" not in sidebar_text(app),
                             what="the mark to go")
            # One reply on screen, finished, with the whole text.
            from chatterm.ui.chat.assistant_view import AssistantMessage

            [view] = [v for v in app.chat.message_list.views()
                      if isinstance(v, AssistantMessage)]
            assert not view.streaming
            assert view.body_text == "Once upon a time there was a dragon."
    finally:
        hold.set()


async def test_a_reply_finishing_in_the_background_says_so(server: Any) -> None:
    hold = threading.Event()
    server.script(CHAT, sse_reply(["Part one,", " part two."], hold=hold))
    try:
        async with running() as (app, pilot):
            await type_and_send(pilot, "write it")
            await wait_until(pilot, lambda: "Part one," in screen_text(app), what="first words")
            story = app.chat.conversation.id
            await pilot.press("ctrl+n")
            await wait_until(pilot, lambda: app.chat.conversation.id != story,
                             what="the new chat")
            hold.set()
            await wait_until(pilot, lambda: not app.chat.replies.live.streaming_ids(),
                             what="the background reply to end")
            await wait_until(
                pilot, lambda: any("is complete" in str(n.message) for n in app._notifications),
                what="the notice")
            assert saved(story).messages[-1].content == "Part one, part two."
            app.chat.open_saved(story)
            await wait_until(pilot, lambda: "part two." in screen_text(app),
                             what="the finished reply")
            assert not app.chat.busy
    finally:
        hold.set()


async def test_quitting_keeps_a_reply_streaming_in_the_background(server: Any) -> None:
    hold = threading.Event()
    server.script(CHAT, sse_reply(["kept ", "never sent"], hold=hold))
    try:
        async with running() as (app, pilot):
            await type_and_send(pilot, "hello")
            await wait_until(pilot, lambda: "kept" in screen_text(app), what="first token")
            story = app.chat.conversation.id
            await pilot.press("ctrl+n")
            await wait_until(pilot, lambda: app.chat.conversation.id != story,
                             what="the new chat")
            await pilot.press("ctrl+q")
            await wait_until(pilot, lambda: not app.is_running, what="the app to exit")
    finally:
        hold.set()
    stored = saved(story).messages[-1]
    assert (stored.content, stored.state) == ("kept ", MessageState.INTERRUPTED)


async def test_choosing_the_chat_on_screen_while_it_streams_keeps_drawing_it(
    server: Any,
) -> None:
    hold = threading.Event()
    server.script(CHAT, sse_reply(["First line.\n\n", "Second line."], hold=hold))
    try:
        async with running() as (app, pilot):
            await type_and_send(pilot, "two lines")
            await wait_until(pilot, lambda: "First line." in screen_text(app), what="first")
            story = app.chat.conversation.id
            app.chat.open_saved(story)
            await wait_until(pilot, lambda: "First line." in screen_text(app)
                             and app.chat.replies.live_here is not None
                             and app.chat.replies.active_view is not None, what="picked up")
            hold.set()
            await wait_until(pilot, lambda: "Second line." in screen_text(app), what="the rest")
            await wait_until(pilot, lambda: not app.chat.busy, what="the end")
            assert not any("background" in str(n.message) for n in app._notifications)
            assert saved(story).messages[-1].content == "First line.\n\nSecond line."
    finally:
        hold.set()
