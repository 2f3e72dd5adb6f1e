"""The engine's tool loop through the real McpHost (issue 13): the reference
mcp-server-time and the fault server tests/mcp_servers/toolkit.py over stdio, the model
played by the loopback server. Each loop behaviour the in-test ToolBox shows
(test_tool_loop.py, test_tool_approval.py, test_tool_errors.py, test_tool_stop.py) is
shown here once with real servers: a call run and answered, approval, parallel calls, a
tool's error and a server dying mid-call, a long result, Esc during a running call.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import pytest
from loopback import LoopbackServer, sse_reply, tool_call_reply
from mcp_helpers import running_host, spec_of, time_server, toolkit_server
from tool_box import saved_path, session_on, tool_results

from chatterm.conversation import Role
from chatterm.engine.events import SessionEvent, ToolCallFinished, ToolCallStarted
from chatterm.store import Store
from chatterm.toolbox import (
    DECLINED_TEXT,
    STOPPED_TEXT,
    Approval,
    ApprovalRequest,
    Decision,
    ToolOutcome,
)


async def test_mcp_server_time_answers_the_model_s_call(
    loopback: LoopbackServer, store: Store, tmp_path: Path
) -> None:
    async with running_host([time_server("time", approve="auto")], tmp_path / "logs") as host:
        spec = spec_of(host, "time", "get_current_time")
        loopback.script("chat/completions", [
            tool_call_reply([("call_t", spec.name, '{"timezone": "UTC"}')]),
            sse_reply(["It is late."])])
        session = session_on(loopback, store, None)
        session.tools = host
        seen: list[SessionEvent] = []
        assert (await session.send("what time is it?", seen.append)).content == "It is late."
    offered = {t["function"]["name"]: t["function"] for t in loopback.requests[0].json["tools"]}
    assert "timezone" in json.dumps(offered["get_current_time"]["parameters"])
    answer = json.loads(tool_results(loopback, 1)["call_t"])
    assert answer["timezone"] == "UTC" and answer["datetime"][:2] == "20"
    result = next(m for m in saved_path(session.conversation.id) if m.role is Role.TOOL)
    assert (result.provider, result.model, result.finish_reason) == (
        "time", "get_current_time", "ok")
    assert [type(e).__name__ for e in seen if isinstance(e, ToolCallStarted)] == [
        "ToolCallStarted"]


async def test_an_ask_server_s_calls_wait_for_approval_and_a_denial_runs_nothing(
    loopback: LoopbackServer, store: Store, tmp_path: Path
) -> None:
    async with running_host([toolkit_server("kit")], tmp_path / "logs") as host:
        echo = spec_of(host, "kit", "echo")
        loopback.script("chat/completions", [
            tool_call_reply([("c1", echo.name, '{"text": "one"}'),
                             ("c2", echo.name, '{"text": "two"}')]),
            sse_reply(["ok"])])
        session = session_on(loopback, store, None)
        session.tools = host
        asked: list[ApprovalRequest] = []

        async def person(request: ApprovalRequest) -> Approval:
            asked.append(request)
            if request.call_id == "c1":
                return Approval(Decision.ALLOW, '{"text": "edited"}')
            return Approval(Decision.DENY)

        session.approver = person
        await session.send("echo twice")
    assert [(r.spec.label, r.call_id, r.arguments) for r in asked] == [
        ("kit.echo", "c1", '{\n  "text": "one"\n}'), ("kit.echo", "c2", '{\n  "text": "two"\n}')]
    assert tool_results(loopback, 1) == {"c1": "edited", "c2": DECLINED_TEXT}


async def test_errors_a_dying_server_and_a_long_result_go_back_to_the_model(
    loopback: LoopbackServer, store: Store, tmp_path: Path
) -> None:
    servers = [toolkit_server("kit", approve="auto"), toolkit_server("doomed", approve="auto")]
    async with running_host(servers, tmp_path / "logs") as host:
        fail, huge = spec_of(host, "kit", "fail"), spec_of(host, "kit", "huge")
        crash = spec_of(host, "doomed", "crash")
        loopback.script("chat/completions", [
            tool_call_reply([("c1", fail.name, '{"message": "disk on fire"}'),
                             ("c2", crash.name, '{"code": 3}'),
                             ("c3", huge.name, '{"size": 250000}'),
                             ("c4", "no_such_tool", "{}")]),
            sse_reply(["Noted."]), sse_reply(["Still here."])])
        session = session_on(loopback, store, None)
        session.tools = host
        seen: list[SessionEvent] = []
        assert (await session.send("go", seen.append)).content == "Noted."
        outcomes = {e.call.id: e.outcome for e in seen if isinstance(e, ToolCallFinished)}
        assert outcomes == {"c1": ToolOutcome.ERROR, "c2": ToolOutcome.ERROR,
                            "c3": ToolOutcome.OK, "c4": ToolOutcome.UNKNOWN}
        results = tool_results(loopback, 1)
        # The SDK's server words it (without the exception's message); it reaches the model.
        assert results["c1"].startswith("Error executing tool fail")
        assert "doomed" in results["c2"]
        assert results["c3"].endswith(
            "[chatterm cut this tool result: the model gets the first 100,000 of its "
            "250,000 bytes (max_result_bytes)]")
        assert results["c4"].startswith("unknown tool 'no_such_tool'")
        # The session, and the other server, go on.
        assert (await session.send("and?")).content == "Still here."
    stored = {m.tool_call_id: m for m in saved_path(session.conversation.id)
              if m.role is Role.TOOL}
    assert len(stored["c3"].content) == 250_000


async def test_parallel_calls_run_at_once_and_esc_stops_a_running_one(
    loopback: LoopbackServer, store: Store, tmp_path: Path
) -> None:
    async with running_host([toolkit_server("kit", approve="auto")], tmp_path / "logs") as host:
        sleep = spec_of(host, "kit", "sleep")
        loopback.script("chat/completions", [
            tool_call_reply([("c1", sleep.name, '{"seconds": 1}'),
                             ("c2", sleep.name, '{"seconds": 1}')]),
            sse_reply(["rested"]),
            tool_call_reply([("c3", sleep.name, '{"seconds": 60}')])])
        session = session_on(loopback, store, None)
        session.tools = host
        timed: list[tuple[SessionEvent, float]] = []
        await session.send("nap twice", lambda e: timed.append((e, time.monotonic())))
        started = [e.started for e, _ in timed if isinstance(e, ToolCallStarted)]
        finished = [at for e, at in timed if isinstance(e, ToolCallFinished)]
        assert len(started) == 2 and max(finished) - min(started) < 1.8
        assert tool_results(loopback, 1) == {"c1": "slept 1.0 s", "c2": "slept 1.0 s"}

        seen: list[SessionEvent] = []
        task = asyncio.create_task(session.send("nap long", seen.append))
        await until(lambda: any(isinstance(e, ToolCallStarted) for e in seen), "c3 runs")
        begun = time.monotonic()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert time.monotonic() - begun < 30  # stopped, not waited out
    last = saved_path(session.conversation.id)[-1]
    assert (last.role, last.tool_call_id, last.finish_reason, last.content) == (
        Role.TOOL, "c3", "stopped", STOPPED_TEXT)


async def until(condition: Any, what: str) -> None:
    for _ in range(2000):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"never happened: {what}")
