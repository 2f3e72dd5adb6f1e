"""Esc after a round's tool results, before the loop's next reply sends its first token
(issue 13): the results stay saved, the stopped empty reply is kept as interrupted (never sent),
the status line says what Ctrl+G does, and Ctrl+G (or the next prompt) carries the
results to the model.

Model side: the loopback server (the second reply held before its first chunk). Tool
side: the in-test Box (tests/tool_box.py).
"""

from __future__ import annotations

import threading
from typing import Any

import pytest
from loopback import Hold, sse_chunks, sse_reply, stream_reply, tool_call_reply
from tool_box import Box, add, saved_path, tool_results
from ui_helpers import running, screen_text, wait_until

from chatterm.conversation import MessageState, Role

pytestmark = pytest.mark.slow

CHAT = "chat/completions"


async def stopped_after_results(server: Any, pilot: Any, hold: threading.Event) -> None:
    """Send a prompt whose reply calls add; Esc once the next reply is asked for."""
    app = pilot.app
    app.chat.replies.engine().tools = Box({"add": add})
    server.script(CHAT, [
        tool_call_reply([("c1", "add", '{"a": 2, "b": 2}')]),
        stream_reply([Hold(hold), *sse_chunks(["never shown"])]),
    ])
    app.chat.prompt.insert("add them")
    await pilot.press("enter")
    await wait_until(pilot, lambda: len(server.requests) == 2,
                     what="the next reply asked for")
    await wait_until(pilot, lambda: app.chat.busy, what="the next reply streaming")
    await pilot.press("escape")
    await wait_until(pilot, lambda: not app.chat.busy, what="the loop to stop")
    hold.set()


async def test_esc_before_the_next_reply_then_ctrl_g_sends_the_results(server: Any) -> None:
    hold = threading.Event()
    async with running(size=(100, 30)) as (app, pilot):
        await stopped_after_results(server, pilot, hold)
        status = app.chat.status.text
        assert "partial reply is kept" not in status
        assert "Ctrl+G" in status and "tool results" in status
        path = saved_path(app.chat.conversation.id)
        # The stopped reply is kept, empty and interrupted: the wire leaves it out.
        assert [m.role for m in path] == [Role.USER, Role.ASSISTANT, Role.TOOL, Role.ASSISTANT]
        assert (path[2].content, path[3].content, path[3].state) == (
            "4", "", MessageState.INTERRUPTED)
        stopped_id = path[3].id
        server.script(CHAT, sse_reply(["It is four."]))
        await pilot.press("ctrl+g")
        await wait_until(pilot, lambda: len(server.requests) == 3, what="the third request")
        await wait_until(pilot, lambda: not app.chat.busy, what="the answer")
        assert tool_results(server, 2) == {"c1": "4"}
        last = server.requests[2].json["messages"][-1]
        assert last["role"] == "tool"  # no "continue" instruction: the loop goes on
        await wait_until(pilot, lambda: "It is four." in screen_text(app), what="the answer shown")
        path = saved_path(app.chat.conversation.id)
        assert [m.role for m in path] == [Role.USER, Role.ASSISTANT, Role.TOOL, Role.ASSISTANT]
        assert (path[3].id, path[3].content, path[3].state) == (
            stopped_id, "It is four.", MessageState.COMPLETE)


async def test_esc_before_the_next_reply_then_a_new_prompt_carries_the_results(
        server: Any) -> None:
    hold = threading.Event()
    async with running(size=(100, 30)) as (app, pilot):
        await stopped_after_results(server, pilot, hold)
        server.script(CHAT, sse_reply(["Four, and hello."]))
        app.chat.prompt.insert("and hello")
        await pilot.press("enter")
        await wait_until(pilot, lambda: len(server.requests) == 3, what="the third request")
        await wait_until(pilot, lambda: not app.chat.busy, what="the answer")
        sent = server.requests[2].json["messages"]
        assert tool_results(server, 2) == {"c1": "4"}
        assert [m["role"] for m in sent[-3:]] == ["assistant", "tool", "user"]
