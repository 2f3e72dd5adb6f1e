"""The status bar's running total of the conversation (ui/chat/usage_total.py through
engine.usage): after each reply it is the store's sum for this chat (the figures of
`chatterm usage` for it), cost included when the provider reported one; shown again when
the chat is reopened; a new chat has none; at 40 columns it gives way to the model and
to what is happening. The real app, the loopback server with usage chunks carrying cost."""

from __future__ import annotations

from typing import Any

import pytest
from loopback import sse_reply
from ui_helpers import running, screen_text, wait_until

from chatterm.engine.usage import in_memory_total, total_text
from chatterm.launch import LaunchOptions
from chatterm.store import Store

pytestmark = pytest.mark.slow

CHAT = "chat/completions"


def usage(prompt: int, completion: int, cost: float | None = None) -> dict[str, Any]:
    used: dict[str, Any] = {"prompt_tokens": prompt, "completion_tokens": completion,
                            "total_tokens": prompt + completion}
    if cost is not None:
        used["cost"] = cost
    return used


def status_row(app: Any) -> str:
    return screen_text(app).splitlines()[app.chat.status.region.y]


def stored_total(conversation_id: str) -> str:
    with Store.open(read_only=True) as store:
        return total_text(store.usage(by="provider", conversation_id=conversation_id).total)


async def send(app: Any, pilot: Any, text: str) -> None:
    app.chat.prompt.insert(text)
    await pilot.press("enter")


async def test_the_running_total_follows_each_reply_and_comes_back_with_the_chat(
        server: Any) -> None:
    server.script(CHAT, sse_reply(["First answer."], usage=usage(100, 20, 0.0015)))
    server.script(CHAT, sse_reply(["Second answer."], usage=usage(300, 40, 0.0025)))
    server.script(CHAT, sse_reply(["Third answer."], usage=usage(1000, 7)))  # no cost
    async with running(size=(120, 30)) as (app, pilot):
        status = app.chat.status
        assert status.total == ""  # a new chat has cost nothing
        await send(app, pilot, "one")
        await wait_until(pilot, lambda: status.total == "Σ 120 tok · $0.0015",
                         what="the first reply's total")
        assert "Σ 120 tok · $0.0015  loop · model-a" in status_row(app)
        await send(app, pilot, "two")
        await wait_until(pilot, lambda: status.total == "Σ 460 tok · $0.0040",
                         what="both replies")
        await send(app, pilot, "three")
        await wait_until(pilot, lambda: status.total.startswith("Σ 1,467 tok"),
                         what="the third, whose provider reports no cost")
        conversation_id = app.chat.conversation.id
        # The store's figure for this chat, as `chatterm usage` sums it.
        assert status.total == stored_total(conversation_id) == "Σ 1,467 tok · $0.0040"

        await pilot.press("ctrl+n")
        await wait_until(pilot, lambda: app.chat.conversation.id != conversation_id,
                         what="a new chat")
        await wait_until(pilot, lambda: status.total == "", what="no total for a new chat")

    # Reopened: the total is there before any reply.
    async with running(LaunchOptions(resume_id=conversation_id), size=(120, 30)) as (app,
                                                                                    pilot):
        await wait_until(pilot, lambda: app.chat.status.total == "Σ 1,467 tok · $0.0040",
                         what="the total of the reopened chat")


async def test_at_40_columns_the_total_gives_way_to_the_model(server: Any) -> None:
    server.script(CHAT, sse_reply(["An answer."], usage=usage(12345, 678, 1.25)))
    async with running(size=(40, 24)) as (app, pilot):
        status = app.chat.status
        await send(app, pilot, "one")
        await wait_until(pilot, lambda: status.total == "Σ 13,023 tok · $1.25",
                         what="the total")
        await pilot.pause()
        row = status_row(app)
        # Half of 40 columns cannot hold the total and the model: the model stays whole.
        assert "loop · model-a" in row and "Σ" not in row
        await pilot.resize_terminal(120, 24)
        await wait_until(pilot, lambda: "Σ 13,023 tok · $1.25  loop · model-a" in
                         status_row(app), what="the total back at 120 columns")


def test_an_unsaved_chat_sums_the_replies_in_memory() -> None:
    from chatterm.conversation import Message, MessageState, Role, Usage

    replies = [Message(role=Role.ASSISTANT, content="a", usage=Usage(prompt_tokens=5,
                                                                    completion_tokens=2,
                                                                    cost=0.5)),
               Message(role=Role.ASSISTANT, content="b", state=MessageState.ERROR),
               Message(role=Role.USER, content="q", usage=Usage(prompt_tokens=99)),
               Message(role=Role.ASSISTANT, content="c", usage=Usage(completion_tokens=3))]
    total = in_memory_total(replies)
    assert (total.replies, total.tokens, total.cost, total.costed) == (2, 10, 0.5, 1)
    assert total_text(total) == "Σ 10 tok · $0.5000"
    assert total_text(in_memory_total([])) == ""
