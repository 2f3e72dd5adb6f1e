"""Typed values that cross the client boundary: requests, stream events, assembled replies."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from chatterm.conversation import MessageState, Params, ToolCall, Usage
from chatterm.errors import ChattermError


@dataclass(slots=True)
class ChatRequest:
    model: str
    # Wire-format messages: [{"role": ..., "content": ..., ...}], history first.
    messages: list[dict[str, Any]]
    params: Params = field(default_factory=Params)
    stream: bool = True
    # Text the reply must start with; sent as a final assistant message with prefix=true
    # (Mistral). The client raises ApiError for providers that do not support it.
    prefix: str | None = None


@dataclass(slots=True)
class AssembledReply:
    """Everything a (possibly partial) reply has produced so far."""

    content: str = ""
    reasoning: str = ""
    refusal: str = ""
    tool_calls: list[ToolCall] = field(default_factory=list)
    finish_reason: str | None = None
    usage: Usage | None = None
    model: str | None = None
    saw_done: bool = False
    warnings: list[str] = field(default_factory=list)

    @property
    def state(self) -> MessageState:
        """A stream that never said it finished is interrupted, however much text it held."""
        if self.finish_reason is not None or self.saw_done:
            return MessageState.COMPLETE
        return MessageState.INTERRUPTED


# ---- events yielded by ChatClient.stream() -------------------------------------------


@dataclass(slots=True)
class Retrying:
    """The request failed before any token and will be retried after `delay` seconds."""

    attempt: int  # 1-based number of the retry about to happen
    max_retries: int
    delay: float
    reason: str


@dataclass(slots=True)
class Started:
    """The server accepted the request (HTTP 200 headers are in)."""


@dataclass(slots=True)
class Delta:
    content: str = ""
    reasoning: str = ""
    refusal: str = ""
    chunks: int = field(default=0, compare=False)
    """How many of the server's chunks with text this delta holds. Servers send one
    token per chunk, and a paced read merges ~10 of them into one delta, so this (not
    the number of deltas) is what a live token count adds up. 0 for a reply that
    arrived whole."""


@dataclass(slots=True)
class Finished:
    reply: AssembledReply


ClientEvent = Retrying | Started | Delta | Finished


class ApiError(ChattermError):
    """Any failed request, with the server's own words when it gave any.

    `partial` holds what had streamed before the failure, so nothing is lost.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        provider: str = "",
        url: str = "",
        code: str | None = None,
        retryable: bool = False,
        partial: AssembledReply | None = None,
        unknown_model: bool = False,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.provider = provider
        self.url = url
        self.code = code
        self.retryable = retryable
        self.partial = partial
        self.unknown_model = unknown_model
