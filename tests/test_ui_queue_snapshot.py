"""SVG snapshots of a held prompt queue (ui/chat/queue_view.py): a reply stopped by Esc
with two prompts queued behind it, one too long for its row, at 100 and 40 columns.
The reply waits on a threading.Event, so the frame is the same every run; the status
line's clock is frozen. Update with `pytest --snapshot-update`."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from loopback import sse_reply
from ui_helpers import LOOP_KEY, LOOP_KEY_ENV, make_app, screen_text, wait_until, write_config

pytestmark = pytest.mark.slow

CHAT = "chat/completions"
LONG = ("Then compare both with Zig, and say which of the three has the gentlest learning "
        "curve for someone coming from Python")


@pytest.mark.parametrize("size", [(100, 30), (40, 30)], ids=["100-columns", "40-columns"])
def test_a_held_queue(loopback: Any, monkeypatch: pytest.MonkeyPatch, snap_compare: Any,
                      size: tuple[int, int]) -> None:
    from chatterm.ui.chat import status_bar

    monkeypatch.setenv(LOOP_KEY_ENV, LOOP_KEY)
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    monkeypatch.setattr(status_bar, "clock", lambda: 1000.0)
    write_config(Path(os.environ["CHATTERM_CONFIG"]), loopback.url)
    hold = threading.Event()
    loopback.script(CHAT, sse_reply(["Go is quicker ", "to learn."], hold=hold))
    app = make_app()
    app.state.opened.conversation.id = "9e0e0000000000000000000000000001"

    async def run_before(pilot: Any) -> None:
        await wait_until(pilot, lambda: app.chat.query("#prompt"), what="the prompt")
        chat = app.chat
        chat.prompt.cursor_blink = False
        for text in ("Rust or Go?", "And Rust?", LONG):
            chat.prompt.insert(text)
            await pilot.press("enter")
            await wait_until(pilot, lambda: chat.busy, what="the reply")
        await wait_until(pilot, lambda: "Go is quicker" in screen_text(app),
                         what="the first words")
        await pilot.press("escape")
        await wait_until(pilot, lambda: not chat.busy and chat.queue.held, what="held")
        await wait_until(pilot, lambda: app.chat.query("KeyFooter"), what="the footer")
        chat.prompt.cursor_blink = False
        await pilot.pause()

    try:
        assert snap_compare(app, terminal_size=size, run_before=run_before)
    finally:
        hold.set()
        time.tzset()
