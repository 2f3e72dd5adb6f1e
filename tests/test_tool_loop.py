"""The engine's tool loop (issue 13): tools offered in the request, a reply's tool calls
run, each result saved as a tool message, and the model asked again with the exchange.

The model side is the loopback server (scripted tool-call streams, and the recorded ones
in ../shared/fixtures/sse); the tool side is a small in-test ToolBox (our own seam, see
chatterm/toolbox.py); tests through the real MCP host are in test_tool_loop_mcp.py.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from loopback import LoopbackServer, sse_reply, stream_reply, tool_call_reply
from tool_box import Box, add, echo, saved_path, session_on

from chatterm.conversation import MessageState, Role
from chatterm.engine.events import (
    ReplyFinished,
    ReplyStarted,
    SessionEvent,
    TextArrived,
    ToolCallFinished,
    ToolCallPending,
    ToolCallStarted,
)
from chatterm.store import Store
from chatterm.toolbox import ToolOutcome


def kinds(events: list[SessionEvent]) -> list[str]:
    return [type(e).__name__ for e in events if not isinstance(e, TextArrived)]


async def test_the_session_s_tools_are_sent_as_tools_and_none_without_a_toolbox(
    loopback: LoopbackServer, store: Store
) -> None:
    loopback.script("chat/completions", [sse_reply(["plain"]), sse_reply(["no tools"])])
    box = Box({"add": add, "echo": echo})
    session = session_on(loopback, store, box)
    await session.send("hi")
    assert loopback.requests[0].json["tools"] == [box.spec("add").function(),
                                                  box.spec("echo").function()]
    assert loopback.requests[0].json["tools"][0] == {
        "type": "function", "function": {
            "name": "add", "description": "the add tool",
            "parameters": {"type": "object", "properties": {"x": {"type": "string"}}}}}
    session.tools = None
    await session.send("again")
    assert "tools" not in loopback.requests[1].json


async def test_a_tool_call_runs_its_result_is_saved_and_the_model_is_asked_again(
    loopback: LoopbackServer, store: Store
) -> None:
    loopback.script("chat/completions", [
        tool_call_reply([("call_1", "add", '{"a": 2, "b": 3}')]),
        sse_reply(["The sum ", "is 5."]),
    ])
    box = Box({"add": add})
    session = session_on(loopback, store, box)
    seen: list[SessionEvent] = []
    final = await session.send("add 2 and 3", seen.append)
    assert final.content == "The sum is 5." and final.state is MessageState.COMPLETE
    assert box.calls == [("add", {"a": 2, "b": 3})]
    assert kinds(seen) == ["ReplyStarted", "ReplyFinished", "ToolCallPending",
                           "ToolCallStarted", "ToolCallFinished", "ReplyStarted",
                           "ReplyFinished"]
    pending = next(e for e in seen if isinstance(e, ToolCallPending))
    assert (pending.index, pending.spec, pending.needs_approval) == (0, box.spec("add"), False)
    assert isinstance(seen[-1], ReplyFinished) and seen[-1].message is final
    # The second request carries the whole exchange: the call, then its result.
    assert len(loopback.requests) == 2
    second = loopback.requests[1].json
    assert second["messages"][-2:] == [
        {"role": "assistant", "content": "", "tool_calls": [
            {"id": "call_1", "type": "function",
             "function": {"name": "add", "arguments": '{"a": 2, "b": 3}'}}]},
        {"role": "tool", "content": "5", "tool_call_id": "call_1"},
    ]
    assert second["tools"] == [box.spec("add").function()]
    # Saved as the tree the toolbox module describes, and current.
    user, asked, result, answer = saved_path(session.conversation.id)
    assert [m.role for m in (user, asked, result, answer)] == [
        Role.USER, Role.ASSISTANT, Role.TOOL, Role.ASSISTANT]
    assert [c.id for c in asked.tool_calls] == ["call_1"]
    assert (result.content, result.tool_call_id, result.provider, result.model,
            result.finish_reason, result.error, result.parent_id) == (
        "5", "call_1", "calc", "add", "ok", None, asked.id)
    assert (answer.content, answer.parent_id, answer.id) == ("The sum is 5.", result.id, final.id)
    finished = next(e for e in seen if isinstance(e, ToolCallFinished))
    assert (finished.result.id, finished.outcome) == (result.id, ToolOutcome.OK)
    assert [m.id for m in session.conversation.messages] == [
        user.id, asked.id, result.id, answer.id]


async def test_tools_are_run_round_after_round_until_a_reply_has_none(
    loopback: LoopbackServer
) -> None:
    loopback.script("chat/completions", [
        tool_call_reply([("c1", "add", '{"a": 1, "b": 1}')]),
        tool_call_reply([("c2", "add", '{"a": 2, "b": 2}')], content="Now double it."),
        sse_reply(["4"]),
    ])
    box = Box({"add": add})
    session = session_on(loopback, None, box)  # no store (ask --no-save): the same loop
    final = await session.send("go")
    assert final.content == "4"
    assert [call for call in box.calls] == [("add", {"a": 1, "b": 1}), ("add", {"a": 2, "b": 2})]
    roles = [m.role for m in session.conversation.messages]
    assert roles == [Role.USER, Role.ASSISTANT, Role.TOOL, Role.ASSISTANT, Role.TOOL,
                     Role.ASSISTANT]
    third = loopback.requests[2].json["messages"]
    assert [(m["role"], m.get("tool_call_id")) for m in third[1:]] == [
        ("assistant", None), ("tool", "c1"), ("assistant", None), ("tool", "c2")]
    assert third[3]["content"] == "Now double it."


@pytest.mark.parametrize("name,tools,calls", [
    ("openai_toolcall_stream.sse", ["get_weather"],
     [("call_4XzlGBLtUe9dy3GVNV4jhq7h", "get_weather", {"city": "New York City"})]),
    ("openai_parallel_toolcalls_stream.sse", ["GetWeatherArgs", "get_stock_price"],
     [("call_JMW1whyEaYG438VE1OIflxA2", "GetWeatherArgs",
       {"city": "Edinburgh", "country": "GB", "units": "c"}),
      ("call_DNYTawLBoN8fj3KN6qU9N1Ou", "get_stock_price",
       {"ticker": "AAPL", "exchange": "NASDAQ"})]),
])
async def test_recorded_tool_call_streams_run_their_calls(
    loopback: LoopbackServer, store: Store, shared_fixtures: Path, name: str,
    tools: list[str], calls: list[tuple[str, str, dict[str, Any]]]
) -> None:
    recorded = (shared_fixtures / "sse" / name).read_bytes()
    loopback.script("chat/completions", [stream_reply([recorded]), sse_reply(["Done."])])
    box = Box({tool: echo for tool in tools}, server="web")
    session = session_on(loopback, store, box)
    seen: list[SessionEvent] = []
    final = await session.send("weather?", seen.append)
    assert final.content == "Done."
    assert sorted(box.calls, key=lambda c: c[0]) == sorted(
        [(tool, args) for _, tool, args in calls], key=lambda c: c[0])
    started = [e for e in seen if isinstance(e, ToolCallStarted)]
    assert [(e.index, e.call.id) for e in started] == [
        (i, call_id) for i, (call_id, _, _) in enumerate(calls)]
    sent = loopback.requests[1].json["messages"]
    results = {m["tool_call_id"]: m["content"] for m in sent if m["role"] == "tool"}
    assert results == {call_id: json.dumps(args, sort_keys=True)
                       for call_id, _, args in calls}
    path = saved_path(session.conversation.id)
    assert [m.role for m in path] == [Role.USER, Role.ASSISTANT,
                                      *[Role.TOOL] * len(calls), Role.ASSISTANT]
    assert sorted(m.tool_call_id or "" for m in path if m.role is Role.TOOL) == sorted(
        call_id for call_id, _, _ in calls)
    assert isinstance(seen[0], ReplyStarted)


async def test_a_compare_offers_no_tools(loopback: LoopbackServer, store: Store) -> None:
    loopback.script("chat/completions", [sse_reply(["a"]), sse_reply(["b"])])
    session = session_on(loopback, store, Box({"add": add}))
    turn = session.new_compare("hi", [("test", "m1"), ("test", "m2")])
    await session.compare(turn)
    assert len(loopback.requests) == 2
    assert all("tools" not in request.json for request in loopback.requests)


async def test_tool_rounds_make_the_session_busy(loopback: LoopbackServer) -> None:
    gate = asyncio.Event()

    async def slow(arguments: dict[str, Any]) -> str:
        await gate.wait()
        return "late"

    loopback.script("chat/completions", [tool_call_reply([("c", "slow", "{}")]),
                                         sse_reply(["ok"])])
    session = session_on(loopback, None, Box({"slow": slow}))
    seen: list[SessionEvent] = []
    task = asyncio.create_task(session.send("go", seen.append))
    while not any(isinstance(e, ToolCallStarted) for e in seen):
        await asyncio.sleep(0.01)
    # No reply streams while the tool runs, but the session is not free for another.
    assert session.streaming
    gate.set()
    assert (await task).content == "ok"
    assert not session.streaming


async def test_the_recorded_mistral_tool_call_stream_runs_on_a_mistral_provider(
    loopback: LoopbackServer, store: Store, shared_fixtures: Path
) -> None:
    recorded = (shared_fixtures / "sse" / "mistral_toolcall_stream.sse").read_bytes()
    loopback.script("chat/completions", [stream_reply([recorded]), sse_reply(["v1"])])
    box = Box({"llm_version": echo}, server="meta")
    session = session_on(loopback, store, box, kind="mistral")
    assert (await session.send("which version?")).content == "v1"
    assert box.calls == [("llm_version", {})]
    first, second = (request.json for request in loopback.requests)
    # Mistral takes the same function-tool shape (and no stream_options).
    assert first["tools"] == [box.spec("llm_version").function()]
    assert "stream_options" not in first
    assert second["messages"][-2:] == [
        {"role": "assistant", "content": "", "tool_calls": [
            {"id": "4dI1Jw6NX", "type": "function",
             "function": {"name": "llm_version", "arguments": "{}"}}]},
        {"role": "tool", "content": "{}", "tool_call_id": "4dI1Jw6NX"}]
