"""The status line in a narrow terminal (qa13 F5): while something happens, what happens
keeps the width ("waiting for approval: calc.slow", "running calc.slow (3 s)") and the
model label, which does not change, gives way first; idle, the label is back.

The real app at 40 columns: the loopback model asks for a call, an in-test ToolBox
(tests/tool_box.py, our own seam) runs it, the real engine between.
"""

from __future__ import annotations

import asyncio
import os
import re
from pathlib import Path
from typing import Any

import pytest
from loopback import sse_reply, tool_call_reply
from tool_box import Box
from ui_helpers import LOOP_KEY, LOOP_KEY_ENV, running, screen_text, wait_until, write_config

from chatterm.toolbox import Approval, ApprovalRequest, Decision, ToolResult

pytestmark = pytest.mark.slow

CHAT = "chat/completions"
LONG_TOOL = "look_up_every_time_zone_of_the_world"


def status_row(app: Any) -> str:
    """The status line as drawn on screen (the row above the footer's rows)."""
    region = app.chat.status.region
    return screen_text(app).splitlines()[region.y]


async def test_at_40_columns_the_tool_s_state_wins_over_the_model_label(
        loopback: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(LOOP_KEY_ENV, LOOP_KEY)
    write_config(Path(os.environ["CHATTERM_CONFIG"]), loopback.url)
    answer: asyncio.Future[Approval] | None = None
    gate, long_gate = asyncio.Event(), asyncio.Event()

    async def approver(request: ApprovalRequest) -> Approval:
        nonlocal answer
        answer = asyncio.get_running_loop().create_future()
        return await answer

    async def slow(arguments: dict[str, Any]) -> ToolResult:
        await gate.wait()
        return ToolResult("done")

    async def long(arguments: dict[str, Any]) -> ToolResult:
        await long_gate.wait()
        return ToolResult("done")

    box = Box({"slow": slow, LONG_TOOL: long}, server="calc", ask=["slow"])
    loopback.script(CHAT, tool_call_reply([("call_1", "slow", '{"x": "1"}')]))
    loopback.script(CHAT, tool_call_reply([("call_2", LONG_TOOL, '{"x": "2"}')]))
    loopback.script(CHAT, sse_reply(["All done."]))
    async with running(size=(40, 30)) as (app, pilot):
        session = app.chat.replies.engine()
        session.tools, session.approver = box, approver
        await wait_until(pilot, lambda: "loop · model-a" in status_row(app), what="the label")
        app.chat.prompt.insert("go slow")
        await pilot.press("enter")

        await wait_until(pilot, lambda: answer is not None, what="the approval asked")
        await wait_until(pilot, lambda: "waiting for approval: calc.slow" in status_row(app),
                         what="the whole waiting line")
        assert "model-a" not in status_row(app)

        assert answer is not None
        answer.set_result(Approval(Decision.ALLOW))
        ticking = re.compile(r"running calc\.slow \([0-9]+ s\)  Esc stops")
        await wait_until(pilot, lambda: ticking.search(status_row(app)),
                         what="the running line with its seconds and Esc stops")
        assert "model-a" not in status_row(app)

        # A name too long for the line is cut, the seconds stay.
        gate.set()
        cut = re.compile(r"running calc\.look_up_every\S*… \([0-9]+ s\)")
        await wait_until(pilot, lambda: cut.search(status_row(app)),
                         what="the long name cut before its seconds")
        assert len(status_row(app)) <= 40
        long_gate.set()

        await wait_until(pilot, lambda: not app.chat.busy, what="the reply to end")
        await wait_until(pilot, lambda: "loop · model-a" in status_row(app),
                         what="the label back once idle")


async def test_at_120_columns_the_label_stays_beside_the_tool_s_state(
        loopback: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(LOOP_KEY_ENV, LOOP_KEY)
    write_config(Path(os.environ["CHATTERM_CONFIG"]), loopback.url)
    gate = asyncio.Event()

    async def slow(arguments: dict[str, Any]) -> ToolResult:
        await gate.wait()
        return ToolResult("done")

    box = Box({"slow": slow}, server="calc")
    loopback.script(CHAT, tool_call_reply([("call_1", "slow", '{"x": "1"}')]))
    loopback.script(CHAT, sse_reply(["All done."]))
    async with running(size=(120, 30)) as (app, pilot):
        session = app.chat.replies.engine()
        session.tools = box
        app.chat.prompt.insert("go slow")
        await pilot.press("enter")
        ticking = re.compile(r"running calc\.slow \([0-9]+ s\)  Esc stops.*loop · model-a")
        await wait_until(pilot, lambda: ticking.search(status_row(app)),
                         what="the running line and the label")
        # Narrowed while it runs: the label goes, the state stays whole.
        await pilot.resize_terminal(40, 30)
        await wait_until(pilot, lambda: "model-a" not in status_row(app)
                         and re.search(r"running calc\.slow \([0-9]+ s\)", status_row(app)),
                         what="the label gone at 40 columns")
        gate.set()
        await wait_until(pilot, lambda: not app.chat.busy, what="the reply to end")
