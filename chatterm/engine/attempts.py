"""What a retry or a continue may change, and when a reply that existed is given back.

A retry or a continue is an attempt at a reply that is already saved. If the attempt is
stopped or fails, the user loses nothing: the reply is back exactly as it was (text,
state, model, usage, error). The rules live here so the engine (ChatSession) and its
tests say the same thing:

- a retry or regenerate streams into a new message, a new version; the old one is never
  touched. The new one stays if it holds anything (version_kept), even stopped or cut
  off; one that got nothing is dropped and the old one is current again. An old reply
  that held nothing (an error) gives way to an attempt that holds something;
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


def version_kept(new: Message) -> bool:
    """Does a new version (a regenerate, a retry) stay? Whenever it completed or holds
    anything: a reply stopped or cut off mid-way is kept, interrupted, as a version of
    its own (the old one stays too). Only an attempt that got nothing is dropped."""
    return new.state is MessageState.COMPLETE or holds_something(new)


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
