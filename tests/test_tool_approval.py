"""Approval in the engine's tool loop (issue 13): the approver is asked for "ask" tools,
with the arguments pretty-printed; allow, always, deny, stop; no approver declines;
edited arguments run and are saved; the calls of one reply run at once.

Model side: the loopback server. Tool side: the in-test Box of tests/tool_box.py.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from loopback import LoopbackServer, sse_reply, tool_call_reply
from tool_box import Box, add, echo, saved_path, session_on, tool_results

from chatterm.conversation import Role
from chatterm.engine.events import (
    SessionEvent,
    ToolCallFinished,
    ToolCallPending,
    ToolCallStarted,
)
from chatterm.errors import ConfigError
from chatterm.store import Store
from chatterm.toolbox import (
    DECLINED_TEXT,
    STOPPED_TEXT,
    Approval,
    ApprovalRequest,
    Decision,
    ToolOutcome,
    ToolSpec,
)


class Person:
    """An Approver that answers from a list and records what it was shown."""

    def __init__(self, *answers: Approval) -> None:
        self.answers = list(answers)
        self.asked: list[ApprovalRequest] = []

    async def __call__(self, request: ApprovalRequest) -> Approval:
        self.asked.append(request)
        return self.answers.pop(0)


async def test_an_ask_tool_waits_for_the_approver_with_the_arguments_pretty_printed(
    loopback: LoopbackServer, store: Store
) -> None:
    loopback.script("chat/completions", [
        tool_call_reply([("c1", "add", '{"a":2,"b":3}')]), sse_reply(["5"])])
    box = Box({"add": add}, ask={"add"})
    session = session_on(loopback, store, box)
    session.approver = person = Person(Approval(Decision.ALLOW))
    seen: list[SessionEvent] = []
    assert (await session.send("2+3", seen.append)).content == "5"
    assert person.asked == [ApprovalRequest(box.spec("add"), "c1", '{\n  "a": 2,\n  "b": 3\n}')]
    pending = next(e for e in seen if isinstance(e, ToolCallPending))
    assert pending.needs_approval
    assert box.calls == [("add", {"a": 2, "b": 3})]
    assert tool_results(loopback, 1) == {"c1": "5"}


async def test_always_allows_the_tool_from_then_on(loopback: LoopbackServer) -> None:
    loopback.script("chat/completions", [
        tool_call_reply([("c1", "add", '{"a": 1, "b": 1}')]),
        tool_call_reply([("c2", "add", '{"a": 2, "b": 2}')]),
        sse_reply(["done"])])
    box = Box({"add": add}, ask={"add"})
    session = session_on(loopback, None, box)
    session.approver = person = Person(Approval(Decision.ALWAYS))
    assert (await session.send("go")).content == "done"
    assert box.always == ["calc.add"]
    assert len(person.asked) == 1  # the second round's call was not asked about
    assert [args for _, args in box.calls] == [{"a": 1, "b": 1}, {"a": 2, "b": 2}]


async def test_a_denied_call_tells_the_model_the_user_declined(
    loopback: LoopbackServer, store: Store
) -> None:
    loopback.script("chat/completions", [
        tool_call_reply([("c1", "add", '{"a": 1, "b": 1}')]), sse_reply(["ok, not then"])])
    box = Box({"add": add}, ask={"add"})
    session = session_on(loopback, store, box)
    session.approver = Person(Approval(Decision.DENY))
    seen: list[SessionEvent] = []
    assert (await session.send("go", seen.append)).content == "ok, not then"
    assert box.calls == []
    assert tool_results(loopback, 1) == {"c1": DECLINED_TEXT}
    finished = [e for e in seen if isinstance(e, ToolCallFinished)]
    assert [e.outcome for e in finished] == [ToolOutcome.DECLINED]
    result = saved_path(session.conversation.id)[2]
    assert (result.role, result.finish_reason, result.content) == (
        Role.TOOL, "declined", DECLINED_TEXT)
    assert "ToolCallStarted" not in [type(e).__name__ for e in seen]


async def test_without_an_approver_an_ask_call_is_declined_and_an_auto_one_runs(
    loopback: LoopbackServer
) -> None:
    loopback.script("chat/completions", [
        tool_call_reply([("c1", "add", '{"a": 1, "b": 1}'), ("c2", "echo", '{"x": "hi"}')]),
        sse_reply(["fine"])])
    box = Box({"add": add, "echo": echo}, ask={"add"})
    session = session_on(loopback, None, box)
    assert (await session.send("go")).content == "fine"
    assert box.calls == [("echo", {"x": "hi"})]
    assert tool_results(loopback, 1) == {"c1": DECLINED_TEXT, "c2": '{"x": "hi"}'}


async def test_stop_declines_the_round_stops_what_runs_and_asks_the_model_nothing(
    loopback: LoopbackServer, store: Store
) -> None:
    started = asyncio.Event()

    async def slow(arguments: dict[str, Any]) -> str:
        started.set()
        await asyncio.Event().wait()  # runs until it is stopped
        return "never"

    loopback.script("chat/completions", [tool_call_reply([
        ("c1", "add", '{"a": 1, "b": 1}'), ("c2", "slow", "{}"), ("c3", "add", "{}")])])
    box = Box({"add": add, "slow": slow}, ask={"add"})
    session = session_on(loopback, store, box)

    async def stop_once_slow_runs(request: ApprovalRequest) -> Approval:
        # Bounded: were the auto call not started before the asking, this fails.
        await asyncio.wait_for(started.wait(), 10)
        return Approval(Decision.STOP)

    session.approver = stop_once_slow_runs
    last = await session.send("go")
    # The reply with the calls is the last one: the model was not asked again.
    assert len(loopback.requests) == 1 and [c.id for c in last.tool_calls] == ["c1", "c2", "c3"]
    path = saved_path(session.conversation.id)
    results = {m.tool_call_id: (m.finish_reason, m.content) for m in path if m.role is Role.TOOL}
    assert results == {"c1": ("declined", DECLINED_TEXT), "c2": ("stopped", STOPPED_TEXT),
                       "c3": ("declined", DECLINED_TEXT)}
    assert [m.role for m in path][-1] is Role.TOOL
    assert box.calls == [("slow", {})]
    assert not session.streaming


async def test_edited_arguments_run_and_replace_the_model_s_in_the_saved_reply(
    loopback: LoopbackServer, store: Store
) -> None:
    loopback.script("chat/completions", [
        tool_call_reply([("c1", "add", '{"a": 2, "b": 3}')]), sse_reply(["11"])])
    box = Box({"add": add}, ask={"add"})
    session = session_on(loopback, store, box)
    session.approver = Person(Approval(Decision.ALLOW, '{"a": 10, "b": 1}'))
    assert (await session.send("go")).content == "11"
    assert box.calls == [("add", {"a": 10, "b": 1})]
    asked = saved_path(session.conversation.id)[1]
    assert asked.tool_calls[0].arguments == '{"a": 10, "b": 1}'
    sent = loopback.requests[1].json["messages"]
    assert sent[-2]["tool_calls"][0]["function"]["arguments"] == '{"a": 10, "b": 1}'
    assert tool_results(loopback, 1) == {"c1": "11"}


async def test_edited_arguments_that_are_not_an_object_are_an_unknown_result(
    loopback: LoopbackServer
) -> None:
    loopback.script("chat/completions", [
        tool_call_reply([("c1", "add", '{"a": 2, "b": 3}')]), sse_reply(["hm"])])
    box = Box({"add": add}, ask={"add"})
    session = session_on(loopback, None, box)
    session.approver = Person(Approval(Decision.ALLOW, "[1, 2]"))
    await session.send("go")
    assert box.calls == []
    assert "not a JSON object" in tool_results(loopback, 1)["c1"]


async def test_the_calls_of_one_reply_run_at_the_same_time(loopback: LoopbackServer) -> None:
    # Each call waits until the other one has started too: run one after the other, the
    # first would wait in vain and come back "alone".
    running: set[str] = set()
    both = asyncio.Event()

    async def meet(arguments: dict[str, Any]) -> str:
        running.add(arguments["x"])
        if len(running) == 2:
            both.set()
        try:
            await asyncio.wait_for(both.wait(), 10)
        except TimeoutError:
            return "alone"
        return "together"

    loopback.script("chat/completions", [
        tool_call_reply([("c1", "meet", '{"x": "1"}'), ("c2", "meet", '{"x": "2"}')]),
        sse_reply(["ok"])])
    session = session_on(loopback, None, Box({"meet": meet}))
    await session.send("go")
    assert tool_results(loopback, 1) == {"c1": "together", "c2": "together"}


async def test_approved_calls_run_while_the_next_one_is_being_asked(
    loopback: LoopbackServer
) -> None:
    loopback.script("chat/completions", [
        tool_call_reply([("c1", "add", '{"a": 1, "b": 2}'), ("c2", "echo", '{"x": "y"}')]),
        sse_reply(["ok"])])
    box = Box({"add": add, "echo": echo}, ask={"add", "echo"})
    session = session_on(loopback, None, box)
    seen: list[SessionEvent] = []

    async def approver(request: ApprovalRequest) -> Approval:
        if request.call_id == "c2":
            # The first call, allowed, has run and its result is in while this is asked.
            for _ in range(1000):
                if any(isinstance(e, ToolCallFinished) for e in seen):
                    break
                await asyncio.sleep(0.01)
        return Approval(Decision.ALLOW)

    session.approver = approver
    await session.send("go", seen.append)
    assert tool_results(loopback, 1) == {"c1": "3", "c2": '{"x": "y"}'}


async def test_two_slow_calls_take_about_as_long_as_one(loopback: LoopbackServer) -> None:
    async def nap(arguments: dict[str, Any]) -> str:
        await asyncio.sleep(1.0)
        return "rested"

    loopback.script("chat/completions", [
        tool_call_reply([("c1", "nap", "{}"), ("c2", "nap", "{}")]), sse_reply(["ok"])])
    session = session_on(loopback, None, Box({"nap": nap}))
    seen: list[tuple[SessionEvent, float]] = []
    await session.send("go", lambda event: seen.append((event, time.monotonic())))
    started = [e.started for e, _ in seen if isinstance(e, ToolCallStarted)]
    finished = [at for e, at in seen if isinstance(e, ToolCallFinished)]
    # One after the other they would take 2 s; at once, 1 s and the saves.
    assert len(started) == 2 and max(finished) - min(started) < 1.8


async def test_always_that_cannot_be_saved_still_runs_the_call_and_says_why(
    loopback: LoopbackServer
) -> None:
    class ReadOnlyConfig(Box):
        def allow_always(self, spec: ToolSpec) -> None:
            super().allow_always(spec)  # allowed for this run, as the host does
            raise ConfigError("/x/config.toml: could not save always_allow: read-only")

    loopback.script("chat/completions", [
        tool_call_reply([("c1", "add", '{"a": 1, "b": 1}')]), sse_reply(["2"])])
    box = ReadOnlyConfig({"add": add}, ask={"add"})
    session = session_on(loopback, None, box)
    session.approver = Person(Approval(Decision.ALWAYS))
    seen: list[SessionEvent] = []
    assert (await session.send("go", seen.append)).content == "2"
    started = [e for e in seen if isinstance(e, ToolCallStarted)]
    assert [e.warning for e in started] == [
        "/x/config.toml: could not save always_allow: read-only"]
    assert box.calls == [("add", {"a": 1, "b": 1})]


async def test_an_approver_that_fails_declines_the_call_and_the_chat_goes_on(
    loopback: LoopbackServer
) -> None:
    async def broken(request: ApprovalRequest) -> Approval:
        raise RuntimeError("no dialog")

    loopback.script("chat/completions", [
        tool_call_reply([("c1", "add", '{"a": 1, "b": 1}')]), sse_reply(["fine"])])
    box = Box({"add": add}, ask={"add"})
    session = session_on(loopback, None, box)
    session.approver = broken
    seen: list[SessionEvent] = []
    assert (await session.send("go", seen.append)).content == "fine"
    assert box.calls == []
    finished = [e for e in seen if isinstance(e, ToolCallFinished)]
    assert [(e.outcome, e.result.error) for e in finished] == [
        (ToolOutcome.DECLINED, "could not ask for approval: RuntimeError: no dialog")]
