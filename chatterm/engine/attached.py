"""A prompt's attachments as the model gets them, in every request that carries the prompt.

- A text file goes inside the message's text, after the prompt (as `ask` puts piped text
  after the words): a line naming the file, then its text in a code fence longer than any
  backtick run inside it, so the file can never close the fence early.
- An image makes the message's content a list of parts: the text first (prompt and text
  files), then one `image_url` part per image with a `data:` URL (base64), the form
  OpenAI-compatible APIs and Mistral both take.

Every request re-sends the whole history, so an earlier prompt's attachments go again: the
bytes come from the session's memory (a prompt not saved, `ask --no-save`) or the store
(one read on the store's thread for all of them). Base64 of a 10 MB image takes a few
tens of milliseconds: it runs off the event loop (`asyncio.to_thread`), once per
distinct content per request.
"""

from __future__ import annotations

import asyncio
import base64
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from chatterm.attach_files import attachment_text, check_count
from chatterm.attachments import AttachmentError
from chatterm.conversation import Message, Role
from chatterm.engine.wire import wire_messages

if TYPE_CHECKING:
    from chatterm.engine.protocols import SessionStore
    from chatterm.engine.session import ChatSession, Turn

Content = str | list[dict[str, Any]]


def fenced(name: str, text: str) -> str:
    """A text file as it is sent: its name on a line, then its text fenced."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    ticks = "`" * max(3, longest + 1)
    body = text if text.endswith("\n") or not text else text + "\n"
    return f"{name}\n{ticks}\n{body}{ticks}"


def data_url(mime: str, data: bytes) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def user_content(message: Message, data: Mapping[str, bytes],
                 urls: dict[str, str] | None = None) -> Content:
    """The `content` of a user message with its attachments (`data`: bytes by sha256;
    `urls`: data URLs made so far in this request, by sha256, filled as it goes)."""
    urls = {} if urls is None else urls
    texts = [message.content] if message.content else []
    images: list[dict[str, Any]] = []
    for attachment in message.attachments:
        raw = data[attachment.sha256]
        if attachment.kind == "image":
            url = urls.get(attachment.sha256)
            if url is None:
                url = urls[attachment.sha256] = data_url(attachment.mime, raw)
            images.append({"type": "image_url", "image_url": {"url": url}})
        else:
            texts.append(fenced(attachment.name, attachment_text(raw)))
    text = "\n\n".join(texts)
    if not images:
        return text
    return ([{"type": "text", "text": text}] if text else []) + images


def contents(messages: Sequence[Message], data: Mapping[str, bytes]) -> dict[str, Content]:
    """user_content of each message, by id (an image in several prompts is encoded once)."""
    urls: dict[str, str] = {}
    return {message.id: user_content(message, data, urls) for message in messages}


async def history(session: ChatSession, upto: int | None = None) -> list[dict[str, Any]]:
    """wire_messages of the session's conversation, with every attachment in it."""
    conversation = session.conversation
    messages = conversation.messages if upto is None else conversation.messages[:upto]
    attached = [m for m in messages if m.role is Role.USER and m.attachments]
    if not attached:
        return wire_messages(conversation, upto)
    wanted = {a.sha256 for m in attached for a in m.attachments}
    data = await blob_bytes(session, wanted)
    made = await asyncio.to_thread(contents, attached, data)
    if session.saved:
        # The store has them now: memory holds only what nothing else keeps.
        for sha256 in wanted:
            session.blobs.pop(sha256, None)
    return wire_messages(conversation, upto, contents=made)


async def blob_bytes(session: ChatSession, wanted: set[str]) -> dict[str, bytes]:
    """The bytes of each sha256 in `wanted`: from memory, else the store (one queued read,
    after the writes queued before it, so a prompt saved just now is there)."""
    found = {sha256: session.blobs[sha256] for sha256 in wanted if sha256 in session.blobs}
    missing = sorted(wanted - found.keys())
    if missing:
        store = session.store if session.saved else None
        if store is None:
            raise AttachmentError(f"the bytes of attachment {missing[0][:12]} are not at "
                                  "hand (not saved, and not in this session's memory)")
        found.update(await session._run(read_blobs, store, missing))
    return found


def read_blobs(store: SessionStore, wanted: Sequence[str]) -> dict[str, bytes]:
    """The bytes of each of `wanted` from the store (schema v5), on its thread."""
    return {sha256: store.attachment_data(sha256) for sha256 in wanted}


def attach_to(session: ChatSession, turn: Turn) -> None:
    """Give a new turn's prompt the attachments in `turn.blobs`, refusing more than
    [attachments] max_count before anything is saved or sent."""
    check_count(len(turn.blobs), session.config.attachments)
    turn.user.attachments = [blob.meta for blob in turn.blobs]
