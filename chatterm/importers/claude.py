"""Claude's data export (`conversations.json`, alone or in the export's .zip).

The file is a list of conversations, each with `chat_messages`: `sender` human or
assistant, the text in `text` or in `content` blocks, `created_at`, and, in newer exports,
`parent_message_uuid` (edited prompts and retried replies are siblings; without it the
messages are one line, in order) and the conversation's `current_leaf_message_uuid`.
Text blocks are kept, thinking blocks become the reply's reasoning, a tool call is a line
naming the tool with its input as a code block, a tool's result is a line naming it (its
raw output, often whole web pages, is left out), and attached files are kept as a code
block of their extracted text, or a bracketed line naming them. The export holds no
model ids: a reply's model is the conversation's `model` when the file has one, else
"claude".
"""

from __future__ import annotations

import json
from typing import Any

from chatterm.conversation import Conversation, Role, title_from_prompt
from chatterm.errors import ImportFormatError
from chatterm.importers.common import (
    Defaults,
    Raw,
    build,
    conversation,
    fence,
    first_prompt,
    join,
    read_each,
    stable_id,
    text_of,
    timestamp,
)

NAME = "a Claude export"
PROVIDER = "claude.ai"

_ROLES = {"human": Role.USER, "user": Role.USER, "assistant": Role.ASSISTANT}


def looks_like(doc: Any) -> bool:
    return isinstance(doc, list) and bool(doc) and isinstance(doc[0], dict) \
        and "chat_messages" in doc[0]


def read(doc: Any, defaults: Defaults) -> list[Conversation]:
    if not isinstance(doc, list):
        raise ImportFormatError("not a Claude export: the top level is not a list")
    return read_each(doc, "Claude export",
                     lambda item, where: _conversation(item, defaults, where))


def _conversation(item: dict[str, Any], defaults: Defaults, where: str) -> Conversation:
    source_id = item.get("uuid")
    if not isinstance(source_id, str) or not source_id:
        raise ImportFormatError(f"{where} has no 'uuid'")
    messages = item.get("chat_messages")
    if not isinstance(messages, list):
        raise ImportFormatError(f"{where}: 'chat_messages' must be a list")
    created = timestamp(item.get("created_at"), 0.0) or 0.0
    # The export names no model; "claude" says at least whose reply it is.
    model = text_of(item.get("model")) or "claude"
    raws: list[Raw] = []
    previous: str | None = None
    for number, message in enumerate(messages, start=1):
        if not isinstance(message, dict):
            raise ImportFormatError(f"{where}: message {number} is not an object")
        key = text_of(message.get("uuid")) or f"#{number}"
        # Without parent links (older exports) the messages are one line, in order.
        parent = message.get("parent_message_uuid", previous)
        role = _ROLES.get(text_of(message.get("sender")))
        content, reasoning = _content(message)
        raws.append(Raw(key, parent if isinstance(parent, str) else None, role,
                        content=content, reasoning=reasoning,
                        created_at=timestamp(message.get("created_at")),
                        model=model if role is Role.ASSISTANT else None,
                        provider=PROVIDER if role is Role.ASSISTANT else None))
        previous = key
    cid = stable_id(PROVIDER, source_id)
    current = item.get("current_leaf_message_uuid")
    built = build(cid, raws, current if isinstance(current, str) else previous,
                  created_at=created)
    title = text_of(item.get("name")).strip()
    return conversation(cid, title=title or title_from_prompt(first_prompt(built)),
                        created_at=created, updated_at=timestamp(item.get("updated_at")),
                        defaults=defaults, built=built)


def _content(message: dict[str, Any]) -> tuple[str, str]:
    """(text, reasoning) of one message, attachments included."""
    blocks = message.get("content")
    texts: list[str] = []
    thinking: list[str] = []
    if isinstance(blocks, list) and blocks:
        for block in blocks:
            if isinstance(block, dict):
                _block(block, texts, thinking)
    else:
        texts.append(text_of(message.get("text")))
    for attachment in message.get("attachments") or []:
        if isinstance(attachment, dict):
            name = text_of(attachment.get("file_name")) or "a file"
            extracted = text_of(attachment.get("extracted_content"))
            texts.append(f"Attached {name}:\n\n{fence(extracted)}" if extracted.strip()
                         else f"[attached: {name}]")
    for file in message.get("files") or []:
        if isinstance(file, dict):
            texts.append(f"[attached: {text_of(file.get('file_name')) or 'a file'}]")
    return join(*texts), join(*thinking)


def _block(block: dict[str, Any], texts: list[str], thinking: list[str]) -> None:
    kind = block.get("type")
    if kind == "text":
        texts.append(text_of(block.get("text")))
    elif kind == "thinking":
        thinking.append(text_of(block.get("thinking")))
    elif kind == "tool_use":
        name = text_of(block.get("name")) or "a tool"
        given = block.get("input")
        shown = json.dumps(given, ensure_ascii=False, indent=2) if given else ""
        texts.append(f"*Used {name}*" + (f"\n\n{fence(shown, 'json')}" if shown else ""))
    elif kind == "tool_result":
        texts.append(f"*Result from {text_of(block.get('name')) or 'the tool'}*")
    elif isinstance(block.get("text"), str):
        texts.append(block["text"])
