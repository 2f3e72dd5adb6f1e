"""What a retry or a continue may change, and when a reply that existed is given back.

A retry or a continue is an attempt at a reply that is already saved. If the attempt is
stopped or fails, the user loses nothing: the reply is back exactly as it was (text,
state, model, usage, error). The rules live here so the engine (ChatSession) and its
tests say the same thing:

- a retry streams into a new message; the old one is untouched until the new one is
  complete, and comes back unless it held nothing and the attempt held something;
- a continue extends the reply in place (the saved text is a prefix of what streams),
  and comes back as it was if the attempt added nothing.
"""

from __future__ import annotations

import copy
import dataclasses

from chatterm.conversation import Message, MessageState


def holds_something(message: Message) -> bool:
    """True if the reply has anything a user would miss: text, reasoning, a refusal,
    tool calls."""
    return bool(message.content or message.reasoning or message.refusal or message.tool_calls)


def retry_replaces(old: Message, new: Message) -> bool:
    """Does the new attempt take the old reply's place? Only if it completed, or if the
    old one held nothing and the attempt holds something."""
    if new.state is MessageState.COMPLETE:
        return True
    return holds_something(new) and not holds_something(old)


def snapshot(message: Message) -> Message:
    """A copy of the reply to give back later (its lists and usage are not shared)."""
    return copy.deepcopy(message)


def continue_added(before: Message, after: Message) -> bool:
    """Did the continue add anything (or finish the reply)?"""
    if after.state is MessageState.COMPLETE:
        return True
    return (
        len(after.content) > len(before.content)
        or len(after.reasoning) > len(before.reasoning)
        or len(after.refusal) > len(before.refusal)
        or len(after.tool_calls) > len(before.tool_calls)
    )


def restore(message: Message, saved: Message) -> None:
    """Put every field of `saved` back into `message` (same object, same id)."""
    for spec in dataclasses.fields(Message):
        setattr(message, spec.name, getattr(saved, spec.name))
