"""The app changes a conversation only through the engine, and a slow store write never
freezes it (issue 11): Pilot runs of the real app against the loopback server."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
from ui_helpers import running, screen_text, wait_until

from chatterm.conversation import Conversation, Message, Role
from chatterm.errors import StoreError
from chatterm.launch import LaunchOptions
from chatterm.store import Store

pytestmark = pytest.mark.slow  # whole-app Pilot runs, as test_ui_chat.py


def seed(title: str) -> str:
    conversation = Conversation(provider="loop", model="model-a", title=title)
    conversation.messages = [
        Message(role=Role.USER, content="hello", conversation_id=conversation.id),
        Message(role=Role.ASSISTANT, content="hi", conversation_id=conversation.id,
                provider="loop", model="model-a"),
    ]
    with Store.open() as store:
        store.create_conversation(conversation)
    return conversation.id


def saved_title(conversation_id: str) -> str:
    with Store.open() as store:
        return store.get_conversation(conversation_id).title


async def test_the_app_takes_keys_while_a_rename_waits_on_the_disk(
    server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chatterm.ui.dialogs.text_prompt import TextPrompt

    conversation_id = seed("before")
    async with running(LaunchOptions(resume_id=conversation_id)) as (app, pilot):
        entered, release, landed = threading.Event(), threading.Event(), threading.Event()
        real = app.store.update_conversation

        def slow_update(conversation: Conversation) -> None:
            entered.set()
            release.wait(timeout=5)  # bounded: on a frozen loop nobody releases it
            real(conversation)
            landed.set()

        monkeypatch.setattr(app.store, "update_conversation", slow_update)
        app.chat.edits.rename("after")
        await asyncio.to_thread(entered.wait, 10)
        # The write is held, and the app still answers a key and draws the dialog.
        await pilot.press("f2")
        await wait_until(pilot, lambda: isinstance(app.screen, TextPrompt), what="rename")
        assert not landed.is_set(), "the key waited for the write: the loop was blocked"
        await pilot.press("escape")
        assert "after" in screen_text(app)  # the new title is shown at once
        release.set()
        await wait_until(pilot, landed.is_set, what="the write to land")
        assert saved_title(conversation_id) == "after"


async def test_a_failed_save_of_a_setting_is_one_line(
    server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    conversation_id = seed("kept")
    async with running(LaunchOptions(resume_id=conversation_id)) as (app, pilot):
        def refuse(_conversation: Conversation) -> None:
            raise StoreError("the disk is full")

        monkeypatch.setattr(app.store, "update_conversation", refuse)
        app.chat.edits.set_system_prompt("be brief")
        await wait_until(pilot, lambda: "the disk is full" in app.chat.status.text,
                         what="the error on the status line")
    assert saved_title(conversation_id) == "kept"
