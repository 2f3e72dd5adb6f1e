"""Export and import of conversations, and atomic writing of export files.

The JSON format (also what `chatterm show --json` prints), version 2:

    {
      "format": "chatterm", "version": 2,
      "id": str, "title": str, "created_at": float (Unix time), "updated_at": float,
      "provider": str, "model": str, "system_prompt": str,
      "params": {"temperature", "top_p", "max_tokens", "stop": [str], "seed", "safe_prompt"},
      "current_id": str or null (the leaf of the current branch; null: the leaf of the
                    most recently made branch),
      "messages": [ every message of every branch, parents before children (in the order
        they were made), each with all the fields of Message.to_dict():
        id, conversation_id, parent_id, role (system|user|assistant|tool), content,
        created_at, state (complete|streaming|interrupted|error), provider, model,
        finish_reason, usage {prompt_tokens, completion_tokens, total_tokens,
        reasoning_tokens, cost, raw} or null, reasoning, refusal,
        tool_calls [{id, name, arguments}], error, tool_call_id,
        attachments [{name, mime, size, sha256, width, height}] (only when it has any) ],
      "attachments": [{sha256, mime, size, data (base64)}] (an export's bytes, version 3)
    }

A document with attachments is version 3 (chatterm.transfer_blobs has the details); one
without stays version 2, exactly as before.

`parent_id` is the message it answers (null for a first prompt; a conversation whose first
prompt was edited has two roots). Versions of a message are siblings: same parent.
Version 1 (no `current_id`, one straight line) still imports: each message answers the
one before it. A file whose messages are not a tree (a parent that is not there or comes
after its child, a cycle, an id used twice) is refused with one line naming the message.

Exports are indented UTF-8 JSON; C1 controls, DEL, line/paragraph separators and bidi
overrides are written as \\u escapes so printing an export to a terminal is harmless.
API keys are not part of the model, so they can never appear in an export.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from chatterm import tool_text
from chatterm.attachments import PendingAttachment
from chatterm.conversation import Conversation, Message, MessageState, Role, ToolCall
from chatterm.errors import ImportFormatError
from chatterm.markdown_embed import embed
from chatterm.numbers import finite_json
from chatterm.sanitize import escape_json_text
from chatterm.transfer_blobs import VERSION_WITH_ATTACHMENTS, blob_entries, read_blobs
from chatterm.transfer_check import FORMAT_NAME, FORMAT_VERSION, check_document


def export_dict(conv: Conversation, blobs: Mapping[str, bytes] | None = None) -> dict[str, Any]:
    """The export of `conv` as given: pass `Store.get_tree` to export every branch;
    `blobs` (the bytes of its attachments by sha256) to carry them, as an export does."""
    attached = any(message.attachments for message in conv.messages)
    data: dict[str, Any] = {"format": FORMAT_NAME,
                            "version": VERSION_WITH_ATTACHMENTS if attached else FORMAT_VERSION}
    data.update(conv.to_dict(with_messages=False))
    data["current_id"] = conv.current_id
    messages = []
    for message in conv.messages:
        item = message.to_dict()
        item["conversation_id"] = conv.id
        messages.append(item)
    data["messages"] = messages
    if attached and blobs is not None:
        data["attachments"] = blob_entries(conv, blobs)
    return data


def export_json(conv: Conversation, blobs: Mapping[str, bytes] | None = None) -> str:
    # JSON has no NaN or Infinity and import refuses them: an export always imports back,
    # whatever an older chatterm stored.
    text = json.dumps(finite_json(export_dict(conv, blobs)), ensure_ascii=False, indent=2,
                      allow_nan=False)
    return escape_json_text(text) + "\n"


# ---- Markdown --------------------------------------------------------------------------


def _when(timestamp: float) -> str:
    try:
        return datetime.fromtimestamp(timestamp, tz=UTC).strftime("%Y-%m-%d %H:%M UTC")
    except (OverflowError, OSError, ValueError):
        return str(timestamp)  # an imported file may hold any number here


def _fence(text: str, info: str = "") -> str:
    """A code fence longer than any backtick run inside `text`."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    ticks = "`" * max(3, longest + 1)
    return f"{ticks}{info}\n{text}\n{ticks}"


def _heading(message: Message) -> str:
    if message.role is Role.ASSISTANT:
        label = message.model or "assistant"
        if message.provider:
            label += f" ({message.provider})"
        return f"## Assistant · {label}"
    if message.role is Role.TOOL:
        return f"## Tool result · {tool_text.result_label(message)}"
    return f"## {message.role.value.capitalize()}"


def _result_markdown(result: Message | None, call: ToolCall | None = None) -> str:
    """A tool result: how it ended, its first lines, the rest folded (nothing is cut)."""
    if result is None:
        return f"{tool_text.RESULT} *not run*"
    name = tool_text.label(call, result) if call else tool_text.result_label(result)
    head = f"{tool_text.RESULT} **{_code(name)}**"
    if (note := tool_text.outcome_note(result)) is not None:
        head += f" *{embed(note)}*"
    lines = tool_text.result_text(result).splitlines()
    if not lines:
        return head
    shown = _fence("\n".join(lines[:tool_text.RESULT_LINES]), "text")
    if len(lines) <= tool_text.RESULT_LINES:
        return f"{head}\n\n{shown}"
    more = len(lines) - tool_text.RESULT_LINES
    rest = _fence("\n".join(lines[tool_text.RESULT_LINES:]), "text")
    return (f"{head}\n\n{shown}\n\n<details><summary>{more:,} more "
            f"line{'s' if more != 1 else ''}</summary>\n\n{rest}\n\n</details>")


def _code(text: str) -> str:
    """Inline code that no backtick inside `text` can end early."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    ticks = "`" * (longest + 1)
    return f"{ticks} {text} {ticks}" if longest else f"`{text}`"


def _message_markdown(message: Message, results: dict[str, Message] | None = None) -> str:
    parts = [_heading(message), f"*{_when(message.created_at)}*"]
    if message.reasoning:
        parts.append(f"<details><summary>Reasoning</summary>\n\n{embed(message.reasoning)}"
                     "\n\n</details>")
    if message.role is Role.TOOL:
        parts.append(_result_markdown(message))  # one that answers no call above it
    elif message.content:
        parts.append(embed(message.content))
    if message.attachments:
        from chatterm.attach_files import describe

        # Named, not included: the JSON export carries the bytes.
        parts.append("\n".join(f"- Attached: {_code(a.name)} ({describe(a)})"
                               for a in message.attachments))
    if message.refusal:
        parts.append("> **Refused:** " + embed(message.refusal).replace("\n", "\n> "))
    for call in message.tool_calls:
        result = (results or {}).get(call.id)
        parts.append(f"{tool_text.CALL} **{_code(tool_text.label(call, result))}** "
                     f"(call `{call.id}`)\n\n"
                     + _fence(tool_text.pretty_arguments(call.arguments), "json")
                     + "\n\n" + _result_markdown(result, call))
    if message.state is not MessageState.COMPLETE:
        note = f"*Reply {message.state.value}"
        parts.append(note + (f": {message.error}*" if message.error else "*"))
    if message.usage and message.usage.total_tokens is not None:
        cost = f", cost {message.usage.cost}" if message.usage.cost is not None else ""
        parts.append(f"*{message.usage.total_tokens} tokens{cost}*")
    return "\n\n".join(parts)


def current_branch(conv: Conversation) -> list[Message]:
    """The messages of `conv`'s current branch, root first, whether `conv` holds the whole
    tree (`Store.get_tree`) or just that branch (`Store.get_conversation`)."""
    if all(message.parent_id is None for message in conv.messages):
        return list(conv.messages)  # a straight list never saved (no links yet)
    by_id = {message.id: message for message in conv.messages}
    leaf = conv.current_id if conv.current_id in by_id else (
        conv.messages[-1].id if conv.messages else None)
    path: list[Message] = []
    while leaf is not None and leaf in by_id and len(path) <= len(by_id):
        path.append(by_id[leaf])
        leaf = by_id[leaf].parent_id
    path.reverse()
    if len(path) == len(conv.messages):
        return list(conv.messages)
    if path and path[0].parent_id is not None:
        return list(conv.messages)  # a page of a branch: it is the branch already
    return path


def export_markdown(conv: Conversation) -> str:
    """A document of the current branch (other versions are only in the JSON export)."""
    header = [
        f"# {conv.title or 'Untitled conversation'}",
        f"- Conversation: `{conv.id}`\n- Model: {conv.model} ({conv.provider})\n"
        f"- Started: {_when(conv.created_at)}\n- Updated: {_when(conv.updated_at)}",
    ]
    if conv.system_prompt:
        header.append("## System prompt\n\n" + embed(conv.system_prompt))
    branch = current_branch(conv)
    # A tool result is shown under the call it answers, not again on its own.
    with_calls = tool_text.answered(branch)
    body = [_message_markdown(m, tool_text.results_of(branch, index) if m.tool_calls
                              else None)
            for index, m in enumerate(branch) if m.id not in with_calls]
    # Model text is kept verbatim here; whoever prints this to a terminal neutralises it.
    return "\n\n".join(header + body) + "\n"


# ---- import ----------------------------------------------------------------------------


def with_new_ids(conv: Conversation) -> Conversation:
    """`conv` under a fresh conversation id and fresh message ids, links kept: what
    `chatterm import` saves when the file's ids are already taken (importing it twice
    gives two conversations, never a clash or a merge)."""
    from dataclasses import replace

    from chatterm.conversation import new_id

    renamed = {message.id: new_id() for message in conv.messages}
    copy = replace(conv, id=new_id(), messages=[],
                   current_id=renamed.get(conv.current_id) if conv.current_id else None)
    for message in conv.messages:
        copy.messages.append(replace(
            message, id=renamed[message.id], conversation_id=copy.id,
            parent_id=renamed.get(message.parent_id, message.parent_id)
            if message.parent_id is not None else None))
    return copy



def parse_import(data: bytes) -> Conversation:
    """A conversation from an export file's bytes; ImportFormatError says what is wrong."""
    return parse_export(data)[0]


def parse_export(data: bytes) -> tuple[Conversation, list[PendingAttachment]]:
    """A conversation and the bytes of its attachments (each checked against its sha256)
    from an export file's bytes; ImportFormatError says what is wrong."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ImportFormatError(
            f"not valid UTF-8: bad byte 0x{data[exc.start]:02x} at byte offset {exc.start}"
        ) from None
    text = text.removeprefix("\ufeff")
    try:
        document = json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise ImportFormatError(
            f"broken JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}") from None
    except ValueError as exc:
        raise ImportFormatError(f"broken JSON: {exc}") from None
    except RecursionError:
        raise ImportFormatError("broken JSON: nested too deeply") from None
    check_document(document)
    try:
        conv = Conversation.from_dict(document)
        if document["version"] == 1:
            # Version 1 was one straight line: each message answers the one before.
            for index, message in enumerate(conv.messages):
                message.parent_id = conv.messages[index - 1].id if index else None
            conv.current_id = conv.messages[-1].id if conv.messages else None
    except (KeyError, ValueError, TypeError, OverflowError) as exc:  # pragma: no cover
        # check_document should have caught it; this keeps the promise of one line.
        raise ImportFormatError(f"not a valid chatterm export: {exc!r}") from None
    return conv, read_blobs(document, conv)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")
