"""SVG snapshot of a chat whose prompts carry attachments (a text file, an image, an image
without dimensions), with two chips waiting above the prompt. Update with
`pytest --snapshot-update`. Ids, times and sizes are pinned; pictures are off (the
placeholder lines are what most terminals show)."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest
from ui_helpers import LOOP_KEY, LOOP_KEY_ENV, make_app, screen_text, wait_until, write_config

from chatterm.attachments import Attachment, PendingAttachment
from chatterm.conversation import Conversation, Message, Role

pytestmark = pytest.mark.slow

SIZE = (100, 30)
FIXED_TIME = 1_600_000_000.0
NOTES = Attachment("notes.md", "text/markdown", 3_500, "1" * 64)
SHOT = Attachment("screenshot.png", "image/png", 1_234_567, "2" * 64, 1920, 1080)
ODD = Attachment("photo.webp", "image/webp", 52_000, "3" * 64)


def conversation() -> Conversation:
    cid = "a77a0000000000000000000000000001"
    chat = Conversation(provider="loop", model="model-a", id=cid, title="What is in these?",
                        created_at=FIXED_TIME, updated_at=FIXED_TIME)
    chat.messages = [
        Message(role=Role.USER, content="Summarise my notes.", id=f"{cid}-u0",
                conversation_id=cid, created_at=FIXED_TIME, attachments=[NOTES]),
        Message(role=Role.ASSISTANT, content="They list three things to do.", id=f"{cid}-a0",
                conversation_id=cid, created_at=FIXED_TIME + 5, provider="loop",
                model="model-a", finish_reason="stop"),
        Message(role=Role.USER, content="", id=f"{cid}-u1", conversation_id=cid,
                created_at=FIXED_TIME + 60, attachments=[SHOT, ODD]),
        Message(role=Role.ASSISTANT, content="A terminal, and a cat.", id=f"{cid}-a1",
                conversation_id=cid, created_at=FIXED_TIME + 65, provider="loop",
                model="model-a", finish_reason="stop"),
    ]
    for parent, child in zip(chat.messages, chat.messages[1:], strict=False):
        child.parent_id = parent.id
    chat.current_id = chat.messages[-1].id
    return chat


def test_a_chat_with_attachments_and_chips(loopback: Any, monkeypatch: pytest.MonkeyPatch,
                                           snap_compare: Any) -> None:
    from chatterm.launch import OpenedConversation
    from chatterm.ui.chat import status_bar

    monkeypatch.setenv(LOOP_KEY_ENV, LOOP_KEY)
    monkeypatch.setenv("CHATTERM_IMAGES", "off")
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    monkeypatch.setattr(status_bar, "clock", lambda: 1000.0)
    write_config(Path(os.environ["CHATTERM_CONFIG"]), loopback.url)
    app = make_app()

    async def run_before(pilot: Any) -> None:
        await wait_until(pilot, lambda: app.chat.query("#prompt"), what="the prompt")
        app.chat.open_conversation(OpenedConversation(conversation()))
        await wait_until(pilot, lambda: "A terminal, and a cat." in screen_text(app),
                         what="the chat")
        tray = app.chat.attachments.tray
        tray.add(PendingAttachment(Attachment("diagram.png", "image/png", 48_000, "4" * 64,
                                              800, 600), b""))
        tray.add(PendingAttachment(Attachment("log.txt", "text/plain", 900, "5" * 64), b""))
        app.chat.prompt.cursor_blink = False
        await wait_until(pilot, lambda: "log.txt" in screen_text(app), what="the chips")
        await wait_until(pilot, lambda: app.chat.query("KeyFooter"), what="the footer")
        await pilot.pause()

    try:
        assert snap_compare(app, terminal_size=SIZE, run_before=run_before)
    finally:
        time.tzset()
        if app.store is not None:
            app.store.close()
