"""The engine's guarantees (issue 11): every store write happens off the event loop, in
the order it was made; one event type carries every kind of streamed text; and the UI
changes the open conversation only through the engine, never writing to the store.

HTTP runs against the loopback server; the store is the real SQLite Store (a subclass
that can hold one kind of write until the test lets it go).
"""

from __future__ import annotations

import ast
import asyncio
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from chatterm_env import write_config
from loopback import LoopbackServer, _chunk, sse_event, sse_reply, stream_reply

from chatterm.config import load_config
from chatterm.conversation import Conversation, Message, MessageState, Params
from chatterm.engine.events import ReplyFinished, ReplyStopped, SessionEvent, TextArrived
from chatterm.engine.session import ChatSession
from chatterm.store import Store

UI = Path(__file__).resolve().parent.parent / "chatterm" / "ui"
# Every Store method that writes (tests/test_engine.py keeps the UI away from them).
WRITE_METHODS = {
    "create_conversation", "import_conversation", "update_conversation",
    "rename_conversation", "delete_conversation", "add_message", "add_messages",
    "update_message", "remove_message", "recover_interrupted",
    # The tree's (schema v3): the UI moves branches through the session only.
    "set_current", "delete_subtree", "fork_conversation", "import_conversations",
}


class HeldStore(Store):
    """A real Store whose writes of one kind wait on an Event the test controls, and
    which records the thread and order of every write."""

    held: str = ""
    entered: threading.Event
    release: threading.Event
    writes: list[tuple[str, str, int]]

    def _hold(self, name: str, detail: str = "") -> None:
        self.writes.append((name, detail, threading.get_ident()))
        if name == self.held:
            self.held = ""  # only the first one
            self.entered.set()
            # Bounded: on code that writes on the event loop, the test's loop task can
            # never set it, and the test fails (below) instead of hanging.
            self.release.wait(timeout=5)

    def create_conversation(self, conv: Conversation) -> None:
        self._hold("create_conversation")
        super().create_conversation(conv)

    def update_conversation(self, conv: Conversation) -> None:
        self._hold("update_conversation", conv.title)
        super().update_conversation(conv)

    def update_message(self, message: Message) -> bool:
        final = message.state is not MessageState.STREAMING
        self._hold("final_save" if final else "partial_save", message.content)
        return super().update_message(message)


@pytest.fixture
def store(isolated_env: Path) -> Iterator[HeldStore]:
    opened = HeldStore.open()
    assert isinstance(opened, HeldStore)
    opened.entered, opened.release, opened.writes = threading.Event(), threading.Event(), []
    try:
        yield opened
    finally:
        opened.close()


def _session(loopback: LoopbackServer, store: Store | None) -> ChatSession:
    write_config(loopback.url)
    config = load_config()
    conversation = Conversation(provider=config.default_provider, model=config.default_model)
    return ChatSession(store, config, conversation)


async def _loop_lets_it_go(store: HeldStore) -> bool:
    """Run on the event loop: once the held write has started, release it. True when
    this ran while the write was still held, i.e. the loop was free during the write."""
    await asyncio.to_thread(store.entered.wait, 10)
    released_by_loop = not store.release.is_set()
    store.release.set()
    return released_by_loop


@pytest.mark.parametrize("held", ["create_conversation", "final_save"])
async def test_a_slow_store_write_leaves_the_event_loop_free(
    loopback: LoopbackServer, store: HeldStore, held: str
) -> None:
    loopback.script("chat/completions", sse_reply(["Hello", " there"]))
    session = _session(loopback, store)
    store.held = held
    releaser = asyncio.create_task(_loop_lets_it_go(store))
    reply = await session.send("hi")
    assert await releaser, f"the loop was blocked while {held} was held"
    assert reply.state is MessageState.COMPLETE
    with Store.open() as other:
        saved = other.get_conversation(session.conversation.id).messages
    assert [(m.content, m.state) for m in saved][-1] == ("Hello there", MessageState.COMPLETE)
    # Every write ran on one thread, and not the event loop's.
    assert {ident for _, _, ident in store.writes} - {threading.get_ident()} == {
        ident for _, _, ident in store.writes}
    assert len({ident for _, _, ident in store.writes}) == 1


async def test_settings_change_at_once_and_land_in_order_off_the_loop(
    loopback: LoopbackServer, store: HeldStore
) -> None:
    loopback.script("chat/completions", sse_reply(["ok"]))
    session = _session(loopback, store)
    await session.send("first")
    store.writes.clear()
    store.held = "update_conversation"
    releaser = asyncio.create_task(_loop_lets_it_go(store))
    first = session.rename("  one   title ")
    assert first is not None
    # The conversation changed at once, before any write landed.
    assert session.conversation.title == "one title"
    session.set_system_prompt("be brief")
    session.set_params(Params(temperature=0.5))
    last = session.rename("two")
    assert session.rename("   ") is None  # blank: nothing changes, nothing is written
    assert await releaser
    assert last is not None
    await asyncio.wrap_future(last)
    assert [detail for name, detail, _ in store.writes] == [
        "one title", "one title", "one title", "two"]
    with Store.open() as other:
        saved = other.get_conversation(session.conversation.id)
    assert (saved.title, saved.system_prompt, saved.params.temperature) == (
        "two", "be brief", 0.5)


async def test_a_stopped_reply_is_saved_before_the_stop_returns(
    loopback: LoopbackServer, store: HeldStore
) -> None:
    hold = threading.Event()
    loopback.script("chat/completions", sse_reply(["kept ", "never"], hold=hold))
    session = _session(loopback, store)
    seen: list[SessionEvent] = []
    store.held = "final_save"
    task = asyncio.create_task(session.send("go", seen.append))
    try:
        while not any(isinstance(e, TextArrived) for e in seen):
            await asyncio.sleep(0.02)
        task.cancel()
        # The final save is under way, held; the loop still runs this task.
        assert await _loop_lets_it_go(store)
        with pytest.raises(asyncio.CancelledError):
            await task
    finally:
        hold.set()
    with Store.open() as other:
        last = other.get_conversation(session.conversation.id).messages[-1]
    assert (last.content, last.state) == ("kept ", MessageState.INTERRUPTED)
    # The engine says so, with the final message: a front end need not read its own copy.
    stopped = [e for e in seen if isinstance(e, ReplyStopped)]
    assert [(e.message.content, e.message.state) for e in stopped] == [
        ("kept ", MessageState.INTERRUPTED)]


async def test_a_setting_changed_just_before_quitting_is_saved(
    loopback: LoopbackServer, store: HeldStore
) -> None:
    """Quitting closes the store; what the engine queued just before still lands."""
    from chatterm.engine.writer import settle, writer_for

    loopback.script("chat/completions", sse_reply(["ok"]))
    session = _session(loopback, store)
    await session.send("first")
    store.held = "update_conversation"
    session.rename("renamed on the way out")  # not awaited: the app quits at once
    await asyncio.to_thread(store.entered.wait, 10)
    writer = writer_for(store)
    assert writer.pending == 1
    closing = asyncio.create_task(asyncio.to_thread(lambda: (settle(store), store.close())))
    # Closing waits behind the held write (its own marker is queued after it) ...
    deadline = time.monotonic() + 5
    while writer.pending < 2:
        assert time.monotonic() < deadline, "closing did not wait for the queued write"
        await asyncio.sleep(0.01)
    store.release.set()
    await closing  # ... and the write lands before the store closes.
    with Store.open() as other:
        assert other.get_conversation(session.conversation.id).title == "renamed on the way out"


async def test_every_kind_of_streamed_text_is_one_event_type(
    loopback: LoopbackServer, store: HeldStore
) -> None:
    call = {"index": 0, "id": "call_1", "type": "function",
            "function": {"name": "lookup", "arguments": '{"q": '}}
    more = {"index": 0, "function": {"arguments": '"x"}'}}
    loopback.script("chat/completions", stream_reply([
        sse_event(_chunk("m", {"role": "assistant", "reasoning_content": "think"})),
        sse_event(_chunk("m", {"content": "Hi"})),
        sse_event(_chunk("m", {"refusal": "no"})),
        sse_event(_chunk("m", {"tool_calls": [call]})),
        sse_event(_chunk("m", {"tool_calls": [more]})),
        sse_event(_chunk("m", {}, "tool_calls")),
        b"data: [DONE]\n\n",
    ]))
    session = _session(loopback, store)
    events: list[SessionEvent] = []
    reply = await session.send("go", events.append)
    texts = [e for e in events if isinstance(e, TextArrived)]
    assert {e.message_id for e in texts} == {reply.id}

    def joined(kind: str) -> str:
        return "".join(e.text for e in texts if e.kind == kind)

    # What the events said is exactly what the finished reply holds.
    assert (joined("content"), joined("reasoning"), joined("refusal")) == (
        reply.content, reply.reasoning, reply.refusal) == ("Hi", "think", "no")
    assert joined("tool_arguments") == reply.tool_calls[0].arguments == '{"q": "x"}'
    assert sum(e.chunks for e in texts) == 3  # one token count per chunk of text
    assert isinstance(events[-1], ReplyFinished)


async def test_a_session_without_a_store_writes_nothing_and_still_answers(
    loopback: LoopbackServer, isolated_env: Path
) -> None:
    loopback.script("chat/completions", sse_reply(["fine"]))
    session = _session(loopback, None)
    assert session.rename("x") is not None  # a done write: nothing to save
    reply = await session.send("hi")
    assert reply.content == "fine" and not session.saved


def _store_writes_in(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr in WRITE_METHODS):
            found.append(f"{path.relative_to(UI.parent.parent)}:{node.lineno} "
                         f"{node.func.attr}")
    return found


def test_the_ui_never_writes_to_the_store_itself() -> None:
    """Every change to the open conversation goes through the engine (ChatSession)."""
    calls: list[Any] = []
    for path in sorted(UI.rglob("*.py")):
        calls += _store_writes_in(path)
    assert calls == []
