"""Attachments in the engine: a prompt's files and images in every request that carries
it (send, the next send, regenerate, edit, continue), the merge of two user turns with
parts, the count checked before anything, the encoding off the event loop."""

from __future__ import annotations

import base64
import threading
from pathlib import Path

import pytest
from attach_samples import png
from chatterm_env import write_config
from loopback import LoopbackServer, sse_reply

from chatterm.attach_files import load_bytes
from chatterm.attachments import AttachmentError, AttachmentLimits
from chatterm.config import load_config
from chatterm.conversation import Conversation, Message, MessageState, Role
from chatterm.engine import attached
from chatterm.engine.session import ChatSession
from chatterm.engine.wire import wire_messages

LIMITS = AttachmentLimits()
IMAGE = png(8, 8, padding=100)


def _session(loopback: LoopbackServer, store: object = None) -> ChatSession:
    write_config(loopback.url, model="gpt-4o")
    config = load_config()
    conversation = Conversation(provider=config.default_provider, model=config.default_model)
    return ChatSession(store, config, conversation)  # type: ignore[arg-type]


def _users(loopback: LoopbackServer, index: int = -1) -> list[object]:
    return [m["content"] for m in loopback.requests[index].json["messages"]
            if m["role"] == "user"]


def _url(data: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(data).decode()


async def test_the_history_carries_earlier_attachments_in_every_request(
        loopback: LoopbackServer, isolated_env: Path) -> None:
    loopback.script("chat/completions", [sse_reply(["one"]), sse_reply(["two"]),
                                         sse_reply(["three"])])
    session = _session(loopback)
    image = load_bytes(IMAGE, "a.png", LIMITS)
    notes = load_bytes(b"x = 1\n", "a.py", LIMITS)
    await session.send("look", attachments=[image, notes])
    first = [{"type": "text", "text": "look\n\na.py\n```\nx = 1\n```"},
             {"type": "image_url", "image_url": {"url": _url(IMAGE)}}]
    assert _users(loopback) == [first]
    await session.send("and now?")
    assert _users(loopback) == [first, "and now?"]
    await session.retry()
    assert _users(loopback) == [first, "and now?"]
    user = session.conversation.messages[0]
    assert [a.name for a in user.attachments] == ["a.png", "a.py"]
    assert user.attachments[0].width == 8


async def test_an_edit_keeps_the_prompt_s_attachments_unless_given_others(
        loopback: LoopbackServer, isolated_env: Path) -> None:
    loopback.script("chat/completions", [sse_reply(["r"])] * 3)
    session = _session(loopback)
    await session.send("what is it", attachments=[load_bytes(IMAGE, "a.png", LIMITS)])
    prompt = session.conversation.messages[0]
    turn = session.new_edit(prompt.id, "what colour is it")
    assert [a.name for a in turn.user.attachments] == ["a.png"]  # shown before it is sent
    await session.edit(turn)
    assert _users(loopback) == [[{"type": "text", "text": "what colour is it"},
                                 {"type": "image_url", "image_url": {"url": _url(IMAGE)}}]]
    other = png(2, 2)
    turn = session.new_edit(session.conversation.messages[0].id, "and this",
                            [load_bytes(other, "b.png", LIMITS)])
    await session.edit(turn)
    assert _users(loopback)[0][1]["image_url"]["url"] == _url(other)


async def test_the_count_is_checked_before_anything_is_sent(
        loopback: LoopbackServer, isolated_env: Path) -> None:
    session = _session(loopback)
    blobs = [load_bytes(f"file {n}".encode(), f"{n}.txt", LIMITS) for n in range(11)]
    with pytest.raises(AttachmentError, match=r"11 attachments: a message can carry up to 10"):
        await session.send("too many", attachments=blobs)
    assert loopback.requests == [] and session.conversation.messages == []


async def test_an_image_alone_is_a_prompt_and_names_the_chat(
        loopback: LoopbackServer, isolated_env: Path) -> None:
    loopback.script("chat/completions", sse_reply(["a cat"]))
    session = _session(loopback)
    await session.send("", attachments=[load_bytes(IMAGE, "cat.png", LIMITS)])
    assert _users(loopback) == [[{"type": "image_url", "image_url": {"url": _url(IMAGE)}}]]
    assert session.conversation.title == "cat.png"
    with pytest.raises(Exception, match="the prompt is empty"):
        await session.send("  ")


async def test_the_encoding_runs_off_the_event_loop(
        loopback: LoopbackServer, isolated_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    loopback.script("chat/completions", sse_reply(["ok"]))
    session = _session(loopback)
    threads: list[int] = []
    real = attached.contents

    def recording(*args: object) -> object:
        threads.append(threading.get_ident())
        return real(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(attached, "contents", recording)
    await session.send("hi", attachments=[load_bytes(IMAGE, "a.png", LIMITS)])
    assert threads and threads[0] != threading.get_ident()


def test_two_user_turns_in_a_row_merge_their_parts_in_order() -> None:
    conversation = Conversation(provider="p", model="m")
    first = Message(role=Role.USER, content="first")
    failed = Message(role=Role.ASSISTANT, state=MessageState.ERROR, error="boom")
    second = Message(role=Role.USER, content="second")
    third = Message(role=Role.USER, content="third")
    conversation.messages = [first, failed, second, third]
    image = {"type": "image_url", "image_url": {"url": "data:image/png;base64,AA=="}}
    wire = wire_messages(conversation, contents={
        second.id: [{"type": "text", "text": "second"}, image]})
    assert wire == [{"role": "user", "content": [
        {"type": "text", "text": "first"}, {"type": "text", "text": "second"}, image,
        {"type": "text", "text": "third"}]}]
    # Plain text turns still join by a blank line.
    assert wire_messages(conversation)[0]["content"] == "first\n\nsecond\n\nthird"


def test_a_text_file_fence_is_longer_than_any_backtick_run_in_it() -> None:
    assert attached.fenced("a.md", "x ``` y ```` z") == "a.md\n`````\nx ``` y ```` z\n`````"
    assert attached.fenced("e.txt", "") == "e.txt\n```\n```"
    message = Message(role=Role.USER, content="")
    blob = load_bytes("\ufeffwith bom\n".encode(), "b.txt", LIMITS)
    message.attachments = [blob.meta]
    # The byte-order mark is the file's, not its text: it is not sent.
    assert attached.user_content(message, {blob.meta.sha256: blob.data}) == \
        "b.txt\n```\nwith bom\n```"


def test_an_image_in_several_prompts_is_encoded_once_per_request(monkeypatch) -> None:
    calls: list[int] = []
    real = attached.data_url

    def counting(mime: str, data: bytes) -> str:
        calls.append(len(data))
        return real(mime, data)

    monkeypatch.setattr(attached, "data_url", counting)
    blob = load_bytes(IMAGE, "a.png", LIMITS)
    messages = [Message(role=Role.USER, content=str(n), attachments=[blob.meta])
                for n in range(3)]
    made = attached.contents(messages, {blob.meta.sha256: blob.data})
    assert len(made) == 3 and calls == [len(IMAGE)]


class BlobStore:
    """The real Store plus a dict of blobs: what the engine asks of schema v5's store
    (add_messages/create_conversation with blobs=, attachment_data), to test the engine's
    side of the saved path on its own."""

    def __init__(self, store: object) -> None:
        self.inner = store
        self.blobs: dict[str, bytes] = {}
        self.reads: list[str] = []

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)

    def _keep(self, blobs: object) -> None:
        for blob in blobs or ():  # type: ignore[attr-defined]
            self.blobs[blob.meta.sha256] = blob.data

    def create_conversation(self, conv: Conversation, *, blobs: object = ()) -> None:
        self._keep(blobs)
        self.inner.create_conversation(conv, blobs=blobs)  # type: ignore[attr-defined]

    def add_messages(self, messages: object, *, current_id: str | None = None,
                     blobs: object = ()) -> list[int]:
        self._keep(blobs)
        return self.inner.add_messages(  # type: ignore[attr-defined]
            messages, current_id=current_id, blobs=blobs)

    def attachment_data(self, sha256: str) -> bytes:
        self.reads.append(threading.current_thread().name)
        return self.blobs[sha256]


async def test_saved_blobs_go_with_the_prompt_and_come_back_from_the_store(
        loopback: LoopbackServer, store) -> None:
    loopback.script("chat/completions", [sse_reply(["one"]), sse_reply(["two"]),
                                         sse_reply(["three"])])
    kept = BlobStore(store)
    session = _session(loopback, kept)
    image = load_bytes(IMAGE, "a.png", LIMITS)
    await session.send("look", attachments=[image])  # a new chat: create_conversation
    assert kept.blobs == {image.meta.sha256: IMAGE}
    assert session.blobs == {}  # the store has them: memory lets go
    await session.send("again", attachments=[load_bytes(b"t\n", "t.txt", LIMITS)])
    assert len(kept.blobs) == 2  # add_messages carried the second
    await session.send("and?")
    # Read back on the store's writer thread, never on the loop.
    assert kept.reads and all(name.startswith("chatterm-store-writer") for name in kept.reads)
    assert _users(loopback)[0][1]["image_url"]["url"] == _url(IMAGE)
    assert await session.attachment_data(image.meta.sha256) == IMAGE


async def test_a_prompt_the_store_refuses_sends_nothing_and_leaves_nothing(
        loopback: LoopbackServer, store) -> None:
    session = _session(loopback, store)
    turn = session.new_turn("look", [load_bytes(IMAGE, "a.png", LIMITS)])
    turn.blobs = []  # a link to bytes neither given nor stored: the store refuses it
    with pytest.raises(Exception, match=turn.user.attachments[0].sha256[:12]) as caught:
        await session.send(turn)
    assert "\n" not in str(caught.value)
    assert loopback.requests == [] and session.conversation.messages == []
    assert store.list_conversations() == []
