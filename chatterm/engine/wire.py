"""The saved history as the chat/completions API wants it.

Providers are strict about the shape of a history, and a saved conversation can hold
turns that break it: a reply that failed before any text, a refusal (no content, only
refusal text), a reply that ended in tool calls nobody ran. This module turns the saved
messages into a history every OpenAI-compatible server accepts:

- roles alternate: user messages with no reply between them are sent as one message, and
  of two replies in a row only the later one is sent;
- a refusal is sent as the assistant's turn, with its refusal text as the content;
- every tool call is followed by a tool result: the saved tool message when there is
  one, otherwise a result saying the call was not run (chatterm cannot run tools yet),
  because OpenAI-compatible APIs reject tool calls followed by anything else.
"""

from __future__ import annotations

from typing import Any

from chatterm.conversation import Conversation, Message, Role

# The tool result sent for a call that nothing ran (see the module docstring).
TOOL_NOT_RUN = "not run: chatterm cannot run tools, so this call was not carried out"


def wire_messages(conversation: Conversation, upto: int | None = None) -> list[dict[str, Any]]:
    """The history (messages before index `upto`, or all), system prompt first."""
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
        elif message.role is Role.USER and wire and wire[-1]["role"] == "user":
            # The reply between them failed with nothing to show: one user turn, in order.
            wire[-1] = {"role": "user", "content": f"{wire[-1]['content']}\n\n{message.content}"}
        else:
            wire.append({"role": str(message.role), "content": message.content})
    _answer_unrun(wire, unanswered)
    return wire


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
