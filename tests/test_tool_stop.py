"""Esc in the tool loop (issue 13): cancelling the task that awaits a reply stops the
stream, a waiting approval and running calls. What happened stays saved (calls without a
result: STOPPED), the tree in memory is the store's, a relaunch shows it, and the next
prompt works. Results are saved the moment they come (a crash loses none that came).

Model side: the loopback server. Tool side: the in-test Box of tests/tool_box.py.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
from chatterm_env import write_config
from loopback import LoopbackServer, sse_reply, tool_call_reply
from tool_box import Box, add, saved_path, session_on

from chatterm.config import load_config
from chatterm.conversation import MessageState, Role
from chatterm.engine.events import (
    ReplyStopped,
    SessionEvent,
    TextArrived,
    ToolCallFinished,
    ToolCallStarted,
)
from chatterm.engine.session import ChatSession
from chatterm.engine.wire import TOOL_NOT_RUN, wire_messages
from chatterm.store import Store
from chatterm.toolbox import STOPPED_TEXT, Approval, ApprovalRequest, ToolOutcome


async def until(condition: Any, what: str) -> None:
    for _ in range(1000):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"never happened: {what}")


async def stop(task: asyncio.Task[Any]) -> None:
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


def relaunch(loopback: LoopbackServer, conversation_id: str, box: Box) -> ChatSession:
    """A new process's session on the saved chat (a second Store on the same file)."""
    write_config(loopback.url)
    other = Store.open()
    session = ChatSession(other, load_config(), other.get_conversation(conversation_id))
    session.tools = box
    return session


async def test_esc_while_an_approval_waits_saves_the_round_as_stopped(
    loopback: LoopbackServer, store: Store
) -> None:
    loopback.script("chat/completions", [
        tool_call_reply([("c1", "add", '{"a": 1, "b": 1}'), ("c2", "slow", "{}")])])
    asked = asyncio.Event()
    cancelled: list[str] = []

    async def slow(arguments: dict[str, Any]) -> str:
        await asyncio.Event().wait()
        return "never"

    async def person(request: ApprovalRequest) -> Approval:
        asked.set()
        try:
            await asyncio.Event().wait()  # a person who has not answered yet
        except asyncio.CancelledError:
            cancelled.append(request.call_id)
            raise
        raise AssertionError("unreachable")

    box = Box({"add": add, "slow": slow}, ask={"add"})
    session = session_on(loopback, store, box)
    session.approver = person
    seen: list[SessionEvent] = []
    task = asyncio.create_task(session.send("go", seen.append))
    await until(lambda: asked.is_set() and any(isinstance(e, ToolCallStarted) for e in seen),
                "the approval is asked while the auto call runs")
    await stop(task)
    assert cancelled == ["c1"]  # the approver's awaitable was cancelled
    assert not session.streaming
    path = saved_path(session.conversation.id)
    assert [(m.role, m.tool_call_id, m.finish_reason, m.content) for m in path[2:]] == [
        (Role.TOOL, "c2", "stopped", STOPPED_TEXT), (Role.TOOL, "c1", "stopped", STOPPED_TEXT)]
    assert [m.id for m in session.conversation.messages] == [m.id for m in path]
    assert {e.call.id: e.outcome for e in seen if isinstance(e, ToolCallFinished)} == {
        "c1": ToolOutcome.STOPPED, "c2": ToolOutcome.STOPPED}
    # The next prompt, in a relaunch, carries the stopped results and goes on.
    again = relaunch(loopback, session.conversation.id, box)
    assert [m.id for m in again.conversation.messages] == [m.id for m in path]
    loopback.script("chat/completions", sse_reply(["fine"]))
    try:
        assert (await again.send("never mind")).content == "fine"
    finally:
        again.store.close()  # type: ignore[union-attr]
    sent = loopback.requests[1].json["messages"]
    assert {m["tool_call_id"]: m["content"] for m in sent if m["role"] == "tool"} == {
        "c1": STOPPED_TEXT, "c2": STOPPED_TEXT}


async def test_esc_while_calls_run_keeps_what_finished_and_stops_the_rest(
    loopback: LoopbackServer, store: Store
) -> None:
    loopback.script("chat/completions", [
        tool_call_reply([("c1", "add", '{"a": 1, "b": 1}'), ("c2", "slow", "{}")])])
    running = asyncio.Event()

    async def slow(arguments: dict[str, Any]) -> str:
        running.set()
        await asyncio.Event().wait()
        return "never"

    box = Box({"add": add, "slow": slow})
    session = session_on(loopback, store, box)
    seen: list[SessionEvent] = []
    task = asyncio.create_task(session.send("go", seen.append))
    await until(lambda: running.is_set()
                and any(isinstance(e, ToolCallFinished) for e in seen), "c1 done, c2 runs")
    # Saved the moment it came, while the other call still runs: a crash now keeps it.
    mid = saved_path(session.conversation.id)
    assert [(m.tool_call_id, m.content) for m in mid if m.role is Role.TOOL] == [("c1", "2")]
    # What the next start would send for the call a crash left without a result.
    with Store.open() as other:
        crashed = other.get_conversation(session.conversation.id)
    assert [m for m in wire_messages(crashed) if m["role"] == "tool"] == [
        {"role": "tool", "content": "2", "tool_call_id": "c1"},
        {"role": "tool", "content": TOOL_NOT_RUN, "tool_call_id": "c2"}]
    await stop(task)
    assert len(loopback.requests) == 1  # the model was not asked again
    path = saved_path(session.conversation.id)
    assert [(m.tool_call_id, m.finish_reason) for m in path if m.role is Role.TOOL] == [
        ("c1", "ok"), ("c2", "stopped")]
    assert [m.id for m in session.conversation.messages] == [m.id for m in path]
    # The next prompt in the same session works.
    loopback.script("chat/completions", sse_reply(["next"]))
    assert (await session.send("again")).content == "next"


async def test_esc_while_the_next_reply_streams_keeps_the_exchange(
    loopback: LoopbackServer, store: Store
) -> None:
    hold = threading.Event()
    loopback.script("chat/completions", [
        tool_call_reply([("c1", "add", '{"a": 2, "b": 2}')]),
        sse_reply(["It is ", "four"], hold=hold)])
    session = session_on(loopback, store, Box({"add": add}))
    seen: list[SessionEvent] = []
    task = asyncio.create_task(session.send("go", seen.append))
    await until(lambda: any(isinstance(e, TextArrived) and e.text == "It is " for e in seen),
                "the second reply's first words")
    await stop(task)
    hold.set()
    stopped = [e.message for e in seen if isinstance(e, ReplyStopped)]
    path = saved_path(session.conversation.id)
    assert [m.role for m in path] == [Role.USER, Role.ASSISTANT, Role.TOOL, Role.ASSISTANT]
    assert (path[2].content, path[3].content, path[3].state) == (
        "4", "It is ", MessageState.INTERRUPTED)
    assert [m.id for m in stopped] == [path[3].id]
    assert not session.streaming


async def test_esc_while_the_tool_calls_stream_runs_nothing(
    loopback: LoopbackServer, store: Store
) -> None:
    loopback.script("chat/completions", [
        tool_call_reply([("c1", "add", '{"a": 2, "b": 2}')], delay=0.3)])
    box = Box({"add": add})
    session = session_on(loopback, store, box)
    seen: list[SessionEvent] = []
    task = asyncio.create_task(session.send("go", seen.append))
    await until(lambda: any(isinstance(e, TextArrived) and e.kind == "tool_arguments"
                            for e in seen), "the call's arguments start")
    await stop(task)
    assert box.calls == [] and len(loopback.requests) == 1
    path = saved_path(session.conversation.id)
    assert [m.role for m in path] == [Role.USER, Role.ASSISTANT]
    assert path[1].state is MessageState.INTERRUPTED
    loopback.script("chat/completions", sse_reply(["fresh"]))
    assert (await session.send("again")).content == "fresh"
