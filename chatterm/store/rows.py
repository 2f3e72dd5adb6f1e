"""Mapping between table rows and the conversation dataclasses (and nothing else)."""

from __future__ import annotations

import json
from typing import Any

from chatterm.conversation import (
    Conversation,
    ConversationSummary,
    Message,
    MessageState,
    Params,
    Role,
    ToolCall,
    Usage,
)
from chatterm.numbers import finite_json
from chatterm.store import attached, calls
from chatterm.text_parts import mend_surrogates

MESSAGE_COLUMNS = (
    "id, conversation_id, parent_id, role, state, created_at, provider, model, "
    "finish_reason, tool_call_id, error, usage, tool_calls, refusal, reasoning, content"
)
PREFIXED_MESSAGE_COLUMNS = ", ".join(f"m.{name.strip()}"
                                     for name in MESSAGE_COLUMNS.split(","))
CONVERSATION_COLUMNS = (
    "id, title, created_at, updated_at, provider, model, system_prompt, params"
)
# Schema version 5 adds the role a chat was started from (attached.py).
CONVERSATION_COLUMNS_V5 = CONVERSATION_COLUMNS + ", role"
SUMMARY_COLUMNS = "id, title, provider, model, created_at, updated_at, message_count"


def dumps(value: Any) -> str:
    # No NaN or Infinity in the database: JSON has none, and every reader would choke.
    return json.dumps(finite_json(value), ensure_ascii=False, separators=(",", ":"),
                      allow_nan=False)


def _storable(values: dict[str, Any]) -> dict[str, Any]:
    """Text SQLite can take: a lone UTF-16 surrogate (from a JSON escape, or from
    undecodable bytes in argv) cannot be encoded as UTF-8 and would fail the whole write,
    so each becomes U+FFFD here, for every writer."""
    for name, value in values.items():
        if isinstance(value, str):
            values[name] = mend_surrogates(value)
    return values


def message_from_row(row: tuple[Any, ...]) -> Message:
    (mid, conversation_id, parent_id, role, state, created_at, provider, model,
     finish_reason, tool_call_id, error, usage, tool_calls, refusal, reasoning, content) = row
    return Message(
        id=mid,
        conversation_id=conversation_id,
        parent_id=parent_id,
        role=Role(role),
        state=MessageState(state),
        created_at=created_at,
        provider=provider,
        model=model,
        finish_reason=finish_reason,
        tool_call_id=tool_call_id,
        error=error,
        usage=Usage.from_dict(json.loads(usage)) if usage else None,
        tool_calls=[ToolCall.from_dict(c) for c in json.loads(tool_calls)] if tool_calls else [],
        refusal=refusal,
        reasoning=reasoning,
        content=content,
    )


def message_values(message: Message) -> dict[str, Any]:
    """Named parameters for INSERT/UPDATE of `message` (without position and writer)."""
    return _storable({
        "id": message.id,
        "conversation_id": message.conversation_id,
        "parent_id": message.parent_id,
        "role": str(message.role),
        "state": str(message.state),
        "created_at": float(message.created_at),
        "provider": message.provider,
        "model": message.model,
        "finish_reason": message.finish_reason,
        "tool_call_id": message.tool_call_id,
        "error": message.error,
        "usage": dumps(message.usage.to_dict()) if message.usage else None,
        "tool_calls": dumps([c.to_dict() for c in message.tool_calls])
        if message.tool_calls else None,
        "refusal": message.refusal or "",
        "reasoning": message.reasoning or "",
        "content": message.content or "",
        # What search finds of the calls (schema version 4, see calls.py).
        "calls": calls.text_of(message.tool_calls) if message.tool_calls else "",
        # What `chatterm usage` sums (schema version 5, see attached.py).
        **attached.usage_values(message.usage),
    })


def conversation_from_row(row: tuple[Any, ...]) -> Conversation:
    """From CONVERSATION_COLUMNS, or CONVERSATION_COLUMNS_V5 (with the role)."""
    cid, title, created_at, updated_at, provider, model, system_prompt, params = row[:8]
    role = row[8] if len(row) > 8 and isinstance(row[8], str) and row[8] else None
    return Conversation(
        id=cid,
        title=title,
        created_at=created_at,
        updated_at=updated_at,
        provider=provider,
        model=model,
        system_prompt=system_prompt,
        params=Params.from_dict(json.loads(params) if params else None),
        role=role,
    )


def conversation_values(conv: Conversation) -> dict[str, Any]:
    return _storable({
        "id": conv.id,
        "title": conv.title,
        "created_at": float(conv.created_at),
        "updated_at": float(conv.updated_at),
        "provider": conv.provider,
        "model": conv.model,
        "system_prompt": conv.system_prompt or "",
        "params": dumps(conv.params.to_dict()),
        "role": conv.role or None,
    })


def summary_from_row(row: tuple[Any, ...]) -> ConversationSummary:
    return ConversationSummary(*row)
