"""A small in-test ToolBox (the engine's own seam, chatterm/toolbox.py) and session
helpers for the tool-loop tests: tools are coroutines of the test, every call recorded."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from chatterm_env import write_config
from loopback import LoopbackServer

from chatterm.config import load_config
from chatterm.conversation import Conversation, Message
from chatterm.engine.session import ChatSession
from chatterm.store import Store
from chatterm.toolbox import ServerState, ServerStatus, ToolResult, ToolSpec

Tool = Callable[[dict[str, Any]], Awaitable[ToolResult | str]]


class Box:
    """A ToolBox whose tools are coroutines of the test: one server, `ask` tools need
    approval, every call is recorded."""

    def __init__(self, tools: dict[str, Tool], *, server: str = "calc",
                 ask: Iterable[str] = ()) -> None:
        self.server = server
        self.tools = tools
        self.ask = set(ask)
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.always: list[str] = []
        # Other servers, still starting (no tools yet).
        self.starting: list[ServerStatus] = []
        self._specs = [ToolSpec(server, name, name, f"the {name} tool",
                                {"type": "object", "properties": {"x": {"type": "string"}}})
                       for name in tools]

    def statuses(self) -> list[ServerStatus]:
        return [ServerStatus(self.server, ServerState.READY, tools=tuple(self._specs)),
                *self.starting]

    def specs(self) -> list[ToolSpec]:
        return list(self._specs)

    def spec(self, name: str) -> ToolSpec:
        return next(spec for spec in self._specs if spec.name == name)

    def needs_approval(self, spec: ToolSpec) -> bool:
        return spec.tool in self.ask

    def allow_always(self, spec: ToolSpec) -> None:
        self.ask.discard(spec.tool)
        self.always.append(spec.label)

    async def call(self, spec: ToolSpec, arguments: dict[str, Any]) -> ToolResult:
        self.calls.append((spec.tool, arguments))
        result = await self.tools[spec.tool](arguments)
        return result if isinstance(result, ToolResult) else ToolResult(result)


async def add(arguments: dict[str, Any]) -> str:
    return str(arguments["a"] + arguments["b"])


async def echo(arguments: dict[str, Any]) -> str:
    return json.dumps(arguments, sort_keys=True)


def session_on(loopback: LoopbackServer, store: Store | None, box: Box | None, *,
               extra: str = "", kind: str = "openai") -> ChatSession:
    """A session on the loopback server (`extra`: more of the config file, e.g. [mcp])."""
    write_config(loopback.url, extra=extra, kind=kind)
    config = load_config()
    conversation = Conversation(provider=config.default_provider, model=config.default_model)
    session = ChatSession(store, config, conversation)
    session.tools = box
    return session


def saved_path(conversation_id: str) -> list[Message]:
    """The current branch as a new process would read it."""
    with Store.open() as other:
        return other.get_conversation(conversation_id).messages


def tool_results(loopback: LoopbackServer, request: int) -> dict[str, str]:
    """The tool results (call id -> content) the model got in request number `request`."""
    return {m["tool_call_id"]: m["content"]
            for m in loopback.requests[request].json["messages"] if m["role"] == "tool"}
