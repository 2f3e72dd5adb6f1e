"""What a streamed reply looks like in the real app: after a resize, with CRLF line
ends, in the status line's token count and while waiting (Pilot + loopback server)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from loopback import sse_reply
from ui_helpers import LOOP_KEY, LOOP_KEY_ENV, running, screen_text, wait_until, write_config

CHAT = "chat/completions"


@pytest.fixture
def server(loopback: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv(LOOP_KEY_ENV, LOOP_KEY)
    write_config(Path(os.environ["CHATTERM_CONFIG"]), loopback.url)
    return loopback


async def send(pilot: Any, text: str) -> None:
    pilot.app.chat.prompt.insert(text)
    await pilot.press("enter")


async def until_idle(pilot: Any) -> None:
    await wait_until(pilot, lambda: not pilot.app.chat.busy, what="the reply to end")


def reply_body(app: Any) -> Any:
    from chatterm.ui.widgets.message_view import AssistantMessage
    from chatterm.ui.widgets.streaming_markdown import StreamingMarkdown

    views = [v for v in app.chat.message_list.views() if isinstance(v, AssistantMessage)]
    return views[-1].query_one(StreamingMarkdown)


# ---- resize --------------------------------------------------------------------------

PARAGRAPHS = [" ".join(f"p{p}w{i}" for i in range(36)) for p in range(4)]
LAST_WORDS = PARAGRAPHS[-1].split()


@pytest.mark.parametrize(
    "widths",
    [(40, 120), (81, 120), (81, 40, 81), (81, 120, 81)],
    ids=["120-40-120", "120-81-120", "120-81-40-81", "back to 81"],
)
async def test_a_finished_reply_is_rewrapped_after_each_resize(
    server: Any, widths: tuple[int, ...]
) -> None:
    text = "\n\n".join(PARAGRAPHS) + "\n\nTHE END."
    server.script(CHAT, sse_reply([word + " " for word in text.split(" ")]))
    async with running(size=(120, 50)) as (app, pilot):
        await send(pilot, "go")
        await until_idle(pilot)
        body = reply_body(app)
        for width in widths:
            await pilot.resize_terminal(width, 50)
            await wait_until(pilot, lambda w=width: app.size.width == w, what="the resize")
            await pilot.pause()
            await pilot.pause()
        width = body.size.width
        lines = [line.rstrip() for line in body.rendered_lines()]
        # Wrapped for this width: every line fits, and a paragraph's lines fill it
        # (not the ~36 columns of an earlier, narrower layout).
        assert all(len(line) <= width for line in lines)
        assert max(len(line) for line in lines) > width - 8, (width, lines)
        assert body.size.height == len(lines)
        # The whole last paragraph and the end of the reply are on screen, no word cut.
        screen = screen_text(app)
        assert "THE END." in screen
        assert set(LAST_WORDS) <= set(screen.split()), screen


# ---- line ends -----------------------------------------------------------------------

# A code fence shows each line break as it is; the CRLF after "beta" is split across
# two deltas, and "lone" ends with a bare CR (old Mac line ends).
CRLF_DELTAS = ["Intro\r\n\r\n```\r\nalpha\r\nbeta\r", "\ngamma\rdelta\r\n```\r\n",
               "\r\nlast line\r"]


def fence_lines(screen: str) -> list[str]:
    """The code fence's lines on screen, from "alpha" to "delta" (blank ones too)."""
    lines = [line.strip(" █▌▎") for line in screen.splitlines()]
    start = next(i for i, line in enumerate(lines) if line.startswith("alpha"))
    end = next(i for i, line in enumerate(lines) if line.startswith("delta"))
    return lines[start : end + 1]


async def test_crlf_and_lone_cr_are_line_breaks_while_streaming_and_after(server: Any) -> None:
    import threading

    from loopback import Hold, sse_chunks, stream_reply

    held = threading.Event()
    events = sse_chunks(CRLF_DELTAS)
    server.script(CHAT, stream_reply([*events[:3], Hold(held), *events[3:]]))
    try:
        async with running(size=(80, 30)) as (app, pilot):
            await send(pilot, "go")
            await wait_until(pilot, lambda: "last line" in screen_text(app), what="the text")
            await wait_until(pilot, lambda: reply_body(app).is_painted, what="the frame")
            assert app.chat.busy  # still streaming: the live rendering
            for _ in range(2):
                screen = screen_text(app)
                assert "␍" not in screen and "\r" not in screen
                assert fence_lines(screen) == ["alpha", "beta", "gamma", "delta"], screen
                held.set()
                await until_idle(pilot)
                await pilot.pause()
    finally:
        held.set()


async def test_saved_messages_with_crlf_show_line_breaks(server: Any) -> None:
    from textual.widgets import Static

    from chatterm.conversation import Conversation, Message, Role
    from chatterm.store import Store
    from chatterm.ui.launch import LaunchOptions

    conversation = Conversation(provider="loop", model="model-a", title="crlf")
    conversation.messages += [
        Message(role=Role.USER, content="ask one\r\nask two\rask three",
                conversation_id=conversation.id),
        Message(role=Role.ASSISTANT, content="".join(CRLF_DELTAS), provider="loop",
                model="model-a", reasoning="think one\r\nthink two",
                conversation_id=conversation.id),
    ]
    with Store.open() as store:
        store.create_conversation(conversation)
    async with running(LaunchOptions(resume_id=conversation.id), size=(80, 30)) as (app, pilot):
        await wait_until(pilot, lambda: "last line" in screen_text(app), what="the reply")
        screen = screen_text(app)
        assert "␍" not in screen
        assert fence_lines(screen) == ["alpha", "beta", "gamma", "delta"], screen
        lines = [line.strip(" █▌▎") for line in screen.splitlines()]
        assert {"ask one", "ask two", "ask three"} <= set(lines), screen
        reasoning = app.query_one(".reasoning-text", Static)
        assert str(reasoning.render()) == "think one\nthink two"
