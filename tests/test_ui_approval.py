"""The approval dialog in the real app: what it shows, its keys, edited arguments, the
order of several calls, and closing when the reply it asks for is stopped.

The whole loop (a model's tool call through the engine to a real MCP server) is in
tests/test_ui_tools.py; here the app's approver is asked directly, as the engine asks it.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from ui_helpers import running, screen_text, wait_until, write_config

from chatterm.toolbox import Approval, ApprovalRequest, Decision, ToolSpec
from chatterm.ui.tools.approval import ApprovalDialog, pretty_arguments

# The real app, started for each test: with the app's other tests, out of the fast loop.
pytestmark = pytest.mark.slow

SPEC = ToolSpec("time", "get_current_time", "get_current_time",
                "Get current time in a specific timezone\x1b]0;pwned\x07",
                {"type": "object", "properties": {"timezone": {"type": "string"}}})


@pytest.fixture
def config_file(isolated_env: Path) -> Path:
    return write_config(isolated_env / "config" / "config.toml", "http://127.0.0.1:9/v1")


def request(arguments: Any = None, call_id: str = "call_1") -> ApprovalRequest:
    text = arguments if isinstance(arguments, str) else json.dumps(
        arguments if arguments is not None else {"timezone": "Europe/Paris"})
    return ApprovalRequest(SPEC, call_id, text)


async def ask(app: Any, pilot: Any, req: ApprovalRequest) -> asyncio.Task[Approval]:
    task = asyncio.ensure_future(app.tools.approver(req))
    await wait_until(pilot, lambda: isinstance(app.screen, ApprovalDialog)
                     and app.screen.request is req, what="the approval dialog")
    await pilot.pause()
    return task


async def answer(pilot: Any, task: asyncio.Task[Approval]) -> Approval:
    await wait_until(pilot, task.done, what="the dialog's answer")
    return task.result()


@pytest.mark.parametrize(("key", "decision"), [("y", Decision.ALLOW), ("a", Decision.ALWAYS),
                                               ("n", Decision.DENY), ("escape", Decision.STOP)])
async def test_each_key_gives_its_decision_and_closes_the_dialog(
        config_file: Path, key: str, decision: Decision) -> None:
    async with running() as (app, pilot):
        task = await ask(app, pilot, request())
        await pilot.press(key)
        assert await answer(pilot, task) == Approval(decision)
        await wait_until(pilot, lambda: not isinstance(app.screen, ApprovalDialog),
                         what="the dialog closed")


async def test_the_dialog_shows_server_tool_description_and_arguments_inert(
        config_file: Path) -> None:
    hostile = {"timezone": "Europe/Paris", "note": "\x1b[2J\u202eevil", "n": [1, 2]}
    async with running(size=(120, 40)) as (app, pilot):
        task = await ask(app, pilot, request(hostile))
        text = screen_text(app)
        assert "Run time.get_current_time?" in text
        assert "server: time" in text and "tool: get_current_time" in text
        assert "Get current time in a specific timezone" in text
        assert "\x1b" not in text and "\u202e" not in text and "\x07" not in text
        editor = app.screen.editor.text
        # Every argument, pretty-printed; the controls as JSON escapes of the same value.
        assert json.loads(editor) == hostile
        assert '"note": "\\u001b[2J\\u202eevil"' in editor and "\n  " in editor
        await pilot.press("y")
        # Unchanged arguments come back as None: the engine runs the model's own.
        assert await answer(pilot, task) == Approval(Decision.ALLOW, None)


async def test_edited_arguments_are_returned_to_run_instead(config_file: Path) -> None:
    async with running() as (app, pilot):
        task = await ask(app, pilot, request())
        await pilot.press("e", "f7", *'{"timezone": "Asia/Tokyo"}')
        # Esc in the editor only leaves it (it does not stop the round); then y allows.
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.screen.focused is not app.screen.editor,
                         what="the editor left")
        assert not task.done()
        await pilot.press("y")
        result = await answer(pilot, task)
        assert result.decision is Decision.ALLOW
        assert result.arguments is not None
        assert json.loads(result.arguments) == {"timezone": "Asia/Tokyo"}


@pytest.mark.parametrize(("typed", "line"), [
    ('{"timezone": ', "The arguments are not valid JSON: Expecting value (line 1, column 14)."),
    ("[1, 2]", "The arguments must be a JSON object"),
])
async def test_bad_json_is_one_line_and_allowing_waits_until_it_is_fixed(
        config_file: Path, typed: str, line: str) -> None:
    async with running() as (app, pilot):
        task = await ask(app, pilot, request())
        dialog = app.screen
        await pilot.press("e", "f7", *typed, "tab")
        await wait_until(pilot, lambda: line in dialog.error_text, what="the error line")
        assert len(dialog.error_text.splitlines()) == 1
        await pilot.press("y", "a")
        await pilot.pause()
        assert not task.done() and app.screen is dialog
        assert dialog.query_one("#approval-allow").disabled
        await pilot.press("e", "f7", *'{"timezone": "UTC"}', "tab")
        await wait_until(pilot, lambda: dialog.error_text == "", what="the line gone")
        await pilot.press("a")
        result = await answer(pilot, task)
        assert result.decision is Decision.ALWAYS
        assert json.loads(result.arguments or "") == {"timezone": "UTC"}


async def test_arguments_that_are_not_json_are_shown_inert_and_must_be_fixed(
        config_file: Path) -> None:
    async with running() as (app, pilot):
        task = await ask(app, pilot, request('{"timezone": "\x1b[31mred'))
        dialog = app.screen
        assert "\x1b" not in dialog.editor.text
        assert "not valid JSON" in dialog.error_text
        await pilot.press("n")
        assert (await answer(pilot, task)).decision is Decision.DENY


async def test_calls_asked_together_get_one_dialog_at_a_time_in_order(
        config_file: Path) -> None:
    async with running() as (app, pilot):
        requests = [request({"n": index}, f"call_{index}") for index in range(3)]
        tasks = [asyncio.ensure_future(app.tools.approver(req)) for req in requests]
        answers = ["y", "n", "y"]
        for req, key in zip(requests, answers, strict=True):
            await wait_until(pilot, lambda req=req: isinstance(app.screen, ApprovalDialog)
                             and app.screen.request is req, what=f"dialog for {req.call_id}")
            # Only one dialog is open, under it the chat.
            assert sum(isinstance(s, ApprovalDialog) for s in app.screen_stack) == 1
            await pilot.press(key)
        results = [await answer(pilot, task) for task in tasks]
        assert [r.decision for r in results] == [Decision.ALLOW, Decision.DENY, Decision.ALLOW]


async def test_stopping_the_reply_closes_its_open_dialog(config_file: Path) -> None:
    async with running() as (app, pilot):
        task = await ask(app, pilot, request())
        waiting = asyncio.ensure_future(app.tools.approver(request({"n": 2}, "call_2")))
        task.cancel()  # what Esc in the chat does to the reply awaiting the approver
        await wait_until(pilot, lambda: task.done(), what="the cancel")
        assert task.cancelled()
        # The next call's dialog takes its place (the engine would not ask it; a second
        # chat's reply might).
        await wait_until(pilot, lambda: isinstance(app.screen, ApprovalDialog)
                         and app.screen.request.call_id == "call_2", what="the next dialog")
        waiting.cancel()
        await wait_until(pilot, lambda: not any(isinstance(s, ApprovalDialog)
                                                for s in app.screen_stack),
                         what="every dialog closed")


def test_pretty_arguments_keep_the_value_and_escape_what_is_not_printable() -> None:
    value = {"a": "\x9b\u200f\U0001f600\U000e0001", "b": None}
    shown = pretty_arguments(json.dumps(value))
    assert json.loads(shown) == value
    assert "\\u009b" in shown and "\\u200f" in shown and "\U0001f600" in shown
    assert "\\udb40\\udc01" in shown  # a tag character, outside the BMP: a surrogate pair


@pytest.mark.parametrize("size", [(120, 40), (40, 24), (40, 15)])
async def test_the_dialog_fits_with_its_buttons_in_view(config_file: Path,
                                                        size: tuple[int, int]) -> None:
    long = {"timezone": "Europe/Paris", "note": "x" * 300, "list": list(range(30))}
    async with running(size=size) as (app, pilot):
        task = await ask(app, pilot, request(long))
        text = screen_text(app)
        assert "Run time.get_current_time?" in text
        assert "Allow once" in text and "Always" in text and "Deny" in text
        assert max(len(line) for line in text.splitlines()) <= size[0]
        # The arguments scroll into view in the editor once it has the focus.
        await pilot.press("e")
        await wait_until(pilot, lambda: '"timezone"' in screen_text(app) or
                         "Europe/Paris" in screen_text(app), what="the editor in view")
        await pilot.press("tab", "n")  # out of the editor, where n is a letter
        assert (await answer(pilot, task)).decision is Decision.DENY


async def test_hostile_nesting_is_one_line_and_an_emptied_editor_means_no_arguments(
        config_file: Path) -> None:
    async with running() as (app, pilot):
        task = await ask(app, pilot, request("[" * 5000 + "]" * 5000))
        dialog = app.screen
        assert "nested too deeply" in dialog.error_text
        assert len(dialog.error_text.splitlines()) == 1
        # Cleared: no arguments at all, as the engine reads "" (a tool without parameters).
        await pilot.press("e", "f7", "backspace", "tab", "y")
        result = await answer(pilot, task)
        assert result.decision is Decision.ALLOW and json.loads(result.arguments or "") == {}


async def test_the_tools_panel_without_servers_says_how_to_add_one(config_file: Path) -> None:
    from chatterm.ui.tools.panel import ToolsPanel

    async with running(size=(120, 40)) as (app, pilot):
        assert app.tools.host is None  # nothing configured: no host, no SDK
        await app.run_action("show_tools")
        await wait_until(pilot, lambda: isinstance(app.screen, ToolsPanel), what="the panel")
        await pilot.pause()
        text = " ".join(screen_text(app).split())
        assert "No MCP servers are configured" in text and "[mcp.servers.NAME]" in text
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, ToolsPanel),
                         what="the panel closed")


@pytest.mark.parametrize("width", [120, 40])
async def test_the_footer_lists_the_dialog_s_keys_not_the_chat_s(
        config_file: Path, width: int) -> None:
    """qa13 F8: under the dialog, the chat's footer kept offering ^n New, ^r Retry, f8
    Delete…, which do nothing while it is open."""
    chat_only = ("New", "Retry", "Delete", "Model", "Chats")

    def footer() -> str:
        return " ".join(screen_text(app).splitlines()[-2:])

    async with running(size=(width, 30)) as (app, pilot):
        await wait_until(pilot, lambda: any(key in footer() for key in chat_only),
                         what="the chat's footer")
        task = await ask(app, pilot, request())
        await wait_until(pilot, lambda: "Allow once" in footer(), what="the dialog's footer")
        assert "y Allow once" in footer() and "n Deny" in footer()
        assert not any(key in footer() for key in chat_only), footer()
        await pilot.press("n")
        assert await answer(pilot, task) == Approval(Decision.DENY)
        await wait_until(pilot, lambda: any(key in footer() for key in chat_only),
                         what="the chat's footer back")
