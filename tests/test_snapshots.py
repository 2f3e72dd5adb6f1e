"""SVG snapshots of the main screens (pytest-textual-snapshot).

Everything that varies is pinned: conversation ids and timestamps are fixed, the status
line's clock is frozen (no live tokens/s figure), the time zone is UTC, the prompt's
cursor does not blink, and a mid-stream frame is taken while the loopback server holds
the rest of the reply on a threading.Event. Update with `pytest --snapshot-update`.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from loopback import json_reply, sse_reply
from ui_helpers import LOOP_KEY, LOOP_KEY_ENV, make_app, screen_text, wait_until, write_config

from chatterm.conversation import Conversation, Message, Role, Usage
from chatterm.launch import LaunchOptions
from chatterm.store import Store

pytestmark = pytest.mark.slow

CHAT = "chat/completions"
SIZE = (100, 30)
# 2020-09-13 12:26:40 UTC: old enough that lists print a date, never "x min ago".
FIXED_TIME = 1_600_000_000.0

CODE_REPLY = (
    "Here is a function:\n\n"
    "```python\n"
    "def greet(name: str) -> str:\n"
    '    return f"Hello, {name}!"\n'
    "```\n\n"
    "It works like this:\n\n"
    "- takes a **name**\n"
    "- returns a greeting\n"
)


@pytest.fixture
def server(loopback: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    from chatterm.ui.chat import status_bar

    monkeypatch.setenv(LOOP_KEY_ENV, LOOP_KEY)
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    monkeypatch.setattr(status_bar, "clock", lambda: 1000.0)
    write_config(Path(os.environ["CHATTERM_CONFIG"]), loopback.url)
    yield loopback
    time.tzset()


def fixed_conversation(conversation_id: str, title: str, exchanges: list[tuple[str, str]],
                       *, model: str = "model-a") -> Conversation:
    conversation = Conversation(provider="loop", model=model, id=conversation_id, title=title,
                                created_at=FIXED_TIME, updated_at=FIXED_TIME)
    for index, (prompt, reply) in enumerate(exchanges):
        at = FIXED_TIME + index * 60
        conversation.messages.append(Message(
            role=Role.USER, content=prompt, id=f"{conversation_id}-u{index}",
            conversation_id=conversation_id, created_at=at))
        conversation.messages.append(Message(
            role=Role.ASSISTANT, content=reply, id=f"{conversation_id}-a{index}",
            conversation_id=conversation_id, created_at=at + 5, provider="loop", model=model,
            finish_reason="stop",
            usage=Usage(prompt_tokens=12, completion_tokens=34, cost=0.00021)))
    return conversation


def store_conversations(*conversations: Conversation) -> None:
    with Store.open() as store:
        for conversation in conversations:
            store.create_conversation(conversation)


def snapshot_app(options: LaunchOptions | None = None, new_id: str | None = None) -> Any:
    app = make_app(options)
    if new_id is not None:
        app.state.opened.conversation.id = new_id
    return app


async def quiet(pilot: Any) -> None:
    """No blinking cursor in the frame."""
    # The snapshot's pilot starts as soon as the app is mounted, which can be before
    # the chat screen (the app's base screen) has composed its widgets.
    await wait_until(pilot, lambda: pilot.app.chat.query("#prompt"), what="the prompt")
    await still(pilot)


async def still(pilot: Any) -> None:
    """No blinking cursor in any text box of the screen on top (a picker's, the sidebar's).

    A box that gets the focus starts blinking; under load the capture could land on the
    half second its cursor is hidden. Turning the blink off shows the cursor steadily.
    """
    for box in pilot.app.screen.query("Input, TextArea"):
        box.cursor_blink = False
    await pilot.pause()


def test_main_screen_mid_stream(server: Any, snap_compare: Any) -> None:
    conversation = fixed_conversation(
        "5a7e0000000000000000000000000001", "Rust or Go?",
        [("Which is faster to learn, Rust or Go?",
          "**Go** is usually quicker to pick up: a small language and a simple toolchain.")],
    )
    store_conversations(conversation)
    hold = threading.Event()
    server.script(CHAT, sse_reply(["Rust takes longer, ", "but its compiler teaches you."],
                                  hold=hold, model="model-a"))
    app = snapshot_app(LaunchOptions(resume_id=conversation.id))

    async def run_before(pilot: Any) -> None:
        await quiet(pilot)
        # The chat's running total is read after it opens (ui/chat/usage_total.py).
        await wait_until(pilot, lambda: app.chat.status.total, what="the running total")
        app.chat.prompt.insert("And Rust?")
        await pilot.press("enter")
        await wait_until(pilot, lambda: "Rust takes longer" in screen_text(app),
                         what="the first token")
        await pilot.pause(0.1)

    try:
        assert snap_compare(app, terminal_size=SIZE, run_before=run_before)
    finally:
        hold.set()
        app.store.close()


def test_finished_reply_with_code(server: Any, snap_compare: Any) -> None:
    server.script(CHAT, sse_reply([CODE_REPLY[:40], CODE_REPLY[40:]], model="model-a",
                                  usage={"prompt_tokens": 9, "completion_tokens": 48}))
    app = snapshot_app(new_id="c0de0000000000000000000000000002")

    async def run_before(pilot: Any) -> None:
        await quiet(pilot)
        app.chat.prompt.insert("Write a greeting function in Python")
        await pilot.press("enter")
        await wait_until(pilot, lambda: not app.chat.busy, what="the reply to end")
        await wait_until(pilot, lambda: "returns a greeting" in screen_text(app),
                         what="the last line")
        await wait_until(pilot, lambda: app.chat.status.total == "Σ 57 tok",
                         what="the running total")

    try:
        assert snap_compare(app, terminal_size=SIZE, run_before=run_before)
    finally:
        app.store.close()


def test_model_picker(server: Any, snap_compare: Any) -> None:
    server.always("models", json_reply({"object": "list", "data": [
        {"id": model, "object": "model"}
        for model in ("model-a", "model-b", "llama-3.3-70b", "qwen3-32b", "gpt-oss-120b")]}))
    app = snapshot_app(new_id="9c4e0000000000000000000000000003")

    async def run_before(pilot: Any) -> None:
        await quiet(pilot)
        await pilot.press("ctrl+o")
        await wait_until(pilot, lambda: "live list loaded" in screen_text(app),
                         what="the live model list")
        await still(pilot)

    try:
        assert snap_compare(app, terminal_size=SIZE, run_before=run_before)
    finally:
        app.store.close()


def test_sidebar_with_search_hits(server: Any, snap_compare: Any) -> None:
    store_conversations(
        fixed_conversation("5b1d0000000000000000000000000004", "Sourdough starter",
                           [("How do I feed a sourdough starter?",
                             "Feed it equal weights of flour and water every day.")]),
        fixed_conversation("5b1d0000000000000000000000000005", "Bread hydration",
                           [("What hydration for a rustic loaf?",
                             "Around 75% hydration gives an open crumb; sourdough likes it.")]),
        fixed_conversation("5b1d0000000000000000000000000006", "Tax forms",
                           [("Which form for freelance income?", "That depends on where.")]),
    )
    app = snapshot_app(new_id="5b1d0000000000000000000000000007")

    async def run_before(pilot: Any) -> None:
        await quiet(pilot)
        await pilot.press("ctrl+f")
        await wait_until(pilot, lambda: app.chat.sidebar is not None, what="the sidebar")
        sidebar = app.chat.sidebar
        await wait_until(pilot, lambda: app.focused is sidebar.query_one("#sidebar-search"),
                         what="the search box")
        for key in "sourdough":
            await pilot.press(key)
        await wait_until(pilot, lambda: sidebar.is_searching and sidebar.hit_count >= 2,
                         what="search hits")
        await pilot.pause(0.1)
        await still(pilot)

    try:
        assert snap_compare(app, terminal_size=SIZE, run_before=run_before)
    finally:
        app.store.close()
