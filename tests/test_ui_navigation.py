"""Keys as a person meets them: focused messages, Tab regions, scrolling from the prompt,
prompt history, what the hints advertise, and a [keys] table shown as it is."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from loopback import sse_reply
from ui_helpers import running, screen_text, wait_until, write_config

from chatterm.conversation import Conversation, Message, Role
from chatterm.launch import LaunchOptions
from chatterm.store import Store

pytestmark = pytest.mark.slow

CHAT = "chat/completions"


def seed(contents: list[str]) -> str:
    """A saved chat alternating user / assistant messages with these texts."""
    conversation = Conversation(provider="loop", model="model-a", title="seeded")
    for index, content in enumerate(contents):
        role = Role.USER if index % 2 == 0 else Role.ASSISTANT
        conversation.messages.append(Message(
            role=role, content=content, conversation_id=conversation.id,
            provider="loop" if role is Role.ASSISTANT else None,
            model="model-a" if role is Role.ASSISTANT else None,
        ))
    with Store.open() as store:
        store.create_conversation(conversation)
    return conversation.id


def views(app: Any) -> list[Any]:
    return app.chat.message_list.views()


async def footer_ready(pilot: Any) -> None:
    from textual.widgets import Footer

    app = pilot.app
    await wait_until(pilot, lambda: app.chat.query(Footer) and "Quit" in screen_text(app),
                     what="the footer")


# ---- a focused message --------------------------------------------------------------


async def test_typing_while_a_message_is_focused_goes_to_the_prompt(server: Any) -> None:
    from textual import events

    conversation_id = seed(["code please", "see:\n\n```python\nprint('hi')\n```\n"])
    async with running(LaunchOptions(resume_id=conversation_id)) as (app, pilot):
        await wait_until(pilot, lambda: len(views(app)) == 2, what="the messages")
        app.copy_to_clipboard("untouched")
        views(app)[-1].focus()
        await pilot.pause()
        # As fast as a typist (or tmux) sends them: every key is queued before the first
        # is handled, so the focus must move back with the first letter.
        for letter in "hello cab":
            app.post_message(events.Key("space" if letter == " " else letter, letter))
        await wait_until(pilot, lambda: app.chat.prompt.text == "hello cab",
                         what="the letters in the prompt")
        assert app.focused is app.chat.prompt
        assert app.clipboard == "untouched"
        # The message keys still work on a focused message, and say so while it is.
        app.chat.prompt.clear()
        await pilot.press("shift+tab")
        assert app.focused is views(app)[-1]
        await wait_until(pilot, lambda: "c copy · b copy code" in app.chat.status.text,
                         what="the message hint")
        await pilot.press("b")
        assert app.clipboard == "print('hi')"
        await pilot.press("c")
        assert app.clipboard.startswith("see:")
        assert app.chat.prompt.text == ""
        # Esc goes back to the prompt, and the hint makes way for the idle one again.
        await pilot.press("escape")
        assert app.focused is app.chat.prompt
        await wait_until(pilot, lambda: "Enter sends" in app.chat.status.text,
                         what="the idle hint back")


async def test_b_copies_the_open_code_block_of_a_stopped_reply(server: Any) -> None:
    conversation_id = seed(["code please", "here:\n\n```python\nprint('a')\nprint('b"])
    async with running(LaunchOptions(resume_id=conversation_id)) as (app, pilot):
        await wait_until(pilot, lambda: len(views(app)) == 2, what="the messages")
        app.copy_to_clipboard("untouched")
        await pilot.press("shift+tab")
        assert app.focused is views(app)[-1]
        await pilot.press("b")
        await wait_until(pilot, lambda: app.clipboard != "untouched", what="the copy")
        assert app.clipboard == "print('a')\nprint('b"


async def test_the_message_hint_stays_while_up_and_down_move_between_messages(
        server: Any) -> None:
    conversation_id = seed(["one", "two", "three", "four"])
    async with running(LaunchOptions(resume_id=conversation_id)) as (app, pilot):
        await wait_until(pilot, lambda: len(views(app)) == 4, what="the messages")
        await pilot.press("shift+tab")
        await wait_until(pilot, lambda: "Esc back" in app.chat.status.text,
                         what="the message hint")
        for key, index in (("up", 2), ("up", 1), ("down", 2)):
            await pilot.press(key)
            await wait_until(pilot, lambda i=index: app.focused is views(app)[i],  # type: ignore[misc]
                             what=f"message {index} focused")
            # The blur of the old message and the focus of the new one are both handled.
            await pilot.pause()
            await pilot.pause()
            assert "Esc back" in app.chat.status.text, app.chat.status.text
            assert "Enter sends" not in app.chat.status.text


def _cells(app: Any, view: Any) -> tuple[str, Any, Any]:
    """The left bar's character and colour, and the background under the text."""
    strips = app.screen._compositor.render_strips()
    region = view.region
    row = list(strips[region.y + 1])  # the first line of text
    left = next(seg for seg in _segments_at(row, region.x))
    body = next(seg for seg in _segments_at(row, region.x + 3))
    return left.text[0], left.style.color, body.style.bgcolor


def _segments_at(segments: list[Any], x: int) -> Any:
    offset = 0
    for segment in segments:
        width = len(segment.text)
        if offset <= x < offset + width:
            yield segment.__class__(segment.text[x - offset:], segment.style)
        offset += width


async def test_a_focused_message_stands_out_in_every_theme_and_in_256_colours(
        server: Any) -> None:
    from rich.color import ColorSystem

    def eight_bit(color: Any) -> Any:
        return None if color is None else color.downgrade(ColorSystem.EIGHT_BIT)

    conversation_id = seed(["a prompt to focus", "a reply", "another prompt", "its reply"])
    async with running(LaunchOptions(resume_id=conversation_id)) as (app, pilot):
        await wait_until(pilot, lambda: len(views(app)) == 4, what="the messages")
        themes = sorted(app.available_themes)
        assert {"chatterm-dark", "chatterm-light", "textual-light", "nord"} <= set(themes)
        for theme in themes:  # the shipped ones and Textual's own
            app.theme = theme
            # A prompt and a reply (each role has its own bar) in chatterm's themes.
            for view in views(app)[:2 if theme.startswith("chatterm") else 1]:
                app.chat.prompt.focus()
                await pilot.pause()
                before = _cells(app, view)
                view.focus()
                await pilot.pause()
                after = _cells(app, view)
                # A different bar, whatever the colours: it survives 16 colours and none.
                assert before[0] != after[0], (theme, before, after)
                # And the message's background changes even once reduced to 256 colours.
                assert eight_bit(before[2]) != eight_bit(after[2]), (theme, before, after)


# ---- Tab and the scrolling keys -----------------------------------------------------


async def test_tab_moves_between_regions_not_through_every_message(server: Any) -> None:
    conversation_id = seed([f"message number {index}" for index in range(12)])
    async with running(LaunchOptions(resume_id=conversation_id)) as (app, pilot):
        chat = app.chat
        await wait_until(pilot, lambda: len(views(app)) == 12, what="the messages")
        assert app.focused is chat.prompt
        await pilot.press("tab")
        assert app.focused is views(app)[-1]  # the conversation: its newest message
        await pilot.press("up", "up")
        assert app.focused is views(app)[-3]
        await pilot.press("tab")
        assert app.focused is chat.prompt  # the next region, not the next message
        await pilot.press("shift+tab")
        assert app.focused is views(app)[-3]  # back where the conversation was left
        # With the sidebar open it is a region of its own.
        chat.prompt.focus()
        chat.toggle_sidebar(show=True, focus=False)
        await wait_until(pilot, lambda: chat.query("#sidebar-list"), what="the sidebar")
        stops = []
        for _ in range(6):
            await pilot.press("tab")
            stops.append(app.focused)
            if app.focused is chat.prompt:
                break
        assert stops[-1] is chat.prompt
        assert sum(1 for widget in stops if widget in views(app)) == 1


async def test_page_and_home_end_keys_scroll_the_chat_from_the_prompt(server: Any) -> None:
    conversation_id = seed([f"message number {index}\n\nwith a second paragraph"
                            for index in range(40)])
    async with running(LaunchOptions(resume_id=conversation_id)) as (app, pilot):
        chat = app.chat
        messages = chat.message_list
        await wait_until(pilot, lambda: len(views(app)) == 40, what="the messages")
        # Laid out too: a page mounted but not laid out yet would move the end later.
        await wait_until(pilot, lambda: all(view.size.height for view in views(app))
                         and messages.max_scroll_y > 0
                         and messages.scroll_y == messages.max_scroll_y, what="at the end")
        chat.prompt.insert("line one\nline two")
        bottom = messages.scroll_y
        await pilot.press("pageup")
        await wait_until(pilot, lambda: messages.scroll_y < bottom, what="a page up")
        after_page = messages.scroll_y
        assert bottom - after_page >= messages.size.height // 2
        await pilot.press("pagedown")
        await wait_until(pilot, lambda: messages.scroll_y > after_page, what="a page down")
        await pilot.press("home")
        await wait_until(pilot, lambda: messages.scroll_y == 0, what="the top")
        await pilot.press("end")
        await wait_until(pilot, lambda: messages.scroll_y == messages.max_scroll_y,
                         what="the end")
        assert app.focused is chat.prompt
        assert chat.prompt.text == "line one\nline two"
        # Ctrl+Home / Ctrl+End move within the prompt.
        await pilot.press("ctrl+home")
        assert chat.prompt.cursor_location == (0, 0)
        await pilot.press("ctrl+end")
        assert chat.prompt.cursor_location == (1, len("line two"))


# ---- prompt history -----------------------------------------------------------------


async def test_up_in_an_empty_prompt_recalls_this_chats_earlier_prompts(server: Any) -> None:
    conversation_id = seed(["first question", "answer one", "second question", "answer two"])
    server.script(CHAT, sse_reply(["answer three"]))
    async with running(LaunchOptions(resume_id=conversation_id)) as (app, pilot):
        prompt = app.chat.prompt
        await wait_until(pilot, lambda: len(views(app)) == 4, what="the messages")
        prompt.insert("third question")
        await pilot.press("enter")
        await wait_until(pilot, lambda: not app.chat.busy and len(views(app)) == 6,
                         what="the reply")
        assert prompt.text == ""
        await pilot.press("up")
        assert prompt.text == "third question"  # newest first, sent ones included
        await pilot.press("up")
        assert prompt.text == "second question"
        await pilot.press("up", "up", "up")
        assert prompt.text == "first question"  # the oldest stays
        await pilot.press("down")
        assert prompt.text == "second question"
        await pilot.press("down", "down")
        assert prompt.text == ""  # back to the (empty) draft
        # From a draft: ↑ moves the cursor as usual; Ctrl+↑ recalls, ↓ brings it back.
        prompt.insert("a draft")
        await pilot.press("up")
        assert prompt.text == "a draft"
        await pilot.press("ctrl+up")
        assert prompt.text == "third question"
        await pilot.press("ctrl+down")
        assert prompt.text == "a draft"
        # Ctrl+U clears the prompt; Ctrl+Z brings the text back.
        await pilot.press("ctrl+u")
        assert prompt.text == ""
        await pilot.press("ctrl+z")
        assert prompt.text == "a draft"
    assert len(server.requests) == 1


# ---- what the hints and the footer advertise ----------------------------------------


async def test_the_footer_and_the_idle_hint_follow_the_keys_table(server: Any) -> None:
    write_config(Path(os.environ["CHATTERM_CONFIG"]), server.url,
                 extra='[keys]\ntoggle_sidebar = ""\nswitch_model = "f9"\n'
                       'newline = "alt+enter"\n')
    async with running(size=(160, 32)) as (app, pilot):
        await footer_ready(pilot)
        text = screen_text(app)
        assert "f24" not in text and "Chats" not in text
        assert "Model" in text and "f9" in text.lower()
        hint = app.chat.status.text
        assert hint == "Enter sends · Alt+Enter newline · F9 model", hint
        await pilot.press("ctrl+b")
        await pilot.press("f24")
        await pilot.pause()
        assert not app.chat.query("#sidebar")


async def test_shift_enter_is_advertised_only_once_the_terminal_speaks_kitty(
        server: Any) -> None:
    from textual import events
    from textual._xterm_parser import XTermParser

    from chatterm.ui.terminal_keys import teach_parser

    teach_parser()
    # What a kitty-protocol terminal answers to the query, through Textual's own parser.
    [reply] = [*XTermParser().feed("\x1b[?25u")]
    async with running() as (app, pilot):
        assert app.chat.status.text.startswith("Enter sends · Ctrl+J newline ·")
        assert "Shift+Enter" not in app.chat.status.text
        app.post_message(events.Key(reply.key, reply.character))
        await wait_until(pilot, lambda: "Shift+Enter newline" in app.chat.status.text,
                         what="Shift+Enter in the hint")
        assert app.chat.prompt.text == ""  # the reply was not typed into the prompt
