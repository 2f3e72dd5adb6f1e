"""New chat with role (issue 14, the app): Ctrl+L and the palette open the role picker;
picking a role opens a new chat whose first request carries the role's system prompt,
model and params; the role shows ahead of the title and again when the chat is reopened."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from loopback import sse_reply
from ui_helpers import LOOP_KEY, LOOP_KEY_ENV, running, screen_text, wait_until, write_config

from chatterm.store import Store
from chatterm.ui.pickers.role_picker import RolePicker

CHAT = "chat/completions"

ROLES = """
[roles.reviewer]
description = "Reviews code, tersely"
system_prompt = "You review code. Bugs first."
provider = "loop"
model = "model-r"
[roles.reviewer.params]
temperature = 0.2

[roles.poet]
description = "Answers in verse"
system_prompt = "Answer in rhyme."
"""


def config_with(loopback: Any, monkeypatch: pytest.MonkeyPatch, extra: str = "") -> Path:
    monkeypatch.setenv(LOOP_KEY_ENV, LOOP_KEY)
    return write_config(Path(os.environ["CHATTERM_CONFIG"]), loopback.url, extra=extra)


def title_text(app: Any) -> str:
    return str(app.chat.query_one("#title-bar").render())


async def open_picker_with_key(app: Any, pilot: Any) -> RolePicker:
    await pilot.press("ctrl+l")
    await wait_until(pilot, lambda: isinstance(app.screen, RolePicker), what="the role picker")
    assert isinstance(app.screen, RolePicker)
    return app.screen


async def test_picking_a_role_sends_its_prompt_model_and_params_and_shows_it(
        loopback: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    config_with(loopback, monkeypatch, ROLES)
    loopback.script(CHAT, sse_reply(["Looks fine."]))
    async with running() as (app, pilot):
        picker = await open_picker_with_key(app, pilot)
        await wait_until(pilot, lambda: "Reviews code, tersely" in screen_text(app),
                         what="the roles listed")
        assert "loop/model-r" in screen_text(app)
        await pilot.press(*"review")
        await wait_until(pilot, lambda: picker.highlighted_role == "reviewer",
                         what="the filter")
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.screen is app.chat, what="the chat")
        assert app.chat.conversation.role == "reviewer"
        assert not app.chat.opened.saved  # nothing written until the first send
        with Store.open() as store:
            assert store.list_conversations() == []
        assert "[reviewer]" in title_text(app)
        app.chat.prompt.insert("check this")
        await pilot.press("enter")
        await wait_until(pilot, lambda: not app.chat.busy and loopback.requests,
                         what="the reply")
        body = loopback.requests[0].json
        assert body["model"] == "model-r"
        assert body["temperature"] == 0.2
        assert body["messages"][0] == {"role": "system",
                                       "content": "You review code. Bugs first."}
        conversation_id = app.chat.conversation.id
        await wait_until(pilot, lambda: app.chat.opened.saved, what="the save")
        with Store.open() as store:
            assert store.get_conversation(conversation_id).role == "reviewer"
        # A new plain chat has no role; the saved one reopened shows its role again.
        await pilot.press("ctrl+n")
        await wait_until(pilot, lambda: app.chat.conversation.id != conversation_id,
                         what="the new chat")
        assert "[reviewer]" not in title_text(app)
        app.chat.open_saved(conversation_id)
        await wait_until(pilot, lambda: app.chat.conversation.id == conversation_id,
                         what="the reopened chat")
        await wait_until(pilot, lambda: "[reviewer]" in title_text(app), what="its role")


async def test_the_palette_entry_opens_the_picker_and_esc_changes_nothing(
        loopback: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from textual.command import CommandPalette

    config_with(loopback, monkeypatch, ROLES)
    async with running() as (app, pilot):
        before = app.chat.conversation.id
        await pilot.press("ctrl+p")
        await wait_until(pilot, lambda: isinstance(app.screen, CommandPalette),
                         what="the palette")
        await pilot.press(*"chat with role")
        await wait_until(pilot, lambda: "New chat with role" in screen_text(app),
                         what="the command")
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, RolePicker), what="the picker")
        await wait_until(pilot, lambda: "Answers in verse" in screen_text(app),
                         what="the poet listed")
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.screen is app.chat, what="the chat")
        assert app.chat.conversation.id == before
        assert app.chat.conversation.role is None


async def test_no_roles_says_where_roles_go(loopback: Any,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    config_with(loopback, monkeypatch)
    async with running() as (app, pilot):
        await open_picker_with_key(app, pilot)
        await wait_until(pilot, lambda: "No roles yet" in screen_text(app), what="the hint")
        text = " ".join(screen_text(app).split())
        assert "[roles.NAME]" in text and "roles/ folder" in text
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.screen is app.chat, what="the chat")


async def test_a_bad_role_file_is_a_notification_and_the_others_are_listed(
        loopback: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    path = config_with(loopback, monkeypatch, ROLES)
    folder = path.parent / "roles"
    folder.mkdir()
    (folder / "broken.toml").write_text('system_prompt = \n', encoding="utf-8")
    (folder / "helper.toml").write_text('description = "Helps"\nsystem_prompt = "Help."\n',
                                        encoding="utf-8")
    async with running() as (app, pilot):
        await open_picker_with_key(app, pilot)
        await wait_until(pilot, lambda: any("broken.toml" in n.message
                                            for n in app._notifications),
                         what="the note")
        picker = app.screen
        assert isinstance(picker, RolePicker)
        assert sorted(role.name for role in picker.roles) == ["helper", "poet", "reviewer"]
        # A role without provider or model takes the default provider's model.
        await pilot.press(*"poet", "enter")
        await wait_until(pilot, lambda: app.chat.conversation.role == "poet", what="the chat")
        assert app.chat.conversation.model == "model-a"
        assert app.chat.conversation.system_prompt == "Answer in rhyme."


async def test_at_40_columns_the_role_stays_ahead_of_a_long_title(
        loopback: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    config_with(loopback, monkeypatch, ROLES)
    loopback.script(CHAT, sse_reply(["ok"]))
    async with running(size=(40, 30)) as (app, pilot):
        await open_picker_with_key(app, pilot)
        await pilot.press(*"reviewer", "enter")
        await wait_until(pilot, lambda: app.chat.conversation.role == "reviewer", what="the chat")
        app.chat.prompt.insert("a very long first prompt that becomes a long title " * 2)
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.chat.opened.saved and not app.chat.busy,
                         what="the save")
        await wait_until(pilot, lambda: "a very long" in screen_text(app).splitlines()[0],
                         what="the title")
        assert screen_text(app).splitlines()[0].lstrip().startswith("[reviewer] ")
