"""What a ChatSession tells its front end while it gets a reply (see chatterm.engine.session)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from chatterm.api.types import Delta, Retrying
from chatterm.conversation import Message
from chatterm.errors import ChattermError


@dataclass(slots=True)
class ReplyStarted:
    message: Message
    # A retry streams into a new message: the reply it is an attempt to replace.
    replaces: Message | None = None


@dataclass(slots=True)
class ReplyDelta:
    message: Message
    delta: Delta


@dataclass(slots=True)
class ReplyRetrying:
    message: Message
    retrying: Retrying


@dataclass(slots=True)
class ReplyFinished:
    message: Message
    # Chunks the assembler had to skip (malformed JSON, over-long lines), one line each.
    warnings: list[str] = field(default_factory=list)


@dataclass(slots=True)
class ReplyFailed:
    message: Message
    error: ChattermError


@dataclass(slots=True)
class ReplyRestored:
    """A retry or continue was stopped or failed: `message` is back as it was, in the
    conversation and the store. `discarded` is a retry's own message, now gone."""

    message: Message
    discarded: Message | None
    # Why the attempt ended: Esc/quit (stopped), else the attempt's error.
    stopped: bool = False
    error: str | None = None


SessionEvent = (
    ReplyStarted | ReplyDelta | ReplyRetrying | ReplyFinished | ReplyFailed | ReplyRestored
)
EventSink = Callable[[SessionEvent], None]
