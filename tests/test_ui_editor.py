"""Ctrl+E: the prompt in $VISUAL / $EDITOR, with a real editor process (a Python script
that records what it was given and rewrites the file), the real app headless and the
loopback server."""

from __future__ import annotations

import json
import shlex
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from loopback import sse_reply
from ui_helpers import running, screen_text, wait_until

pytestmark = pytest.mark.slow

CHAT = "chat/completions"

FAKE_EDITOR = Path(__file__).with_name("fake_editor.py")


@pytest.fixture
def editor(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """$EDITOR is tests/fake_editor.py; returns the file it records its call in."""
    script = FAKE_EDITOR
    record = tmp_path / "record.json"
    monkeypatch.delenv("VISUAL", raising=False)
    monkeypatch.setenv("EDITOR", f"{shlex.quote(sys.executable)} {shlex.quote(str(script))}")
    monkeypatch.setenv("EDITOR_RECORD", str(record))
    return record


def notices(app: Any) -> list[str]:
    return [notification.message for notification in app._notifications]


async def test_the_editor_text_becomes_the_prompt_and_is_sent(
        server: Any, editor: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EDITOR_WRITES", "Explain this:\n\n```py\nprint(1)\n```\n")
    server.script(CHAT, sse_reply(["Sure."]))
    async with running() as (app, pilot):
        prompt = app.chat.prompt
        prompt.insert("draft line one\ndraft two")
        await pilot.press("ctrl+e")
        await wait_until(pilot, lambda: prompt.text.startswith("Explain"), what="the text")
        record = json.loads(editor.read_text(encoding="utf-8"))
        # The draft, with the line end editors expect, in a private .md file.
        assert record["text"] == "draft line one\ndraft two\n"
        assert record["name"].endswith(".md")
        assert record["mode"] == 0o600 and record["folder_mode"] == 0o700
        assert not Path(record["argv"][-1]).exists()  # removed, with its folder
        assert not Path(record["argv"][-1]).parent.exists()
        # The trailing newline the editor saved is dropped; the cursor is at the end.
        assert prompt.text == "Explain this:\n\n```py\nprint(1)\n```"
        assert prompt.cursor_location == prompt.document.end
        assert app.focused is prompt
        await pilot.press("ctrl+z")  # one edit: the draft comes back
        assert prompt.text == "draft line one\ndraft two"
        await pilot.press("ctrl+e")
        await wait_until(pilot, lambda: prompt.text.startswith("Explain"), what="the text")
        await pilot.press("enter")
        server.wait_for_requests(1)
        assert server.requests[0].json["messages"][-1] == {
            "role": "user", "content": "Explain this:\n\n```py\nprint(1)\n```"}


async def test_visual_wins_and_its_arguments_are_split(
        server: Any, editor: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    script = FAKE_EDITOR
    monkeypatch.setenv("VISUAL", f"{shlex.quote(sys.executable)} {shlex.quote(str(script))} "
                                 "--wait 'two words'")
    monkeypatch.setenv("EDITOR", "/nonexistent/editor")
    monkeypatch.setenv("EDITOR_WRITES", "from visual")
    async with running() as (app, pilot):
        await pilot.press("ctrl+e")  # an empty prompt opens an empty file
        await wait_until(pilot, lambda: app.chat.prompt.text == "from visual",
                         what="the text")
        record = json.loads(editor.read_text(encoding="utf-8"))
        assert record["argv"][:2] == ["--wait", "two words"] and record["text"] == ""


@pytest.mark.parametrize(("setting", "expected"), [
    ("exit 3", "exited with status 3"),
    ("missing", "'/nonexistent/chatterm-editor' ($EDITOR) was not found"),
    ("unquoted", "cannot be read as a command"),
])
async def test_a_failing_editor_is_one_line_and_the_draft_stays(
        server: Any, editor: Path, monkeypatch: pytest.MonkeyPatch, setting: str,
        expected: str) -> None:
    monkeypatch.setenv("EDITOR_WRITES", "must not be used")
    if setting == "exit 3":
        monkeypatch.setenv("EDITOR_EXIT", "3")
    elif setting == "missing":
        monkeypatch.setenv("EDITOR", "/nonexistent/chatterm-editor --flag")
    else:
        monkeypatch.setenv("EDITOR", "vim 'unclosed")
    async with running() as (app, pilot):
        prompt = app.chat.prompt
        prompt.insert("my draft")
        await pilot.press("ctrl+e")
        await wait_until(pilot, lambda: any(expected in n for n in notices(app)),
                         what="the notice")
        notice = next(n for n in notices(app) if expected in n)
        assert "\n" not in notice and notice.endswith("the prompt keeps its text.")
        assert prompt.text == "my draft"
        assert app.focused is prompt
        assert server.requests == []


async def test_the_editor_waits_while_a_reply_streams(
        server: Any, editor: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EDITOR_WRITES", "edited")
    hold = threading.Event()
    server.script(CHAT, sse_reply(["Hel", "lo"], hold=hold))
    async with running() as (app, pilot):
        prompt = app.chat.prompt
        prompt.insert("first")
        await pilot.press("enter")
        await wait_until(pilot, lambda: "Hel" in screen_text(app), what="the stream")
        prompt.insert("next draft")
        await pilot.press("ctrl+e")
        await wait_until(pilot, lambda: any("A reply is streaming" in n
                                            for n in notices(app)), what="the notice")
        assert prompt.text == "next draft" and not editor.exists()
        hold.set()
        await wait_until(pilot, lambda: not app.chat.busy, what="the reply to end")
        await pilot.press("ctrl+e")
        await wait_until(pilot, lambda: prompt.text == "edited", what="the text")


async def test_the_footer_shows_the_editor_key(server: Any, editor: Path) -> None:
    async with running(size=(120, 32)) as (app, pilot):
        await wait_until(pilot, lambda: "^e Editor" in screen_text(app), what="the footer")
