"""The app shows server data the way the CLI does: redacted and inert.

- a key the server echoes, upper-cased or with invisible characters inserted, never shows
  (the retry countdown, the error line, the reply's error note);
- bidi overrides and isolates in model text are made visible, like other controls.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest
from loopback import json_reply, sse_reply
from ui_helpers import LOOP_KEY, LOOP_KEY_ENV, running, screen_text, terminal_output, wait_until
from ui_helpers import write_config as write_app_config

pytestmark = pytest.mark.slow

CHAT = "chat/completions"
BIDI = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"


@pytest.fixture
def server(loopback: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv(LOOP_KEY_ENV, LOOP_KEY)
    write_app_config(Path(os.environ["CHATTERM_CONFIG"]), loopback.url)
    return loopback


def shows_part_of(text: str, secret: str, window: int = 10) -> bool:
    seen = re.sub("[\x00\u200b-\u200f\u2060-\u2064\ufeff]", "", text).lower()
    return any(secret[i:i + window].lower() in seen for i in range(len(secret) - window + 1))


async def send(pilot: Any, text: str) -> None:
    pilot.app.chat.prompt.insert(text)
    await pilot.press("enter")


async def test_a_mangled_key_echoed_by_the_server_never_shows_in_the_app(server: Any) -> None:
    upper = LOOP_KEY.upper()
    hidden = LOOP_KEY[:6] + "\u200b" + LOOP_KEY[6:14] + "\x00" + LOOP_KEY[14:]
    server.script(CHAT, json_reply({"error": {"message": f"slow down, {hidden}"}}, status=429,
                                   headers={"Retry-After": "1"}))
    server.script(CHAT, json_reply({"error": {"message": f"Incorrect API key: {upper}"}},
                                   status=401))
    async with running() as (app, pilot):
        await send(pilot, "hello")
        await wait_until(pilot, lambda: app.chat.status.state == "retrying",
                         what="the retry countdown")
        assert "slow down" in app.chat.status.text
        assert not shows_part_of(screen_text(app), LOOP_KEY)
        await wait_until(pilot, lambda: app.chat.status.state == "error", timeout=20,
                         what="the 401 error")
        text = screen_text(app)
        assert "Incorrect API key" in text
        assert not shows_part_of(text, LOOP_KEY)
        assert not shows_part_of(app.chat.conversation.messages[-1].error or "", LOOP_KEY)


async def test_bidi_overrides_in_model_text_are_shown_not_obeyed(server: Any) -> None:
    reply = f"price {BIDI} end"
    server.script(CHAT, sse_reply([reply[:9], reply[9:]]))
    async with running() as (app, pilot):
        await send(pilot, "reorder this")
        await wait_until(pilot, lambda: "end" in screen_text(app) and not app.chat.busy,
                         what="the reply")
        output = terminal_output(app)
        assert not any(ch in output for ch in BIDI), "a bidi control reached the terminal"
        assert "\\u202e" in screen_text(app)
        assert app.chat.conversation.messages[-1].content == reply  # stored as sent


# ---- one boundary: every text from a model or a server is inert on screen ------------------

OSC52 = "\x1b]52;c;cHduZWQ=\x07"  # a clipboard write
SHOWN_OSC52 = "\u241b]52;c;cHduZWQ=\u2407"  # the same, as the app draws it


@pytest.fixture
def once(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every text the app's one boundary neutralises; a text that comes back to it
    already inert (holding a drawn ESC) was about to be neutralised twice."""
    from chatterm.sanitize import neutralise
    from chatterm.ui import inert

    seen: list[str] = []

    def recorded(text: str) -> str:
        seen.append(text)
        return neutralise(text)

    monkeypatch.setattr(inert, "neutralise", recorded)
    return seen


def twice(seen: list[str]) -> list[str]:
    return [text for text in seen if "\u241b" in text]


def test_the_ui_reaches_chatterm_sanitize_through_one_module() -> None:
    import ast

    ui = Path(__file__).resolve().parent.parent / "chatterm" / "ui"
    users = set()
    for path in ui.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module == "chatterm.sanitize" or (
                    node.module == "chatterm.redact"
                    and any(alias.name == "shown" for alias in node.names))):
                users.add(path.relative_to(ui).as_posix())
    # blocks.py checks what the Markdown renderer itself produced, not model text.
    assert users == {"inert.py", "markdown/blocks.py"}


def obeyable(app: Any) -> list[str]:
    """Escape sequences from the hostile text that reached the terminal as such."""
    output = terminal_output(app)
    return [seq for seq in ("\x1b]52", "\x1b]0;", "\x9b", *BIDI) if seq in output]


def seed_hostile(title: str) -> str:
    from chatterm.conversation import Conversation, Message, Role, ToolCall
    from chatterm.store import Store

    conversation = Conversation(provider="loop", model="model-a", title=title,
                                system_prompt=f"be {OSC52} terse")
    conversation.messages = [
        Message(role=Role.USER, content=f"user {OSC52} words", conversation_id=conversation.id),
        Message(role=Role.ASSISTANT, content=f"reply {OSC52} text", model=f"model{OSC52}a",
                provider="loop", conversation_id=conversation.id,
                reasoning=f"thought {OSC52} here", refusal=f"refused {OSC52} that",
                tool_calls=[ToolCall(id="c1", name=f"tool{OSC52}",
                                     arguments=f'{{"a": "{OSC52}"}}')],
                error=f"server said {OSC52} no"),
    ]
    with Store.open() as store:
        store.create_conversation(conversation)
    return conversation.id


async def test_a_saved_chat_s_hostile_text_is_shown_not_obeyed(
    server: Any, once: list[str],
) -> None:
    from chatterm.launch import LaunchOptions

    title = f"title {OSC52}\x1b]0;pwned\x07 \u202eend"
    conversation_id = seed_hostile(title)
    async with running(LaunchOptions(resume_id=conversation_id), size=(120, 40)) as (app, pilot):
        await wait_until(pilot, lambda: "reply" in screen_text(app), what="the saved chat")
        await pilot.press("ctrl+b")  # the sidebar lists the title too
        await wait_until(pilot, lambda: screen_text(app).count("title ") >= 2,
                         what="the title in the sidebar")
        text = screen_text(app)
        for part in ("user ", "reply ", "thought ", "refused ", "tool", "server said ", "model"):
            assert f"{part}{SHOWN_OSC52}" in text or part not in text, part
        assert text.count(SHOWN_OSC52) >= 5
        assert obeyable(app) == []
        # The rename and system prompt boxes show them inert too; left as shown, the
        # saved text is kept as it was.
        for key, what in (("f2", f"title {SHOWN_OSC52}"), ("f4", f"be {SHOWN_OSC52} terse")):
            await pilot.press(key)
            await wait_until(pilot, lambda what=what: what in screen_text(app), what=what)
            assert obeyable(app) == []
            await pilot.press("escape")
            await wait_until(pilot, lambda: app.screen is app.chat, what="the chat again")
        await pilot.press("f2")
        await wait_until(pilot, lambda: app.screen is not app.chat, what="the rename box")
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.screen is app.chat, what="the chat again")
        assert app.chat.conversation.title == title
    assert once and twice(once) == []


async def test_streamed_reasoning_and_a_server_error_are_shown_not_obeyed(
    server: Any, once: list[str],
) -> None:
    server.script(CHAT, sse_reply([f"content {OSC52} "], reasoning=[f"thinking {OSC52} "]))
    server.script(CHAT, json_reply({"error": {"message": f"bad {OSC52}\x9b2J request"}},
                                   status=400))
    async with running(size=(120, 40)) as (app, pilot):
        await send(pilot, "first")
        await wait_until(pilot, lambda: "content" in screen_text(app) and not app.chat.busy,
                         what="the reply")
        assert f"content {SHOWN_OSC52}" in screen_text(app)
        assert obeyable(app) == []
        await send(pilot, "second")
        await wait_until(pilot, lambda: app.chat.status.state == "error", what="the error")
        # The core cuts a server's error to one line of printable text before it is saved.
        assert "bad ]52;c;cHduZWQ= 2J request" in screen_text(app)
        assert obeyable(app) == []
    assert once and twice(once) == []


async def test_model_ids_a_server_lists_are_shown_not_obeyed(server: Any) -> None:
    server.always("models", json_reply({"object": "list", "data": [
        {"id": f"evil{OSC52}model", "object": "model"}, {"id": "model-a", "object": "model"}]}))
    async with running(size=(120, 40)) as (app, pilot):
        await pilot.press("ctrl+o")
        await wait_until(pilot, lambda: "evil" in screen_text(app), what="the live model list")
        assert f"evil{SHOWN_OSC52}model" in screen_text(app)
        assert obeyable(app) == []
