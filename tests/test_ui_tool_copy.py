"""The copy key on a tool call's block (qa13 F4): `c` on a focused block copies what the
block is about, its result whole (not the folded view), or its arguments when there is no
result to show, and says so; the hint and the footer offer only keys that do what they say
on a block (the reply's `b` copy code and `d` delete are off there; the letter is typing).

A saved exchange (tests/tool_exchange.py) reopened in the real app; the clipboard is the
app's own (App.clipboard, what copy_to_clipboard sent).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from tool_exchange import ESC_RESULT, LONG_RESULT, TOKYO_RESULT, tool_exchange
from ui_helpers import LOOP_KEY, LOOP_KEY_ENV, running, screen_text, wait_until, write_config

from chatterm.conversation import Message, Role, ToolCall
from chatterm.launch import LaunchOptions
from chatterm.store import Store

pytestmark = pytest.mark.slow


def blocks(app: Any) -> list[Any]:
    from chatterm.ui.chat.tool_block import ToolBlock

    return list(app.chat.message_list.query(ToolBlock).results(ToolBlock))


def notices(app: Any) -> list[str]:
    return [str(n.message) for n in app._notifications]


async def focus_block(pilot: Any, app: Any, reply_id: str, steps: int) -> Any:
    """↓ from the reply `steps` times: onto its call blocks, in order."""
    app.chat.message_list.view_for_id(reply_id).focus()
    await pilot.pause()
    await pilot.press(*["down"] * steps)
    return app.focused


async def test_c_on_a_call_copies_its_result_whole_or_its_arguments(
        loopback: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(LOOP_KEY_ENV, LOOP_KEY)
    write_config(Path(os.environ["CHATTERM_CONFIG"]), loopback.url)
    conversation = tool_exchange(provider="loop", model="model-a")
    reply_id = conversation.messages[1].id
    async with running(LaunchOptions(resume_id=conversation.id), size=(120, 50)) as (app, pilot):
        await wait_until(pilot, lambda: len(blocks(app)) == 3, what="three call blocks")
        tokyo, paris, wiki = blocks(app)

        assert await focus_block(pilot, app, reply_id, 1) is tokyo
        await wait_until(pilot, lambda: "c copy result" in app.chat.status.text,
                         what="the block's hint")
        hint = app.chat.status.text
        assert "copy code" not in hint and "delete" not in hint
        assert "r regenerate" in hint and "Esc back" in hint
        footer = " ".join(screen_text(app).splitlines()[-2:])
        assert " c Copy " in footer
        assert "b Copy code" not in footer and " d Delete" not in footer, footer
        await pilot.press("c")
        assert app.clipboard == TOKYO_RESULT
        assert notices(app)[-1] == (
            f"Copied the result of time.get_current_time ({len(TOKYO_RESULT)} characters).")

        # Declined: no result shown, so the arguments, as the block shows them.
        await pilot.press("down")
        assert app.focused is paris
        await wait_until(pilot, lambda: "c copy arguments" in app.chat.status.text,
                         what="the declined call's hint")
        await pilot.press("c")
        assert app.clipboard == '{\n  "timezone": "Europe/Paris"\n}'
        assert notices(app)[-1].startswith("Copied the arguments of time.get_current_time")

        # Folded to 4 lines on screen; the copy is the whole saved result.
        await pilot.press("down")
        assert app.focused is wiki
        await pilot.press("c")
        assert app.clipboard == ESC_RESULT + "\n" + LONG_RESULT
        assert notices(app)[-1].startswith("Copied the result of wiki.lookup (")

        # `b` (copy code) and `d` (delete) are the reply's: on a call they are typing.
        await pilot.press("d")
        assert app.focused is app.chat.prompt and app.chat.prompt.text == "d"
        assert len(app.screen_stack) == 1  # no delete dialog

        # On the reply itself its own keys are all there, and `c` copies the reply.
        app.chat.message_list.view_for_id(conversation.messages[-1].id).focus()
        await wait_until(pilot, lambda: "c copy ·" in app.chat.status.text, what="reply hint")
        assert "delete" in app.chat.status.text
        await pilot.pause()
        assert "b Copy code" in " ".join(screen_text(app).splitlines()[-2:])
        await pilot.press("c")
        assert app.clipboard == conversation.messages[-1].content


async def test_a_call_with_prose_around_it_and_a_moved_copy_key(
        loopback: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """qa13's case: "Let me check." + a call; the copy key moved to `y` in [keys]."""
    monkeypatch.setenv(LOOP_KEY_ENV, LOOP_KEY)
    write_config(Path(os.environ["CHATTERM_CONFIG"]), loopback.url,
                 extra='[keys]\ncopy_message = "y"\n')
    conversation = tool_exchange(provider="loop", model="model-a")
    reply = conversation.messages[1]
    reply.content = "Let me check."
    with Store.open() as store:
        store.update_message(reply)
    async with running(LaunchOptions(resume_id=conversation.id), size=(120, 50)) as (app, pilot):
        await wait_until(pilot, lambda: len(blocks(app)) == 3, what="three call blocks")
        tokyo = blocks(app)[0]
        assert await focus_block(pilot, app, reply.id, 1) is tokyo
        await wait_until(pilot, lambda: "y copy result" in app.chat.status.text,
                         what="the moved key in the hint")
        await pilot.press("y")
        assert app.clipboard == TOKYO_RESULT
        # `c` is no key of a message any more: typing, as any letter.
        tokyo.focus()
        await pilot.pause()
        await pilot.press("c")
        assert app.focused is app.chat.prompt and app.chat.prompt.text == "c"
        assert app.clipboard == TOKYO_RESULT


def test_a_call_s_copy_is_its_arguments_until_a_result_comes() -> None:
    from chatterm.ui.chat.tool_block import ToolBlock

    block = ToolBlock(ToolCall("c1", "get_current_time", '{"timezone":"Asia/Tokyo"}'))
    assert (block.copy_what, block.copy_payload()) == (
        "arguments", '{\n  "timezone": "Asia/Tokyo"\n}')
    block.set_result(Message(Role.TOOL, "", provider="time", model="get_current_time",
                             finish_reason="error", error="time: the server stopped"))
    assert (block.copy_what, block.copy_payload()) == ("result", "time: the server stopped")
