"""A tool's failure never ends the session (issue 13): errors, unknown tools and arguments
that are not a JSON object go back to the model as results; max_tool_rounds stops a
model that keeps asking; a long result is cut on the wire, kept whole in the store.

Model side: the loopback server. Tool side: the in-test Box of tests/tool_box.py.
"""

from __future__ import annotations

from typing import Any

from loopback import LoopbackServer, sse_reply, tool_call_reply
from tool_box import Box, add, saved_path, session_on, tool_results

from chatterm.conversation import Role
from chatterm.engine.events import SessionEvent, ToolCallFinished, ToolRoundsExhausted
from chatterm.engine.wire import cap_results
from chatterm.store import Store
from chatterm.toolbox import ServerState, ServerStatus, ToolFilter, ToolOutcome, ToolResult


async def test_a_tool_s_errors_go_back_to_the_model_and_the_chat_goes_on(
    loopback: LoopbackServer, store: Store
) -> None:
    async def late(arguments: dict[str, Any]) -> ToolResult:
        return ToolResult("", ToolOutcome.ERROR, "timed out after 60 s")

    async def failing(arguments: dict[str, Any]) -> ToolResult:
        return ToolResult("no such file: /x", ToolOutcome.ERROR, "the tool reported an error")

    async def broken(arguments: dict[str, Any]) -> str:
        raise RuntimeError("the box\nbroke")

    loopback.script("chat/completions", [
        tool_call_reply([("c1", "late", "{}"), ("c2", "failing", "{}"),
                         ("c3", "broken", "{}")]),
        sse_reply(["Those failed."]), sse_reply(["Next answer."])])
    session = session_on(loopback, store, Box({"late": late, "failing": failing,
                                               "broken": broken}))
    seen: list[SessionEvent] = []
    assert (await session.send("try", seen.append)).content == "Those failed."
    assert tool_results(loopback, 1) == {
        "c1": "error: timed out after 60 s", "c2": "no such file: /x",
        "c3": "error: RuntimeError: the box broke"}
    assert {e.call.id: e.outcome for e in seen if isinstance(e, ToolCallFinished)} == {
        "c1": ToolOutcome.ERROR, "c2": ToolOutcome.ERROR, "c3": ToolOutcome.ERROR}
    saved = {m.tool_call_id: (m.finish_reason, m.error)
             for m in saved_path(session.conversation.id) if m.role is Role.TOOL}
    assert saved == {"c1": ("error", "timed out after 60 s"),
                     "c2": ("error", "the tool reported an error"),
                     "c3": ("error", "RuntimeError: the box broke")}
    assert (await session.send("and now?")).content == "Next answer."


async def test_unknown_tools_switched_off_tools_and_bad_arguments_are_told_to_the_model(
    loopback: LoopbackServer, store: Store
) -> None:
    loopback.script("chat/completions", [
        tool_call_reply([("c1", "nope", "{}"), ("c2", "add", '{"a": 1, "b": 2}'),
                         ("c3", "echo", '"just text"'), ("c4", "echo", '{"x": ')]),
        sse_reply(["I see."])])

    async def echo(arguments: dict[str, Any]) -> str:
        return "echoed"

    box = Box({"add": add, "echo": echo})
    session = session_on(loopback, store, box)
    session.tool_filter = ToolFilter(off_tools=frozenset({"calc.add"}))
    seen: list[SessionEvent] = []
    assert (await session.send("go", seen.append)).content == "I see."
    assert [t["function"]["name"] for t in loopback.requests[0].json["tools"]] == ["echo"]
    assert box.calls == []
    results = tool_results(loopback, 1)
    assert results["c1"].startswith("unknown tool 'nope': no tool of that name is available")
    assert "(available: echo)" in results["c1"]
    assert results["c2"].startswith("unknown tool 'add'")
    assert "still starting" not in results["c1"]
    assert "not a JSON object" in results["c3"] and "not a JSON object" in results["c4"]
    assert {e.outcome for e in seen if isinstance(e, ToolCallFinished)} == {ToolOutcome.UNKNOWN}
    unknown = next(m for m in saved_path(session.conversation.id) if m.tool_call_id == "c1")
    assert (unknown.finish_reason, unknown.provider, unknown.model) == ("unknown", None, "nope")


async def test_an_unknown_tool_s_result_names_the_servers_still_starting(
    loopback: LoopbackServer
) -> None:
    loopback.script("chat/completions", [tool_call_reply([("c1", "get_time", "{}")]),
                                         sse_reply(["later then"])])
    box = Box({"add": add})
    box.starting = [ServerStatus("time", ServerState.STARTING)]
    session = session_on(loopback, None, box)
    await session.send("time?")
    assert tool_results(loopback, 1)["c1"] == (
        "unknown tool 'get_time': no tool of that name is available (available: add; "
        "still starting: time)")


async def test_a_model_that_keeps_asking_is_stopped_after_max_tool_rounds(
    loopback: LoopbackServer, store: Store
) -> None:
    # The default is 10 rounds: the 11th reply still asks, and its calls do not run.
    loopback.script("chat/completions", [
        tool_call_reply([(f"c{n}", "add", '{"a": 1, "b": 1}')]) for n in range(11)])
    box = Box({"add": add})
    session = session_on(loopback, store, box)
    seen: list[SessionEvent] = []
    last = await session.send("loop", seen.append)
    assert len(loopback.requests) == 11 and len(box.calls) == 10
    exhausted = [e for e in seen if isinstance(e, ToolRoundsExhausted)]
    assert [(e.reply.id, e.limit) for e in exhausted] == [(last.id, 10)]
    assert exhausted[0].line == ("stopped after 10 tool rounds (max_tool_rounds in [mcp]): "
                                 "the last reply's tool calls were not run")
    path = saved_path(session.conversation.id)
    assert path[-1].id == last.id and [c.id for c in last.tool_calls] == ["c10"]
    # The next prompt carries the unrun calls answered as not run, and goes on.
    loopback.script("chat/completions", sse_reply(["ok"]))
    assert (await session.send("enough")).content == "ok"
    assert tool_results(loopback, 11)["c10"].startswith("not run:")


async def test_a_long_result_is_cut_for_the_model_and_kept_whole(
    loopback: LoopbackServer, store: Store
) -> None:
    whole = "€" * 40_000  # 120,000 bytes of 3-byte characters

    async def big(arguments: dict[str, Any]) -> str:
        return whole

    loopback.script("chat/completions", [tool_call_reply([("c1", "big", "{}")]),
                                         sse_reply(["long"])])
    session = session_on(loopback, store, Box({"big": big}))
    await session.send("go")
    sent = tool_results(loopback, 1)["c1"]
    # Cut on a character boundary: 33,333 whole characters are 99,999 bytes.
    assert sent.startswith("€" * 33_333) and not sent.startswith("€" * 33_334)
    assert sent.endswith("[chatterm cut this tool result: the model gets the first 99,999 "
                         "of its 120,000 bytes (max_result_bytes)]")
    stored = next(m for m in saved_path(session.conversation.id) if m.role is Role.TOOL)
    assert stored.content == whole


async def test_the_mcp_table_sets_the_rounds_and_the_cap(
    loopback: LoopbackServer, store: Store
) -> None:
    async def long(arguments: dict[str, Any]) -> str:
        return "abcdefghij" * 100 + "klmnop"

    loopback.script("chat/completions", [tool_call_reply([("c1", "long", "{}")]),
                                         tool_call_reply([("c2", "long", "{}")])])
    box = Box({"long": long})
    session = session_on(loopback, store, box,
                         extra="[mcp]\nmax_tool_rounds = 1\nmax_result_bytes = 1000\n")
    seen: list[SessionEvent] = []
    last = await session.send("go", seen.append)
    assert len(loopback.requests) == 2 and len(box.calls) == 1
    assert [e.line for e in seen if isinstance(e, ToolRoundsExhausted)] == [
        "stopped after 1 tool round (max_tool_rounds in [mcp]): the last reply's tool calls "
        "were not run"]
    assert [c.id for c in last.tool_calls] == ["c2"]
    assert tool_results(loopback, 1)["c1"] == "abcdefghij" * 100 + (
        "\n\n[chatterm cut this tool result: the model gets the first 1,000 of its "
        "1,006 bytes (max_result_bytes)]")


def test_the_cap_leaves_short_results_and_other_messages_alone() -> None:
    wire = [{"role": "user", "content": "x" * 500},
            {"role": "tool", "content": "é" * 5, "tool_call_id": "a"},
            {"role": "tool", "content": "é" * 6, "tool_call_id": "b"}]
    capped = cap_results(wire, 10)
    assert capped[:2] == wire[:2]
    assert capped[2]["content"].startswith("é" * 5 + "\n\n[chatterm cut")
    assert "first 10 of its 12 bytes" in capped[2]["content"]
    assert wire[2]["content"] == "é" * 6  # the history itself is not changed
