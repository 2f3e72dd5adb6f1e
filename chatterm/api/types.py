"""Typed values that cross the client boundary: requests, stream events, assembled replies."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from chatterm.conversation import MessageState, Params, ToolCall, Usage
from chatterm.errors import ChattermError
from chatterm.text_parts import TextParts


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
    # Function tools offered to the model (OpenAI's shape, which Mistral takes too):
    # sent as `tools` when there are any.
    tools: list[dict[str, Any]] | None = None


class AssembledReply:
    """Everything a (possibly partial) reply has produced so far.

    The text fields grow by `add_*` in time linear in what was added (see TextParts);
    reading `content`, `reasoning`, `refusal` or `tool_calls` joins what came since the
    last read, so read them at save points or at the end, not per chunk.
    """

    __slots__ = ("_arguments", "_content", "_reasoning", "_refusal", "_tool_calls",
                 "finish_reason", "model", "saw_done", "usage", "warnings")

    def __init__(self, content: str = "", reasoning: str = "", refusal: str = "") -> None:
        self._content = TextParts(content)
        self._reasoning = TextParts(reasoning)
        self._refusal = TextParts(refusal)
        self._tool_calls: list[ToolCall] = []
        self._arguments: list[TextParts] = []  # one per tool call, same order
        self.finish_reason: str | None = None
        self.usage: Usage | None = None
        self.model: str | None = None
        self.saw_done = False
        self.warnings: list[str] = []

    @property
    def content(self) -> str:
        return self._content.value

    @property
    def reasoning(self) -> str:
        return self._reasoning.value

    @property
    def refusal(self) -> str:
        return self._refusal.value

    @property
    def tool_calls(self) -> list[ToolCall]:
        for call, arguments in zip(self._tool_calls, self._arguments, strict=True):
            call.arguments = arguments.value
        return self._tool_calls

    def add_content(self, text: str) -> str:
        """Append; returns what was appended (a split surrogate pair waits for its half)."""
        return self._content.append(text)

    def add_reasoning(self, text: str) -> str:
        return self._reasoning.append(text)

    def add_refusal(self, text: str) -> str:
        return self._refusal.append(text)

    def new_tool_call(self) -> ToolCall:
        call = ToolCall(id="", name="")
        self._tool_calls.append(call)
        self._arguments.append(TextParts())
        return call

    def add_arguments(self, index: int, text: str) -> str:
        return self._arguments[index].append(text)

    def flush(self) -> tuple[str, str, str]:
        """The stream ended: a half surrogate pair still waiting becomes U+FFFD.

        Returns what that added to (content, reasoning, refusal)."""
        for arguments in self._arguments:
            arguments.flush()
        return self._content.flush(), self._reasoning.flush(), self._refusal.flush()

    @property
    def state(self) -> MessageState:
        """A stream that never said it finished is interrupted, however much text it held."""
        if self.finish_reason is not None or self.saw_done:
            return MessageState.COMPLETE
        return MessageState.INTERRUPTED

    def __repr__(self) -> str:
        return (f"AssembledReply(content={self.content!r}, reasoning={self.reasoning!r}, "
                f"finish_reason={self.finish_reason!r}, tool_calls={self.tool_calls!r})")


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
    # Argument text of tool calls: (the call's position in the reply, text), in order.
    tool_arguments: list[tuple[int, str]] = field(default_factory=list)
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
