"""ChatSession against a real loopback server: saving while streaming, stop, continue, retry,
and switching models mid-conversation."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from pathlib import Path

import pytest
from chatterm_env import write_config
from loopback import (
    Drop,
    Hold,
    LoopbackServer,
    Reply,
    json_reply,
    sse_chunks,
    sse_event,
    sse_reply,
    stream_reply,
)

from chatterm.config import load_config
from chatterm.conversation import Conversation, MessageState, Role
from chatterm.engine.events import (
    ReplyFailed,
    ReplyFinished,
    ReplyRestored,
    SessionEvent,
    TextArrived,
)
from chatterm.engine.session import CONTINUE_INSTRUCTION, ChatSession
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
    assert [e.text for e in events if isinstance(e, TextArrived) and e.kind == "content"] == [
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
    await _poll(lambda: any(isinstance(e, TextArrived) for e in seen))
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


async def test_retry_regenerates_last_reply(
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
    assert (reply.content, reply.state, reply.error) == (
        "fresh answer", MessageState.COMPLETE, None)
    assert loopback.requests[1].json["messages"] == [{"role": "user", "content": "question"}]
    saved = store.get_conversation(session.conversation.id).messages
    # The new reply took the old one's place: still one prompt and one reply.
    assert [(m.id, m.content) for m in saved] == [
        (saved[0].id, "question"), (reply.id, "fresh answer")]
    assert session.conversation.messages[-1] is reply
    assert store.count_messages(session.conversation.id) == 2


# ---- a retry or continue that is stopped or fails gives the reply back ----------------------

def _export(conversation_id: str) -> list[dict]:  # type: ignore[type-arg]
    """The messages as `show --json` prints them, read through a second connection."""
    from chatterm.transfer import export_json

    with Store.open() as other:
        return json.loads(export_json(other.get_tree(conversation_id)))["messages"]


async def _finished_reply(loopback: LoopbackServer, store: Store) -> tuple[ChatSession, list]:  # type: ignore[type-arg]
    loopback.script("chat/completions", sse_reply(
        ["The ", "answer."], usage={"prompt_tokens": 3, "completion_tokens": 2,
                                    "total_tokens": 5}))
    session = _session(loopback, store)
    await session.send("question")
    before = _export(session.conversation.id)
    assert before[-1]["state"] == "complete" and before[-1]["content"] == "The answer."
    return session, before


async def test_retry_stopped_while_waiting_gives_the_reply_back(
    loopback: LoopbackServer, store: Store
) -> None:
    session, before = await _finished_reply(loopback, store)
    answer = threading.Event()
    loopback.script("chat/completions", Reply(before=[Hold(answer)]))
    events: list[SessionEvent] = []
    task = asyncio.create_task(session.retry(events.append))
    try:
        await asyncio.to_thread(loopback.wait_for_requests, 2)
        # While it waits, the finished reply is saved as it was.
        assert _export(session.conversation.id)[:2] == before
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    finally:
        answer.set()
    assert _export(session.conversation.id) == before
    restored = [e for e in events if isinstance(e, ReplyRestored)]
    assert len(restored) == 1 and restored[0].message.content == "The answer."
    assert session.conversation.messages[-1] is restored[0].message


async def test_retry_stopped_mid_stream_or_failing_never_touches_the_reply(
    loopback: LoopbackServer, store: Store
) -> None:
    session, before = await _finished_reply(loopback, store)
    release = threading.Event()
    loopback.script("chat/completions", [
        sse_reply(["A different ", "answer"], hold=release),
        json_reply({"error": {"message": "overloaded"}}, status=400),
        stream_reply([sse_chunks(["half of "], done=False, finish_reason=None)[0], Drop()]),
    ])
    seen: list[SessionEvent] = []
    task = asyncio.create_task(session.retry(seen.append))
    try:
        await _poll(lambda: any(isinstance(e, TextArrived) for e in seen))
        # The attempt streams into its own row; the old one is untouched meanwhile.
        during = _export(session.conversation.id)
        assert during[:2] == before and during[2]["state"] == "streaming"
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    finally:
        release.set()
    # Stopped after some text: the old reply is exactly as it was, and what arrived is
    # a version of its own (interrupted), the one shown; ← gives the old one back.
    after = _export(session.conversation.id)
    assert after[:2] == before
    assert (after[2]["content"], after[2]["state"]) == ("A different ", "interrupted")
    assert after[2]["parent_id"] == before[1]["parent_id"]
    await session.flip(after[2]["id"], -1)
    # An error before any text: nothing new at all, the reply shown stays.
    kept = await session.retry()
    assert kept.content == "The answer." and kept.state is MessageState.COMPLETE
    assert _export(session.conversation.id) == after
    # A connection lost after some text: a third version, the old ones untouched.
    cut = await session.retry()
    assert (cut.content, cut.state) == ("half of ", MessageState.INTERRUPTED)
    assert _export(session.conversation.id)[:3] == after
    assert session.versions(cut.id) == (3, 3)
    for _ in range(2):
        await session.flip(session.conversation.messages[-1].id, -1)
    # The next request carries the reply shown.
    loopback.script("chat/completions", sse_reply(["ok"]))
    await session.send("next")
    assert loopback.requests[-1].json["messages"][1] == {
        "role": "assistant", "content": "The answer."}


async def test_a_retry_of_a_reply_that_held_nothing_keeps_what_the_attempt_got(
    loopback: LoopbackServer, store: Store
) -> None:
    loopback.script("chat/completions", [
        json_reply({"error": {"message": "overloaded"}}, status=400),
        stream_reply([sse_chunks(["something"], done=False, finish_reason=None)[0], Drop()]),
    ])
    session = _session(loopback, store)
    await session.send("question")
    reply = await session.retry()
    assert (reply.content, reply.state) == ("something", MessageState.INTERRUPTED)
    saved = _export(session.conversation.id)
    assert [m["content"] for m in saved] == ["question", "something"]


async def test_continue_stopped_or_failing_gives_the_reply_back(
    loopback: LoopbackServer, store: Store
) -> None:
    for kind in ("openai", "mistral"):
        loopback.script("chat/completions", sse_reply(["Cut off"], finish_reason="length"))
        session = _session(loopback, store, kind=kind)
        await session.send("question")
        before = _export(session.conversation.id)
        assert before[-1]["finish_reason"] == "length"
        answer = threading.Event()
        loopback.script("chat/completions", [
            Reply(before=[Hold(answer)]),
            json_reply({"error": {"message": "overloaded"}}, status=400),
        ])
        events: list[SessionEvent] = []
        task = asyncio.create_task(session.continue_reply(events.append))
        try:
            await _poll(lambda: loopback.pending("chat/completions") == 1)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
        finally:
            answer.set()
        assert _export(session.conversation.id) == before, kind
        assert any(isinstance(e, ReplyRestored) for e in events)
        reply = await session.continue_reply()
        assert reply.content == "Cut off" and reply.finish_reason == "length"
        assert _export(session.conversation.id) == before, kind


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


# ---- what is sent: roles alternate, tool calls are answered ----------------------------------

def _chunk(delta: dict, finish: str | None = None) -> bytes:  # type: ignore[type-arg]
    return sse_event({"id": "c", "object": "chat.completion.chunk", "model": "test-model",
                      "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})


async def test_a_refused_reply_is_sent_as_the_assistants_turn(
    loopback: LoopbackServer, store: Store
) -> None:
    loopback.script("chat/completions", [
        stream_reply([_chunk({"role": "assistant", "refusal": "I can't help with that."}),
                      _chunk({}, "stop"), b"data: [DONE]\n\n"]),
        sse_reply(["ok"]),
    ])
    session = _session(loopback, store)
    refused = await session.send("do something bad")
    assert (refused.content, refused.refusal) == ("", "I can't help with that.")
    await session.send("then something good")
    assert loopback.wait_for_requests(2)[1].json["messages"] == [
        {"role": "user", "content": "do something bad"},
        {"role": "assistant", "content": "I can't help with that."},
        {"role": "user", "content": "then something good"},
    ]


async def test_a_reply_that_failed_empty_does_not_send_two_user_turns(
    loopback: LoopbackServer, store: Store
) -> None:
    loopback.script("chat/completions", [
        json_reply({"error": {"message": "overloaded"}}, status=400), sse_reply(["ok"])])
    session = _session(loopback, store)
    assert (await session.send("first")).state is MessageState.ERROR
    await session.send("second")
    assert loopback.wait_for_requests(2)[1].json["messages"] == [
        {"role": "user", "content": "first\n\nsecond"}]
    # What is saved is untouched: two prompts, the failed reply between them.
    saved = store.get_conversation(session.conversation.id).messages
    assert [(m.role, m.content) for m in saved[:3]] == [
        (Role.USER, "first"), (Role.ASSISTANT, ""), (Role.USER, "second")]


async def test_tool_calls_nobody_ran_are_answered_as_not_run(
    loopback: LoopbackServer, store: Store
) -> None:
    call = {"index": 0, "id": "call_1", "type": "function",
            "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}
    second = {"index": 1, "id": "call_2", "type": "function",
              "function": {"name": "get_time", "arguments": "{}"}}
    loopback.script("chat/completions", [
        stream_reply([_chunk({"role": "assistant", "tool_calls": [call, second]}),
                      _chunk({}, "tool_calls"), b"data: [DONE]\n\n"]),
        sse_reply(["It is sunny."]),
        sse_reply(["Bye."]),
    ])
    session = _session(loopback, store)
    asked = await session.send("weather in Paris?")
    assert [c.id for c in asked.tool_calls] == ["call_1", "call_2"]
    await session.send("well?")
    await session.send("thanks")
    sent = loopback.wait_for_requests(3)[1].json["messages"]
    assert [m["role"] for m in sent] == ["user", "assistant", "tool", "tool", "user"]
    assert [c["id"] for c in sent[1]["tool_calls"]] == ["call_1", "call_2"]
    assert [(m["tool_call_id"], m["content"][:8]) for m in sent[2:4]] == [
        ("call_1", "not run:"), ("call_2", "not run:")]
    # Later requests carry the same answers, and the reply after them as usual.
    later = loopback.requests[2].json["messages"]
    assert [m["role"] for m in later] == [
        "user", "assistant", "tool", "tool", "user", "assistant", "user"]
    # Nothing was invented in the store: the answers exist on the wire only.
    roles = [m.role for m in store.get_conversation(session.conversation.id).messages]
    assert Role.TOOL not in roles


def test_saved_tool_results_are_sent_and_only_missing_ones_are_made_up() -> None:
    from chatterm.conversation import Conversation, Message, ToolCall
    from chatterm.engine.wire import TOOL_NOT_RUN, wire_messages

    conversation = Conversation(provider="p", model="m", messages=[
        Message(role=Role.USER, content="go"),
        Message(role=Role.ASSISTANT, tool_calls=[ToolCall("a", "f"), ToolCall("b", "g")]),
        Message(role=Role.TOOL, content="42", tool_call_id="b"),
        Message(role=Role.USER, content="next"),
    ])
    assert wire_messages(conversation)[1:] == [
        {"role": "assistant", "content": "", "tool_calls": [
            {"id": "a", "type": "function", "function": {"name": "f", "arguments": ""}},
            {"id": "b", "type": "function", "function": {"name": "g", "arguments": ""}}]},
        {"role": "tool", "content": "42", "tool_call_id": "b"},
        {"role": "tool", "content": TOOL_NOT_RUN, "tool_call_id": "a"},
        {"role": "user", "content": "next"},
    ]


def test_of_two_saved_attempts_at_one_turn_only_the_later_is_sent() -> None:
    from chatterm.conversation import Conversation, Message
    from chatterm.engine.wire import wire_messages

    conversation = Conversation(provider="p", model="m", messages=[
        Message(role=Role.USER, content="go"),
        Message(role=Role.ASSISTANT, content="old answer"),
        Message(role=Role.ASSISTANT, content="newer, cut off", state=MessageState.INTERRUPTED),
        Message(role=Role.USER, content="next"),
    ])
    assert [m["content"] for m in wire_messages(conversation)] == [
        "go", "newer, cut off", "next"]


async def test_an_unexpected_failure_of_a_save_never_stops_the_saving(
    loopback: LoopbackServer, store: Store
) -> None:
    # The first save while streaming fails with something that is not a StoreError (as a
    # lone surrogate's UnicodeEncodeError once did): the saver carries on, so the text
    # received so far still reaches the disk while the stream goes on, and the reply ends.
    failures: list[str] = []
    real_update = store.update_message

    def update_message(message):  # type: ignore[no-untyped-def]
        if message.state is MessageState.STREAMING and not failures:
            failures.append(message.content)
            raise ValueError("unexpected")
        return real_update(message)

    store.update_message = update_message  # type: ignore[method-assign]
    release = threading.Event()
    loopback.script("chat/completions", sse_reply(["first part ", "second part"], hold=release))
    session = _session(loopback, store)
    task = asyncio.create_task(session.send("go"))
    try:
        await _poll(lambda: failures and len(session.conversation.messages) == 2
                    and _stored_reply(session.conversation.id)[0] == "first part ")
    finally:
        release.set()
    reply = await task
    assert reply.state is MessageState.COMPLETE
    assert _stored_reply(session.conversation.id) == ("first part second part", "complete")
