"""The saved history as the chat/completions API wants it.

Providers are strict about the shape of a history, and a saved conversation can hold
turns that break it: a reply that failed before any text, a refusal (no content, only
refusal text), a reply that ended in tool calls nobody ran. This module turns the saved
messages into a history every OpenAI-compatible server accepts:

- roles alternate: user messages with no reply between them are sent as one message (text
  joined by a blank line; when either is a list of parts, as with images, the parts in
  order), and of two replies in a row only the later one is sent;
- a refusal is sent as the assistant's turn, with its refusal text as the content;
- every tool call is followed by a tool result: the saved tool message when there is
  one, otherwise a result saying the call was not run (stopped, cut off by a crash, or
  made when no tools were on), because OpenAI-compatible APIs reject tool calls
  followed by anything else;
- a tool result longer than max_result_bytes is cut (cap_results): the store keeps the
  whole of it, the model gets the start and a note naming both sizes.

A prompt's attachments are made into its content by chatterm.engine.attached (which needs
their bytes, read off the event loop) and handed in as `contents`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chatterm.conversation import Conversation, Message, Role

# The tool result sent for a call that nothing ran (see the module docstring).
TOOL_NOT_RUN = ("not run: this tool call was not carried out (it was stopped, or no "
                "tools were available), so there is no result")


def wire_messages(conversation: Conversation, upto: int | None = None, *,
                  contents: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
    """The history (messages before index `upto`, or all), system prompt first;
    `contents`: the content to send for a user message, by id (with its attachments)."""
    wire: list[dict[str, Any]] = []
    if conversation.system_prompt.strip():
        wire.append({"role": "system", "content": conversation.system_prompt})
    messages = conversation.messages if upto is None else conversation.messages[:upto]
    # Tool calls of the last assistant turn that no tool message has answered yet.
    unanswered: list[str] = []
    for message in messages:
        if message.role is not Role.TOOL:
            _answer_unrun(wire, unanswered)
        if message.role is Role.ASSISTANT:
            item = _assistant(message)
            if item is None:
                # A failed reply with no text carries nothing the model should see.
                continue
            if wire[-1:] and wire[-1]["role"] == "assistant":
                # Two attempts at one turn (a retry cut short by a crash leaves both
                # saved): the later one, as Ctrl+R and the screen's last reply do.
                wire[-1] = item
            else:
                wire.append(item)
            unanswered = [call.id for call in message.tool_calls]
        elif message.role is Role.TOOL:
            call_id = message.tool_call_id or ""
            if call_id in unanswered:
                unanswered.remove(call_id)
            wire.append({"role": "tool", "content": message.content, "tool_call_id": call_id})
        elif message.role is Role.USER:
            content = (contents or {}).get(message.id, message.content)
            if wire and wire[-1]["role"] == "user":
                # The reply between them failed with nothing to show: one user turn, in order.
                wire[-1] = {"role": "user", "content": joined(wire[-1]["content"], content)}
            else:
                wire.append({"role": "user", "content": content})
        else:
            wire.append({"role": str(message.role), "content": message.content})
    _answer_unrun(wire, unanswered)
    return wire


def joined(first: Any, second: Any) -> Any:
    """Two user turns' contents as one: text by a blank line, else their parts in order."""
    if isinstance(first, str) and isinstance(second, str):
        return f"{first}\n\n{second}"
    return _parts(first) + _parts(second)


def _parts(content: Any) -> list[dict[str, Any]]:
    if isinstance(content, list):
        return list(content)
    return [{"type": "text", "text": content}] if content else []


def _assistant(message: Message) -> dict[str, Any] | None:
    # A refusal is the assistant's answer: sent as its text, so the turn is not missing.
    content = message.content or message.refusal
    if not (content or message.tool_calls):
        return None
    item: dict[str, Any] = {"role": "assistant", "content": content}
    if message.tool_calls:
        item["tool_calls"] = [
            {
                "id": call.id,
                "type": "function",
                "function": {"name": call.name, "arguments": call.arguments},
            }
            for call in message.tool_calls
        ]
    return item


def _answer_unrun(wire: list[dict[str, Any]], unanswered: list[str]) -> None:
    """One 'not run' tool result per call still open, then none are open."""
    for call_id in unanswered:
        wire.append({"role": "tool", "content": TOOL_NOT_RUN, "tool_call_id": call_id})
    unanswered.clear()


def cap_results(wire: list[dict[str, Any]], limit: int) -> list[dict[str, Any]]:
    """The history with every tool result cut to `limit` UTF-8 bytes (the new dicts
    replace the long ones; the saved messages keep their whole text)."""
    return [_capped(item, limit) if item.get("role") == "tool" else item for item in wire]


def _capped(item: dict[str, Any], limit: int) -> dict[str, Any]:
    content = item.get("content")
    # A quick check first: a result of fewer characters than the cap is within it.
    if not isinstance(content, str) or len(content) <= limit // 4:
        return item
    data = content.encode("utf-8", "surrogatepass")
    if len(data) <= limit:
        return item
    # Cut on a character boundary: a UTF-8 sequence split by the cut is dropped whole.
    kept = data[:max(0, limit)].decode("utf-8", "ignore")
    note = (f"\n\n[chatterm cut this tool result: the model gets the first "
            f"{len(kept.encode('utf-8')):,} of its {len(data):,} bytes (max_result_bytes)]")
    return {**item, "content": kept + note}
