"""Tool calls in the chat (issue 13): each call of a reply is a block with `server.tool`,
its arguments as pretty JSON, a spinner while it runs, then its result folded to its
first lines (Enter or a click shows all of it); the status line says what the loop is
doing; the loop's next reply streams below the blocks; a reloaded chat looks the same.

The model side is the loopback server; the tool side an in-test ToolBox (our own seam,
tests/tool_box.py's Box) set on the chat's session, with the real engine between.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import threading
from pathlib import Path
from typing import Any

import pytest
from loopback import Hold, sse_chunks, sse_reply, stream_reply, tool_call_reply
from tool_box import Box
from tool_exchange import tool_exchange
from ui_helpers import (
    LOOP_KEY,
    LOOP_KEY_ENV,
    make_app,
    running,
    screen_text,
    terminal_output,
    wait_until,
    write_config,
)

from chatterm.conversation import Role
from chatterm.launch import LaunchOptions
from chatterm.store import Store
from chatterm.toolbox import Approval, ApprovalRequest, Decision, ToolResult

pytestmark = pytest.mark.slow

CHAT = "chat/completions"
TEN_LINES = "\n".join(f"result line {n}" for n in range(1, 11))


def blocks(app: Any) -> list[Any]:
    from chatterm.ui.chat.tool_block import ToolBlock

    return list(app.chat.message_list.query(ToolBlock).results(ToolBlock))


def shown(widget: Any) -> str:
    return str(widget.render())


def with_tools(app: Any, box: Box, approver: Any = None) -> None:
    session = app.chat.replies.engine()
    session.tools = box
    session.approver = approver


async def send(pilot: Any, text: str) -> None:
    pilot.app.chat.prompt.insert(text)
    await pilot.press("enter")


async def until_idle(pilot: Any) -> None:
    await wait_until(pilot, lambda: not pilot.app.chat.busy, what="the reply to end")


# ---- a saved exchange --------------------------------------------------------------------


async def test_a_saved_exchange_draws_each_result_inside_its_call_block(server: Any) -> None:
    conversation = tool_exchange(provider="loop", model="model-a")
    async with running(LaunchOptions(resume_id=conversation.id), size=(100, 50)) as (app, pilot):
        await wait_until(pilot, lambda: len(blocks(app)) == 3, what="three call blocks")
        tokyo, paris, wiki = blocks(app)
        text = screen_text(app)
        # No bare "tool result" messages: the tool views take no room.
        assert "tool result" not in text
        tool_views = [v for v in app.chat.message_list.views() if v.message.role is Role.TOOL]
        assert len(tool_views) == 3 and all(v.region.height == 0 for v in tool_views)
        assert shown(tokyo).startswith("⚙ time.get_current_time  ✓ done")
        assert '"timezone": "Asia/Tokyo"' in shown(tokyo)  # pretty JSON
        assert '"datetime": "2026-12-02T14:51:36+09:00"' in shown(tokyo)
        assert "⊘ declined" in shown(paris) and "declined to run" not in shown(paris)
        # The error's result: folded, its escape sequences inert.
        assert shown(wiki).startswith("⚙ wiki.lookup  ✗ error")
        assert '"page": "Quokka été"' in shown(wiki)
        assert "line 3 of the page" in shown(wiki) and "line 4 of the page" not in shown(wiki)
        assert "… 12 more lines · Enter or click shows all" in shown(wiki)
        assert "\x1b]52" not in terminal_output(app) and "\x1b[2J" not in terminal_output(app)
        assert "It is 23:51 in Tokyo." in text

        # ↓ from the reply goes through its calls, in order; the hint names Enter.
        reply = app.chat.message_list.view_for_id(conversation.messages[1].id)
        reply.focus()
        await pilot.press("down")
        assert app.focused is tokyo
        await pilot.press("down", "down")
        assert app.focused is wiki
        # The focus shows: the block's bar turns into the accent's double line.
        assert wiki.styles.border_left[0] == "double" and tokyo.styles.border_left[0] != "double"
        await wait_until(pilot, lambda: app.chat.status.text.startswith("Enter shows all"),
                         what="the block's hint")
        await pilot.press("enter")
        await wait_until(pilot, lambda: "line 15 of the page" in shown(wiki), what="expanded")
        assert "Enter or click folds" in shown(wiki)
        assert app.chat.status.text.startswith("Enter folds")
        await pilot.press("enter")
        await wait_until(pilot, lambda: "line 15 of the page" not in shown(wiki), what="folded")
        # A click unfolds too.
        await pilot.click(wiki)
        await wait_until(pilot, lambda: "line 15 of the page" in shown(wiki), what="clicked")
        await pilot.press("down")
        assert app.focused is app.chat.message_list.view_for_id(conversation.messages[-1].id)
        await pilot.press("up")
        assert app.focused is wiki
        # A letter typed on a block goes to the prompt, as on a message.
        await pilot.press("x")
        assert app.focused is app.chat.prompt and app.chat.prompt.text == "x"
        # Tab regions: the conversation is one stop, the calls are not stops of their own.
        await pilot.press("shift+tab")
        assert app.focused is wiki
        await pilot.press("tab")
        assert app.focused is app.chat.prompt


async def test_calls_wrap_at_40_columns_and_after_a_resize(server: Any) -> None:
    conversation = tool_exchange(provider="loop", model="model-a")
    async with running(LaunchOptions(resume_id=conversation.id), size=(120, 50)) as (app, pilot):
        await wait_until(pilot, lambda: len(blocks(app)) == 3, what="three call blocks")
        wiki = blocks(app)[2]
        wiki.focus()
        await pilot.press("enter")  # all 16 lines of the result
        await pilot.resize_terminal(40, 60)
        await wait_until(pilot, lambda: wiki.region.width < 40, what="the narrow layout")
        await pilot.pause(0.2)
        wiki.scroll_visible(animate=False)
        await pilot.pause(0.2)
        text = screen_text(app)
        assert all(len(line) <= 40 for line in text.splitlines())
        # Every word of the block is on screen: wrapped, not cut at the edge.
        for n in (1, 8, 15):
            assert f"line {n} of the page about" in " ".join(text.split())
        assert wiki.region.height > 16


# ---- the live loop -----------------------------------------------------------------------


async def test_a_running_call_ticks_then_its_result_folds_and_the_next_reply_streams_below(
        server: Any) -> None:
    gate = asyncio.Event()

    async def get_current_time(arguments: dict[str, Any]) -> str:
        await gate.wait()
        return TEN_LINES

    box = Box({"get_current_time": get_current_time}, server="time")
    server.script(CHAT, tool_call_reply([("call_1", "get_current_time",
                                          '{"timezone":"Europe/Paris"}')]))
    server.script(CHAT, sse_reply(["It is seven ", "in Paris."]))
    async with running(size=(100, 40)) as (app, pilot):
        with_tools(app, box)
        await send(pilot, "What time is it in Paris?")
        # The seconds tick on the line and in the block (each at its own pace; a loaded
        # machine may skip a number, so any second past the first will do).
        ticked = re.compile(r"running time\.get_current_time \([1-9]\d* s\)  Esc stops")
        await wait_until(pilot, lambda: ticked.search(app.chat.status.text),
                         what="a second ticked on the line")
        [block] = blocks(app)
        await wait_until(pilot, lambda: re.search(r"running [1-9]\d* s", shown(block)),
                         what="a second ticked in the block")
        assert '"timezone": "Europe/Paris"' in shown(block)
        assert "[regenerate]" not in screen_text(app)  # not under calls that run
        gate.set()
        await until_idle(pilot)
        assert shown(block).startswith("⚙ time.get_current_time  ✓ done")
        assert "result line 4" in shown(block) and "result line 5" not in shown(block)
        assert "… 6 more lines" in shown(block)
        text = screen_text(app)
        assert text.index("result line 4") < text.index("It is seven in Paris.")
        # One view per message of the conversation, in its order.
        session = app.chat.replies.engine()
        ids = [view.message.id for view in app.chat.message_list.views()]
        assert ids == [message.id for message in session.conversation.messages]
        assert [m.role for m in session.conversation.messages] == [
            Role.USER, Role.ASSISTANT, Role.TOOL, Role.ASSISTANT]
        live = [shown(b) for b in blocks(app)]
        conversation_id = session.conversation.id
        assert app.chat.message_list.following
    # Reopened from the store: drawn the same.
    async with running(LaunchOptions(resume_id=conversation_id), size=(100, 40)) as (app, pilot):
        await wait_until(pilot, lambda: len(blocks(app)) == 1, what="the call block")
        assert [shown(b) for b in blocks(app)] == live
        assert "tool result" not in screen_text(app)


async def test_the_status_line_says_waiting_for_approval_then_esc_stops_the_running_call(
        server: Any) -> None:
    asked: list[ApprovalRequest] = []
    answer: asyncio.Future[Approval] | None = None

    async def approver(request: ApprovalRequest) -> Approval:
        nonlocal answer
        asked.append(request)
        answer = asyncio.get_running_loop().create_future()
        return await answer

    async def slow(arguments: dict[str, Any]) -> ToolResult:
        await asyncio.sleep(60)
        return ToolResult("late")

    box = Box({"slow": slow}, server="calc", ask=["slow"])
    server.script(CHAT, tool_call_reply([("call_1", "slow", '{"x": "1"}')]))
    async with running(size=(100, 30)) as (app, pilot):
        with_tools(app, box, approver)
        await send(pilot, "go slow")
        await wait_until(pilot, lambda: answer is not None, what="the approval asked")
        assert "waiting for approval: calc.slow" in app.chat.status.text
        [block] = blocks(app)
        assert "⏳ waiting for approval" in shown(block)
        assert answer is not None
        answer.set_result(Approval(Decision.ALLOW))
        await wait_until(pilot, lambda: "running calc.slow" in app.chat.status.text,
                         what="running")
        assert "running" in shown(block)
        await pilot.press("escape")
        await until_idle(pilot)
        assert shown(block).startswith("⚙ calc.slow  ■ stopped")
        assert "stopped: calls that had not finished are saved as stopped" in app.chat.status.text
        assert not block.spinning  # the spinner is gone
        assert "[regenerate]" in screen_text(app)


async def test_several_calls_run_at_once_and_the_line_names_them(server: Any) -> None:
    gate = asyncio.Event()

    async def wait(arguments: dict[str, Any]) -> str:
        await gate.wait()
        return f"done {arguments['x']}"

    box = Box({"a": wait, "b": wait}, server="s")
    # The third call is hostile: a name and arguments with escape sequences and C1 controls.
    server.script(CHAT, tool_call_reply([("c1", "a", '{"x": "1"}'), ("c2", "b", '{"x": "2"}'),
                                         ("c3", "nope\x1b]0;pwned\x07",
                                          '{"y": "\u009b2J \u001b]52;c;aGk=\u0007"}')]))
    server.script(CHAT, sse_reply(["ok"]))
    async with running(size=(100, 40)) as (app, pilot):
        with_tools(app, box)
        await send(pilot, "both")
        await wait_until(pilot, lambda: "running s.a and 1 more" in app.chat.status.text,
                         what="both running")
        first, second, unknown = blocks(app)
        assert "running" in shown(first) and "running" in shown(second)
        assert shown(unknown).startswith("⚙ nope")
        assert "? unknown tool" in shown(unknown).splitlines()[0]
        output = terminal_output(app)
        assert "\x1b]0;" not in output and "\x1b]52" not in output and "\x9b" not in output
        gate.set()
        await until_idle(pilot)
        assert "→ done 1" in shown(first) and "→ done 2" in shown(second)


async def test_the_line_says_when_the_tool_rounds_ran_out(
        server: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from chatterm.engine import tool_loop

    monkeypatch.setattr(tool_loop, "max_tool_rounds", lambda _config: 1)

    async def echo(arguments: dict[str, Any]) -> str:
        return "again"

    box = Box({"echo": echo}, server="s")
    server.script(CHAT, tool_call_reply([("c1", "echo", '{"x": "1"}')]))
    server.script(CHAT, tool_call_reply([("c2", "echo", '{"x": "2"}')]))
    async with running(size=(100, 40)) as (app, pilot):
        with_tools(app, box)
        await send(pilot, "loop forever")
        await until_idle(pilot)
        assert app.chat.status.text.startswith("stopped after 1 tool round (max_tool_rounds")
        done, not_run = blocks(app)
        assert "✓ done" in shown(done) and "· not run" in shown(not_run)
        # Named as the tool it is, though it never ran (qa13 F6: it was the bare `echo`).
        assert shown(not_run).startswith("⚙ s.echo  · not run")


async def test_a_warning_of_a_started_call_is_one_notification(server: Any) -> None:
    async def echo(arguments: dict[str, Any]) -> str:
        return "fine"

    class Unsaved(Box):
        def allow_always(self, spec: Any) -> None:
            from chatterm.errors import ConfigError

            raise ConfigError("config.toml: cannot write always_allow (read-only file)")

    async def always(request: ApprovalRequest) -> Approval:
        return Approval(Decision.ALWAYS)

    box = Unsaved({"echo": echo}, server="s", ask=["echo"])
    server.script(CHAT, tool_call_reply([("c1", "echo", '{"x": "1"}')]))
    server.script(CHAT, sse_reply(["ok"]))
    async with running(size=(100, 40)) as (app, pilot):
        with_tools(app, box, always)
        await send(pilot, "echo")
        await until_idle(pilot)
        notes = [str(n.message) for n in app._notifications]
        assert any("cannot write always_allow" in note for note in notes), notes
        assert "→ fine" in shown(blocks(app)[0])


# ---- a snapshot --------------------------------------------------------------------------


def test_snapshot_of_a_reply_with_a_folded_result(server: Any, snap_compare: Any,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from chatterm.conversation import Conversation, Message, ToolCall
    from chatterm.ui.chat import status_bar

    monkeypatch.setattr(status_bar, "clock", lambda: 1000.0)
    at = 1_600_000_000.0
    cid = "700100000000000000000000000000b1"
    conversation = Conversation(provider="loop", model="model-a", id=cid, title="Paris time",
                                created_at=at, updated_at=at)

    def add(role: Role, content: str = "", **fields: Any) -> Message:
        parent = conversation.messages[-1].id if conversation.messages else None
        index = len(conversation.messages)
        message = Message(role=role, content=content, id=f"{cid[:-2]}{index:02d}",
                          conversation_id=cid, parent_id=parent,
                          created_at=at + len(conversation.messages), **fields)
        conversation.messages.append(message)
        return message

    add(Role.USER, "What time is it in Paris?")
    add(Role.ASSISTANT, "", provider="loop", model="model-a", finish_reason="tool_calls",
        tool_calls=[ToolCall("call_1", "get_current_time", '{"timezone":"Europe/Paris"}')])
    add(Role.TOOL, TEN_LINES, provider="time", model="get_current_time", finish_reason="ok",
        tool_call_id="call_1")
    add(Role.ASSISTANT, "It is **seven** in Paris.", provider="loop", model="model-a",
        finish_reason="stop")
    conversation.current_id = conversation.messages[-1].id
    with Store.open() as store:
        store.create_conversation(conversation)
    app = make_app(LaunchOptions(resume_id=cid))

    async def run_before(pilot: Any) -> None:
        # The pilot can start before the chat screen has composed its widgets.
        await wait_until(pilot, lambda: app.chat.query("#prompt"), what="the prompt")
        await wait_until(pilot, lambda: len(blocks(app)) == 1, what="the call block")
        for box in app.screen.query("Input, TextArea"):
            box.cursor_blink = False
        await pilot.pause()

    try:
        assert snap_compare(app, terminal_size=(100, 30), run_before=run_before)
    finally:
        app.store.close()


# ---- through the real MCP host -----------------------------------------------------------


async def test_a_call_to_the_real_time_server_shows_its_result_in_the_block(
        loopback: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """mcp-server-time over stdio, hosted by the app itself from the config (auto)."""
    from mcp_helpers import time_server, toml_for

    monkeypatch.setenv(LOOP_KEY_ENV, LOOP_KEY)
    write_config(Path(os.environ["CHATTERM_CONFIG"]), loopback.url,
                 extra=toml_for([time_server("time", approve="auto")]))
    loopback.script(CHAT, tool_call_reply([("call_t", "get_current_time",
                                            '{"timezone": "Europe/Paris"}')]))
    loopback.script(CHAT, sse_reply(["It is ", "morning in Paris."]))
    async with running(size=(100, 40)) as (app, pilot):
        await wait_until(pilot, lambda: any(s.state == "ready" for s in app.tools.statuses()),
                         timeout=60, what="the time server to be ready")
        await send(pilot, "What time is it in Paris?")
        # A real server process answers: allow for a loaded machine.
        await wait_until(pilot, lambda: not app.chat.busy, timeout=30, what="the reply to end")
        [block] = blocks(app)
        assert shown(block).startswith("⚙ time.get_current_time  ✓ done")
        assert '"timezone": "Europe/Paris"' in shown(block).split("→", 1)[1]
        text = screen_text(app)
        assert text.index("time.get_current_time") < text.index("morning in Paris.")
        # What the model was sent back is the result the block shows.
        sent = loopback.requests[1].json["messages"][-1]
        assert sent["role"] == "tool" and "Europe/Paris" in sent["content"]


async def test_a_chat_left_while_its_call_runs_shows_it_running_when_reopened(
        server: Any) -> None:
    gate = asyncio.Event()

    async def wait(arguments: dict[str, Any]) -> str:
        await gate.wait()
        return "finally"

    box = Box({"wait": wait}, server="s")
    server.script(CHAT, tool_call_reply([("c1", "wait", '{"x": "1"}')]))
    server.script(CHAT, sse_reply(["after ", "the call"]))
    try:
        async with running(size=(100, 40)) as (app, pilot):
            with_tools(app, box)
            await send(pilot, "wait for it")
            await wait_until(pilot, lambda: "running s.wait" in app.chat.status.text,
                             what="the call running")
            story = app.chat.conversation.id
            await pilot.press("ctrl+n")
            await wait_until(pilot, lambda: app.chat.conversation.id != story, what="new chat")
            assert not blocks(app)
            app.chat.open_saved(story)
            await wait_until(pilot, lambda: app.chat.conversation.id == story, what="reopened")
            await wait_until(pilot, lambda: len(blocks(app)) == 1, what="the block again")
            [block] = blocks(app)
            await wait_until(pilot, lambda: "running" in shown(block), what="still running")
            assert "running s.wait" in app.chat.status.text
            gate.set()
            await until_idle(pilot)
            assert "→ finally" in shown(blocks(app)[0])
            assert "after the call" in screen_text(app)
            ids = [view.message.id for view in app.chat.message_list.views()]
            assert ids == [m.id for m in app.chat.replies.engine().conversation.messages]
    finally:
        gate.set()


async def test_regenerating_a_reply_with_calls_and_flipping_back_shows_its_blocks(
        server: Any) -> None:
    conversation = tool_exchange(provider="loop", model="model-a")
    server.script(CHAT, sse_reply(["No tools ", "this time."]))
    async with running(LaunchOptions(resume_id=conversation.id), size=(100, 50)) as (app, pilot):
        await wait_until(pilot, lambda: len(blocks(app)) == 3, what="three call blocks")
        calls = app.chat.message_list.view_for_id(conversation.messages[1].id)
        calls.focus()
        await pilot.press("r")
        await until_idle(pilot)
        await wait_until(pilot, lambda: "No tools this time." in screen_text(app),
                         what="the new version")
        await wait_until(pilot, lambda: not blocks(app), what="the blocks gone")
        assert [v.message.role for v in app.chat.message_list.views()] == [
            Role.USER, Role.ASSISTANT]
        app.chat.message_list.views()[-1].focus()
        await pilot.press("left")
        await wait_until(pilot, lambda: len(blocks(app)) == 3, what="the blocks back")
        await wait_until(pilot, lambda: "It is 23:51 in Tokyo." in screen_text(app),
                         what="the old branch")
        assert "tool result" not in screen_text(app)
        assert "✓ done" in shown(blocks(app)[0]) and "⊘ declined" in shown(blocks(app)[1])
        session = app.chat.replies.engine()
        ids = [view.message.id for view in app.chat.message_list.views() if view.display]
        assert ids == [m.id for m in session.conversation.messages]


async def test_the_view_follows_the_loop_s_next_reply_as_it_streams(server: Any) -> None:
    async def now(arguments: dict[str, Any]) -> str:
        return TEN_LINES

    box = Box({"now": now}, server="time")
    server.script(CHAT, tool_call_reply([("c1", "now", '{"x": "1"}')]))
    events = sse_chunks([f"answer line {n}\n\n" for n in range(1, 41)] + ["last-marker"])
    half = threading.Event()
    server.script(CHAT, stream_reply([*events[:21], Hold(half), *events[21:]]))
    try:
        async with running(size=(80, 24)) as (app, pilot):
            with_tools(app, box)
            await send(pilot, "long answer please")
            message_list = app.chat.message_list
            # Held after 21 lines: the newest are in view, the block and first lines above.
            await wait_until(pilot, lambda: "answer line 20" in screen_text(app),
                             what="the 20th line in view")
            rows = [line.strip(" █") for line in screen_text(app).splitlines()]
            assert message_list.following and "answer line 1" not in rows
            half.set()
            await until_idle(pilot)
            await wait_until(pilot, lambda: "last-marker" in screen_text(app),
                             what="the end in view")
            assert message_list.following and message_list.scroll_y == message_list.max_scroll_y
    finally:
        half.set()


async def test_a_call_shows_while_its_arguments_stream(server: Any) -> None:
    async def write(arguments: dict[str, Any]) -> str:
        return "written"

    box = Box({"write": write}, server="fs")
    text = "x" * 500
    reply = tool_call_reply([("c1", "write", json.dumps({"path": "notes.txt", "text": text}))])
    # Held after the first half of the arguments (events: role, name, half, half, end).
    half = threading.Event()
    reply.body.insert(3, Hold(half))
    server.script(CHAT, reply)
    server.script(CHAT, sse_reply(["done"]))
    try:
        async with running(size=(100, 40)) as (app, pilot):
            with_tools(app, box)
            await send(pilot, "write it")
            await wait_until(pilot, lambda: len(blocks(app)) == 1, what="a block while streaming")
            [block] = blocks(app)
            await wait_until(pilot, lambda: "arriving" in shown(block), what="arriving")
            assert shown(block).startswith("⚙ tool call  … arriving (")
            assert '"path": "notes.txt"' in shown(block)
            half.set()
            await until_idle(pilot)
            assert blocks(app) == [block]  # the same block, now the call as made
            assert shown(block).startswith("⚙ fs.write  ✓ done")
            assert "→ written" in shown(block)
    finally:
        half.set()


async def test_a_result_whose_call_is_not_shown_is_a_folded_message_of_its_own(
        server: Any) -> None:
    from chatterm.conversation import Conversation, Message

    conversation = Conversation(provider="loop", model="model-a", title="Odd import")
    prompt = Message(Role.USER, "hi", conversation_id=conversation.id)
    reply = Message(Role.ASSISTANT, "Hello.", conversation_id=conversation.id,
                    parent_id=prompt.id, provider="loop", model="model-a")
    odd = Message(Role.TOOL, TEN_LINES, conversation_id=conversation.id, parent_id=reply.id,
                  tool_call_id="call_nobody_made", provider="time", model="get_current_time",
                  finish_reason="ok")
    conversation.messages.extend([prompt, reply, odd])
    conversation.current_id = odd.id
    with Store.open() as store:
        store.create_conversation(conversation)
    async with running(LaunchOptions(resume_id=conversation.id), size=(100, 40)) as (app, pilot):
        await wait_until(pilot, lambda: len(blocks(app)) == 1, what="the result's block")
        text = screen_text(app)
        assert "tool result  call_nobody_made" in text
        [block] = blocks(app)
        assert shown(block).startswith("⚙ time.get_current_time  ✓ done")
        assert "result line 4" in shown(block) and "result line 5" not in shown(block)
        view = app.chat.message_list.views()[-1]
        view.focus()
        await pilot.press("down")
        assert app.focused is block
        await pilot.press("enter")
        await wait_until(pilot, lambda: "result line 10" in shown(block), what="expanded")
