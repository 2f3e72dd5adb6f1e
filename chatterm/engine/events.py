"""What a ChatSession tells its front end while it gets a reply (see chatterm.engine.session)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Literal

from chatterm.api.types import Delta, Retrying
from chatterm.conversation import Message, ToolCall
from chatterm.errors import ChattermError
from chatterm.toolbox import ToolOutcome, ToolSpec


@dataclass(slots=True)
class ReplyStarted:
    message: Message
    # A retry streams into a new message: the reply it is an attempt to replace.
    replaces: Message | None = None


TextKind = Literal["content", "reasoning", "refusal", "tool_arguments"]


@dataclass(slots=True, frozen=True)
class TextArrived:
    """New text of a streaming reply, of one kind. Every kind of streamed text comes as
    this one event, so a front end draws from the events alone: it never reads the
    reply's Message (which the engine joins only at save points) to see what changed."""

    message_id: str
    kind: TextKind
    text: str
    # How many of the server's chunks this text holds, for a live token count: the
    # events of one read add up to the read's count (see Delta.chunks).
    chunks: int = 0
    # The tool call (its position in the reply) that tool_arguments text belongs to.
    index: int = 0


def texts_of(message_id: str, delta: Delta) -> Iterator[TextArrived]:
    """The TextArrived events of one delta: content, reasoning, refusal, tool arguments."""
    chunks = delta.chunks
    texts: tuple[tuple[TextKind, str | None], ...] = (
        ("content", delta.content), ("reasoning", delta.reasoning), ("refusal", delta.refusal))
    for kind, text in texts:
        if text:
            yield TextArrived(message_id, kind, text, chunks)
            chunks = 0
    for index, text in delta.tool_arguments:
        if text:
            yield TextArrived(message_id, "tool_arguments", text, chunks, index)
            chunks = 0


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
class ReplyStopped:
    """The reply was stopped (Esc, quit, Ctrl+C): `message` is final, saved as
    interrupted with what had arrived. The cancellation goes on after this event."""

    message: Message


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


@dataclass(slots=True)
class BranchChanged:
    """The current branch changed: the path now shown is its first `keep` messages as they
    were, then `messages` (maybe none). `current_id` is the leaf of the path now shown.

    Returned by switch_branch, flip, keep and delete_message. While a reply is under way it
    is also reported as an event: an edit reports the path cut at the edited prompt with
    the new prompt and its reply after it, before ReplyStarted; a regenerate of a reply
    that had messages below it reports the path cut just below that reply (then
    ReplyStarted(new, replaces=old) swaps the reply itself), and if the attempt is dropped,
    after ReplyRestored, the messages below it back again."""

    keep: int
    messages: list[Message]
    current_id: str | None


# ---- the tool loop (chatterm.engine.tool_loop) ------------------------------------------
# `reply` is the assistant message that holds the calls; `index` the call's position in
# its tool_calls (the same index TextArrived's tool_arguments carry).


@dataclass(slots=True)
class ToolCallPending:
    """A call of a reply that ended with tool calls, before anything ran: every call of
    the round is reported first, in order. `spec` is None for a tool nobody offers (no
    such tool, or switched off): it will not run. `needs_approval`: the approver will
    be asked (an "ask" server, not allowed always)."""

    reply: Message
    index: int
    call: ToolCall
    spec: ToolSpec | None
    needs_approval: bool


@dataclass(slots=True)
class ToolCallStarted:
    """The call runs now (approved, or its server is "auto"). `started` is
    time.monotonic() at the start, for a running time. Calls of a round run at once."""

    reply: Message
    index: int
    call: ToolCall
    spec: ToolSpec
    started: float
    # One line when "always" was chosen but could not be saved (the config file could
    # not be written): the call runs all the same, and is allowed for this run.
    warning: str | None = None


@dataclass(slots=True)
class ToolCallFinished:
    """The call has its result, saved: `result` is the tool message (its content the
    whole text, finish_reason the outcome). Declined, stopped and unknown calls get one
    too, without a ToolCallStarted."""

    reply: Message
    index: int
    call: ToolCall
    result: Message
    outcome: ToolOutcome


@dataclass(slots=True)
class ToolRoundsExhausted:
    """The model asked for tools again after `limit` rounds: its calls (in `reply`) did
    not run and the model is not asked again."""

    reply: Message
    limit: int

    @property
    def line(self) -> str:
        rounds = "round" if self.limit == 1 else "rounds"
        return (f"stopped after {self.limit} tool {rounds} (max_tool_rounds in [mcp]): "
                "the last reply's tool calls were not run")


SessionEvent = (
    ReplyStarted | TextArrived | ReplyRetrying | ReplyFinished | ReplyFailed | ReplyStopped
    | ReplyRestored | BranchChanged
    | ToolCallPending | ToolCallStarted | ToolCallFinished | ToolRoundsExhausted
)
EventSink = Callable[[SessionEvent], None]
