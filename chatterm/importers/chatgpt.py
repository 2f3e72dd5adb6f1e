"""ChatGPT's data export (`conversations.json`, alone or in the export's .zip).

The file is a list of conversations, each a tree: `mapping` holds every node by id, each
with its `message` (or none, for the root), `parent` and `children`; `current_node` is the
leaf of the branch ChatGPT showed. Every branch is kept and `current_node` becomes the
current one. What ChatGPT itself does not show is left out: the empty root and system
nodes, nodes marked `is_visually_hidden_from_conversation`, the assistant's calls to its
tools other than the code interpreter (searches, image prompts, memory), and the raw
browsing results; their children move up to the nearest message kept. Other content
becomes Markdown text: code sent to the interpreter and its output as code blocks, quotes
from pages as block quotes, images and files as a bracketed line naming them. A reply
stored in pieces (its thinking, code, output and answer) becomes one reply, its thinking
as the reply's reasoning. Custom instructions become the conversation's system prompt.
"""

from __future__ import annotations

from typing import Any

from chatterm.conversation import Conversation, MessageState, Role, title_from_prompt
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

NAME = "a ChatGPT export"
PROVIDER = "chatgpt"


def looks_like(doc: Any) -> bool:
    items = _items(doc)
    return items is not None and bool(items) and isinstance(items[0], dict) \
        and "mapping" in items[0]


def _items(doc: Any) -> list[Any] | None:
    if isinstance(doc, dict) and isinstance(doc.get("conversations"), list):
        doc = doc["conversations"]
    return doc if isinstance(doc, list) else None


def read(doc: Any, defaults: Defaults) -> list[Conversation]:
    items = _items(doc)
    if items is None:
        raise ImportFormatError("not a ChatGPT export: the top level is not a list")
    return read_each(items, "ChatGPT export",
                     lambda item, where: _conversation(item, defaults, where))


def _conversation(item: dict[str, Any], defaults: Defaults, where: str) -> Conversation:
    source_id = item.get("conversation_id") or item.get("id")
    if not isinstance(source_id, str) or not source_id:
        raise ImportFormatError(f"{where} has no 'id'")
    mapping = item.get("mapping")
    if not isinstance(mapping, dict):
        raise ImportFormatError(f"{where}: 'mapping' must be an object")
    created = timestamp(item.get("create_time"), 0.0) or 0.0
    default_model = text_of(item.get("default_model_slug")) or None
    raws: list[Raw] = []
    instructions = ""
    for key, node in mapping.items():
        if not isinstance(node, dict):
            raise ImportFormatError(f"{where}: node {key!r} is not an object")
        message = node.get("message")
        instructions = instructions or _instructions(message)
        raws.append(_raw(str(key), node, default_model))
    cid = stable_id(PROVIDER, source_id)
    current = item.get("current_node")
    built = build(cid, raws, current if isinstance(current, str) else None,
                  created_at=created)
    title = text_of(item.get("title")).strip()
    return conversation(cid, title=title or title_from_prompt(first_prompt(built)),
                        created_at=created, updated_at=timestamp(item.get("update_time")),
                        defaults=defaults, built=built, system_prompt=instructions)


def _raw(key: str, node: dict[str, Any], default_model: str | None) -> Raw:
    parent = node.get("parent")
    parent = parent if isinstance(parent, str) else None
    message = node.get("message")
    if not isinstance(message, dict):
        return Raw(key, parent, None)
    author = message.get("author") or {}
    role = author.get("role") if isinstance(author, dict) else None
    metadata = message.get("metadata") or {}
    if not isinstance(metadata, dict):
        metadata = {}
    content = message.get("content") or {}
    if not isinstance(content, dict):
        content = {}
    kind = text_of(content.get("content_type"))
    recipient = message.get("recipient") or "all"
    raw = Raw(key, parent, None, created_at=timestamp(message.get("create_time")))
    if metadata.get("is_visually_hidden_from_conversation") or role not in (
            "user", "assistant", "tool"):
        return raw  # system nodes, custom instructions (read on their own), hidden ones
    if role == "user":
        raw.role = Role.USER
        raw.content = join(_render(content), _attachments(metadata))
        return raw
    raw.role = Role.ASSISTANT
    raw.provider = PROVIDER
    raw.model = text_of(metadata.get("model_slug")) or default_model
    finish = metadata.get("finish_details")
    if isinstance(finish, dict) and isinstance(finish.get("type"), str):
        raw.finish_reason = finish["type"]
    if message.get("status") not in (None, "finished_successfully") \
            or raw.finish_reason == "interrupted":
        raw.state = MessageState.INTERRUPTED
    if role == "assistant" and recipient != "all":
        # A call to a tool: the code interpreter's code is shown (ChatGPT shows it too);
        # searches, image prompts, memory and canvas calls are not.
        if recipient == "python" and kind == "code":
            raw.content = fence(text_of(content.get("text")), "python")
        return raw
    if role == "tool":
        raw.content = _tool_output(content, kind)
        return raw
    if kind == "thoughts":
        raw.reasoning = _thoughts(content)
    elif kind not in ("reasoning_recap", "tether_browsing_display", "model_editable_context"):
        raw.content = _render(content)
    return raw


def _instructions(message: Any) -> str:
    """Custom instructions ("about me", "how to answer"), which ChatGPT sends as a hidden
    system message: chatterm keeps them as the conversation's system prompt."""
    if not isinstance(message, dict):
        return ""
    content = message.get("content") or {}
    metadata = message.get("metadata") or {}
    if isinstance(content, dict) and content.get("content_type") == "user_editable_context":
        return join(text_of(content.get("user_profile")),
                    text_of(content.get("user_instructions")))
    data = metadata.get("user_context_message_data") if isinstance(metadata, dict) else None
    if isinstance(data, dict):
        return join(text_of(data.get("about_user_message")),
                    text_of(data.get("about_model_message")))
    return ""


def _render(content: dict[str, Any]) -> str:
    kind = content.get("content_type")
    if kind == "code":
        language = text_of(content.get("language"))
        return fence(text_of(content.get("text")), "" if language == "unknown" else language)
    if kind == "tether_quote":
        return _quote(content)
    if kind == "system_error":
        return f"*Error: {text_of(content.get('name'))}* {text_of(content.get('text'))}"
    parts = content.get("parts")
    if isinstance(parts, list):
        return join(*(_part(part) for part in parts))
    return text_of(content.get("text"))


def _part(part: Any) -> str:
    if isinstance(part, str):
        return part
    if not isinstance(part, dict):
        return ""
    kind = text_of(part.get("content_type"))
    if kind == "image_asset_pointer":
        width, height = part.get("width"), part.get("height")
        size = f" {width}×{height}" if isinstance(width, int) and isinstance(height, int) else ""
        return f"[image{size}]"
    if isinstance(part.get("text"), str):  # audio transcriptions and the like
        return str(part["text"])
    return f"[{kind.replace('_', ' ') or 'attachment'}]"


def _tool_output(content: dict[str, Any], kind: str) -> str:
    if kind == "execution_output":
        output = text_of(content.get("text"))
        return f"Output:\n\n{fence(output)}" if output.strip() else ""
    if kind == "multimodal_text":  # images a tool made (the interpreter's charts, DALL·E)
        return _render(content)
    if kind == "tether_quote":
        return _quote(content)
    return ""  # search results, browsing pages, memory updates: ChatGPT shows none of it


def _quote(content: dict[str, Any]) -> str:
    text = text_of(content.get("text")).strip()
    if not text:
        return ""
    source = text_of(content.get("title")) or text_of(content.get("domain"))
    url = text_of(content.get("url"))
    quoted = "\n".join(f"> {line}" if line else ">" for line in text.splitlines())
    credit = f"[{source or url}]({url})" if url else source
    return quoted + (f"\n>\n> — {credit}" if credit else "")


def _thoughts(content: dict[str, Any]) -> str:
    thoughts = content.get("thoughts")
    if not isinstance(thoughts, list):
        return ""
    pieces = []
    for thought in thoughts:
        if isinstance(thought, dict):
            summary, body = text_of(thought.get("summary")), text_of(thought.get("content"))
            pieces.append(join(f"**{summary}**" if summary else "", body))
    return join(*pieces)


def _attachments(metadata: dict[str, Any]) -> str:
    files = metadata.get("attachments")
    if not isinstance(files, list):
        return ""
    names = [text_of(f.get("name")) or "a file" for f in files if isinstance(f, dict)]
    return "\n".join(f"[attached: {name}]" for name in names)
