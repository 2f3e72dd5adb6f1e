"""ChatSession against a real loopback server: saving while streaming, stop, continue, retry,
and switching models mid-conversation."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

import pytest
from chatterm_env import write_config
from loopback import Drop, LoopbackServer, json_reply, sse_chunks, sse_reply, stream_reply

from chatterm.config import load_config
from chatterm.conversation import Conversation, MessageState, Role
from chatterm.exchange import (
    CONTINUE_INSTRUCTION,
    ChatSession,
    ReplyDelta,
    ReplyFailed,
    ReplyFinished,
    SessionEvent,
)
from chatterm.store import Store


def _session(loopback: LoopbackServer, store: Store, **config_kw: str) -> ChatSession:
    write_config(loopback.url, **config_kw)
    config = load_config()
    conversation = Conversation(provider=config.default_provider, model=config.default_model)
    return ChatSession(store, config, conversation)


@pytest.fixture
def store(isolated_env: Path) -> Store:
    with Store.open() as opened:
        yield opened


async def _poll(condition, timeout: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


def _stored_reply(conversation_id: str) -> tuple[str, str]:
    """Read the last message through a second connection, as another process would."""
    with Store.open() as other:
        conv = other.get_conversation(conversation_id)
    last = conv.messages[-1]
    return last.content, str(last.state)


async def test_send_streams_saves_and_titles(loopback: LoopbackServer, store: Store) -> None:
    loopback.script("chat/completions", sse_reply(["Hello", ", ", "world"],
                                                  usage={"prompt_tokens": 3,
                                                         "completion_tokens": 3,
                                                         "total_tokens": 6}))
    session = _session(loopback, store)
    events: list[SessionEvent] = []
    reply = await session.send("Say hello\nplease", events.append)

    assert reply.content == "Hello, world"
    assert reply.state is MessageState.COMPLETE
    assert reply.finish_reason == "stop"
    assert reply.usage is not None and reply.usage.total_tokens == 6
    assert [e.delta.content for e in events if isinstance(e, ReplyDelta)] == [
        "Hello", ", ", "world"]
    assert isinstance(events[-1], ReplyFinished)
    saved = store.get_conversation(session.conversation.id)
    assert saved.title == "Say hello"
    assert [m.role for m in saved.messages] == [Role.USER, Role.ASSISTANT]
    assert saved.messages[1].content == "Hello, world"
    assert saved.messages[1].model == "test-model"
    body = loopback.requests[0].json
    assert body["model"] == "test-model"
    assert body["stream"] is True
    assert body["messages"] == [{"role": "user", "content": "Say hello\nplease"}]


async def test_reply_is_saved_while_it_streams(loopback: LoopbackServer, store: Store) -> None:
    release = threading.Event()
    loopback.script("chat/completions", sse_reply(["first part ", "second part"], hold=release))
    session = _session(loopback, store)
    task = asyncio.create_task(session.send("go"))
    try:
        # While the server holds the rest back, another connection already sees the text.
        await _poll(lambda: len(session.conversation.messages) == 2
                    and _stored_reply(session.conversation.id)[0] == "first part ")
        assert _stored_reply(session.conversation.id)[1] == "streaming"
    finally:
        release.set()
    reply = await task
    assert _stored_reply(session.conversation.id) == ("first part second part", "complete")
    assert reply.state is MessageState.COMPLETE


async def test_cancel_keeps_partial_reply_as_interrupted(
    loopback: LoopbackServer, store: Store
) -> None:
    release = threading.Event()
    loopback.script("chat/completions", sse_reply(["partial ", "rest"], hold=release))
    session = _session(loopback, store)
    seen: list[SessionEvent] = []
    task = asyncio.create_task(session.send("go", seen.append))
    await _poll(lambda: any(isinstance(e, ReplyDelta) for e in seen))
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    release.set()
    content, state = _stored_reply(session.conversation.id)
    assert (content, state) == ("partial ", "interrupted")


async def test_drop_mid_stream_keeps_partial_and_reports(
    loopback: LoopbackServer, store: Store
) -> None:
    chunks = sse_chunks(["kept text"], done=False, finish_reason=None)
    loopback.script("chat/completions", stream_reply([chunks[0], Drop()]))
    session = _session(loopback, store)
    events: list[SessionEvent] = []
    reply = await session.send("go", events.append)
    assert reply.content == "kept text"
    assert reply.state is MessageState.INTERRUPTED
    assert reply.error
    assert isinstance(events[-1], ReplyFailed)
    assert _stored_reply(session.conversation.id) == ("kept text", "interrupted")
    # Only one request: nothing is retried once tokens have arrived.
    assert len(loopback.requests) == 1


async def test_error_before_tokens_is_an_error_state(
    loopback: LoopbackServer, store: Store
) -> None:
    loopback.script("chat/completions", json_reply(
        {"error": {"message": "Incorrect API key provided", "type": "invalid_request_error"}},
        status=401))
    session = _session(loopback, store)
    reply = await session.send("go")
    assert reply.state is MessageState.ERROR
    assert reply.error is not None and "Incorrect API key provided" in reply.error
    saved = store.get_conversation(session.conversation.id)
    assert saved.messages[0].content == "go"  # the prompt is never lost
    assert saved.messages[1].state is MessageState.ERROR


async def test_model_switch_mid_conversation(loopback: LoopbackServer, store: Store) -> None:
    loopback.script("chat/completions", [sse_reply(["one"]), sse_reply(["two"])])
    session = _session(loopback, store)
    await session.send("first")
    session.set_model("test", "other-model")
    await session.send("second")

    second = loopback.requests[1].json
    assert second["model"] == "other-model"
    assert second["messages"] == [
        {"role": "user", "content": "first"},
        {"role": "assistant", "content": "one"},
        {"role": "user", "content": "second"},
    ]
    saved = store.get_conversation(session.conversation.id)
    assert [m.model for m in saved.messages if m.role is Role.ASSISTANT] == [
        "test-model", "other-model"]
    assert saved.model == "other-model"


async def test_continue_without_prefix_support_sends_follow_up(
    loopback: LoopbackServer, store: Store
) -> None:
    loopback.script("chat/completions", [
        stream_reply([sse_chunks(["The quick "], done=False, finish_reason=None)[0], Drop()]),
        sse_reply(["brown fox."]),
    ])
    session = _session(loopback, store)
    first = await session.send("story")
    assert first.state is MessageState.INTERRUPTED
    reply = await session.continue_reply()
    assert reply is first
    assert reply.content == "The quick brown fox."
    assert reply.state is MessageState.COMPLETE
    follow_up = loopback.requests[1].json["messages"]
    assert follow_up[-2] == {"role": "assistant", "content": "The quick "}
    assert follow_up[-1] == {"role": "user", "content": CONTINUE_INSTRUCTION}
    assert _stored_reply(session.conversation.id) == ("The quick brown fox.", "complete")


async def test_continue_with_mistral_prefix(loopback: LoopbackServer, store: Store) -> None:
    loopback.script("chat/completions", [
        stream_reply([sse_chunks(["Once upon"], done=False, finish_reason=None)[0], Drop()]),
        # Mistral echoes the prefix at the start of its answer; it must appear once.
        sse_reply(["Once upon", " a time."]),
    ])
    session = _session(loopback, store, kind="mistral")
    await session.send("tell")
    reply = await session.continue_reply()
    assert reply.content == "Once upon a time."
    last = loopback.requests[1].json["messages"][-1]
    assert last == {"role": "assistant", "content": "Once upon", "prefix": True}


async def test_retry_regenerates_last_reply_in_place(
    loopback: LoopbackServer, store: Store
) -> None:
    loopback.script("chat/completions", [
        json_reply({"error": {"message": "overloaded"}}, status=400),
        sse_reply(["fresh answer"]),
    ])
    session = _session(loopback, store)
    failed = await session.send("question")
    assert failed.state is MessageState.ERROR
    reply = await session.retry()
    assert reply.id == failed.id
    assert (reply.content, reply.state, reply.error) == (
        "fresh answer", MessageState.COMPLETE, None)
    assert loopback.requests[1].json["messages"] == [{"role": "user", "content": "question"}]
    assert len(store.get_conversation(session.conversation.id).messages) == 2


async def test_missing_key_names_the_variable(loopback: LoopbackServer, store: Store) -> None:
    session = _session(loopback, store, api_key_env="CHATTERM_TEST_KEY")
    with pytest.raises(Exception, match="CHATTERM_TEST_KEY"):
        await session.send("hi")
    assert loopback.requests == []


async def test_key_is_sent_as_bearer(
    loopback: LoopbackServer, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHATTERM_TEST_KEY", "sk-test-abcdefghijklmnop")
    loopback.script("chat/completions", sse_reply(["ok"]))
    session = _session(loopback, store, api_key_env="CHATTERM_TEST_KEY")
    await session.send("hi")
    assert loopback.requests[0].headers["authorization"] == "Bearer sk-test-abcdefghijklmnop"
    # The key never lands in the database.
    with store.raw_connection() as conn:
        dump = "\n".join(conn.iterdump())
    assert "sk-test-abcdefghijklmnop" not in dump
