"""The conversation model: plain dataclasses shared by the store, the client, the CLI and the UI."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from chatterm.attachments import Attachment
from chatterm.numbers import finite_json, finite_or_none, int_or_none


class Role(StrEnum):
    SYSTEM = "system"
    USER = "user"
    ASSISTANT = "assistant"
    TOOL = "tool"


class MessageState(StrEnum):
    COMPLETE = "complete"
    STREAMING = "streaming"
    INTERRUPTED = "interrupted"
    ERROR = "error"


def new_id() -> str:
    """A sortable-enough random id; hex so a short prefix is easy to type."""
    return uuid.uuid4().hex


def now() -> float:
    return time.time()


@dataclass(slots=True)
class ToolCall:
    id: str
    name: str
    arguments: str = ""

    def to_dict(self) -> dict[str, str]:
        return {"id": self.id, "name": self.name, "arguments": self.arguments}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ToolCall:
        return cls(
            id=str(data.get("id") or ""),
            name=str(data.get("name") or ""),
            arguments=str(data.get("arguments") or ""),
        )


@dataclass(slots=True)
class Usage:
    """Token counts, plus the provider's cost when it reports one (AI/ML API `meta.usage`)."""

    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    total_tokens: int | None = None
    reasoning_tokens: int | None = None
    cost: float | None = None
    raw: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.total_tokens,
            "reasoning_tokens": self.reasoning_tokens,
            "cost": self.cost,
            "raw": self.raw,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Usage | None:
        if not data:
            return None
        return cls(
            prompt_tokens=int_or_none(data.get("prompt_tokens")),
            completion_tokens=int_or_none(data.get("completion_tokens")),
            total_tokens=int_or_none(data.get("total_tokens")),
            reasoning_tokens=int_or_none(data.get("reasoning_tokens")),
            cost=finite_or_none(data.get("cost")),
            raw=finite_json(dict(data.get("raw") or {})),
        )


@dataclass(slots=True)
class Message:
    role: Role
    content: str = ""
    id: str = field(default_factory=new_id)
    conversation_id: str = ""
    parent_id: str | None = None
    created_at: float = field(default_factory=now)
    state: MessageState = MessageState.COMPLETE
    # Assistant-only fields.
    provider: str | None = None
    model: str | None = None
    finish_reason: str | None = None
    usage: Usage | None = None
    reasoning: str = ""
    refusal: str = ""
    tool_calls: list[ToolCall] = field(default_factory=list)
    error: str | None = None
    # Tool-message field.
    tool_call_id: str | None = None
    # User-message field: the files and images sent with it (bytes live in the store).
    attachments: list[Attachment] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": self.id,
            "conversation_id": self.conversation_id,
            "parent_id": self.parent_id,
            "role": str(self.role),
            "content": self.content,
            "created_at": self.created_at,
            "state": str(self.state),
            "provider": self.provider,
            "model": self.model,
            "finish_reason": self.finish_reason,
            "usage": self.usage.to_dict() if self.usage else None,
            "reasoning": self.reasoning,
            "refusal": self.refusal,
            "tool_calls": [call.to_dict() for call in self.tool_calls],
            "error": self.error,
            "tool_call_id": self.tool_call_id,
        }
        # Only when there are some: files written before attachments stay byte-identical.
        if self.attachments:
            data["attachments"] = [a.to_dict() for a in self.attachments]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Message:
        """Build from `to_dict` output; raises KeyError/ValueError/TypeError on bad input."""
        return cls(
            id=str(data["id"]),
            conversation_id=str(data.get("conversation_id") or ""),
            parent_id=data.get("parent_id"),
            role=Role(data["role"]),
            content=str(data.get("content") or ""),
            created_at=float(data["created_at"]),
            state=MessageState(data.get("state") or MessageState.COMPLETE),
            provider=data.get("provider"),
            model=data.get("model"),
            finish_reason=data.get("finish_reason"),
            usage=Usage.from_dict(data.get("usage")),
            reasoning=str(data.get("reasoning") or ""),
            refusal=str(data.get("refusal") or ""),
            tool_calls=[ToolCall.from_dict(c) for c in data.get("tool_calls") or []],
            error=data.get("error"),
            tool_call_id=data.get("tool_call_id"),
            attachments=[Attachment.from_dict(a) for a in data.get("attachments") or []],
        )


@dataclass(slots=True)
class Params:
    """Sampling parameters; None means "let the server decide"."""

    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    stop: list[str] = field(default_factory=list)
    seed: int | None = None
    safe_prompt: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "temperature": self.temperature,
            "top_p": self.top_p,
            "max_tokens": self.max_tokens,
            "stop": list(self.stop),
            "seed": self.seed,
            "safe_prompt": self.safe_prompt,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Params:
        data = data or {}
        return cls(
            # Conversations saved before non-finite numbers were refused may hold NaN:
            # dropped here, so loading one never makes every later request fail.
            temperature=finite_or_none(data.get("temperature")),
            top_p=finite_or_none(data.get("top_p")),
            max_tokens=int_or_none(data.get("max_tokens")),
            stop=list(data.get("stop") or []),
            seed=int_or_none(data.get("seed")),
            safe_prompt=bool(data.get("safe_prompt", False)),
        )

    def merged(self, override: Params) -> Params:
        """`override`'s set values win over ours."""
        return Params(
            temperature=override.temperature if override.temperature is not None
            else self.temperature,
            top_p=override.top_p if override.top_p is not None else self.top_p,
            max_tokens=override.max_tokens if override.max_tokens is not None
            else self.max_tokens,
            stop=list(override.stop) or list(self.stop),
            seed=override.seed if override.seed is not None else self.seed,
            safe_prompt=override.safe_prompt or self.safe_prompt,
        )


@dataclass(slots=True)
class Conversation:
    provider: str
    model: str
    id: str = field(default_factory=new_id)
    title: str = ""
    created_at: float = field(default_factory=now)
    updated_at: float = field(default_factory=now)
    system_prompt: str = ""
    params: Params = field(default_factory=Params)
    messages: list[Message] = field(default_factory=list)
    # The leaf of the branch shown and sent (see chatterm.tree); None: not known yet
    # (a new conversation, or one read from a file without it: its last message).
    current_id: str | None = None
    # The saved role (config [roles.NAME] or roles/NAME.toml) it was started from, if any.
    role: str | None = None

    def to_dict(self, *, with_messages: bool = True) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": self.id,
            "title": self.title,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "provider": self.provider,
            "model": self.model,
            "system_prompt": self.system_prompt,
            "params": self.params.to_dict(),
        }
        if self.role:
            data["role"] = self.role
        if with_messages:
            data["messages"] = [m.to_dict() for m in self.messages]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Conversation:
        conv = cls(
            id=str(data["id"]),
            title=str(data.get("title") or ""),
            created_at=float(data["created_at"]),
            updated_at=float(data.get("updated_at") or data["created_at"]),
            provider=str(data["provider"]),
            model=str(data["model"]),
            system_prompt=str(data.get("system_prompt") or ""),
            params=Params.from_dict(data.get("params")),
            role=str(data["role"]) if data.get("role") else None,
        )
        conv.messages = [Message.from_dict(m) for m in data.get("messages") or []]
        current = data.get("current_id")
        conv.current_id = str(current) if current is not None else None
        for message in conv.messages:
            message.conversation_id = conv.id
        return conv


@dataclass(slots=True)
class ConversationSummary:
    """What a listing needs, read from summary columns only."""

    id: str
    title: str
    provider: str
    model: str
    created_at: float
    updated_at: float
    message_count: int


@dataclass(slots=True)
class SearchHit:
    conversation_id: str
    message_id: str
    title: str
    role: Role
    snippet: str  # FTS snippet with hits wrapped in HIT_START / HIT_END
    created_at: float


HIT_START = "\x02"
HIT_END = "\x03"


def title_from_prompt(prompt: str, limit: int = 60) -> str:
    """A conversation title from its first prompt: first non-empty line, cut at a word."""
    for line in prompt.splitlines():
        line = " ".join(line.split())
        if line:
            if len(line) <= limit:
                return line
            cut = line[:limit].rsplit(" ", 1)[0] or line[:limit]
            return cut + "…"
    return "New chat"
