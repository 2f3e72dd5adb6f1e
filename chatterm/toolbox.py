"""The typed seam between the chat engine and whatever runs tools (today: MCP servers).

The engine runs the tool loop (chatterm.engine.tool_loop) against the `ToolBox` protocol
and asks a front end for approval through an `Approver`; it never imports the MCP SDK
nor chatterm.mcp. chatterm.mcp.host.McpHost is the real ToolBox: it starts the configured
servers on a thread of its own and imports the SDK there, only when a server is
configured, so a launch or an `ask` without servers never pays for it.

How a tool exchange is kept in the conversation tree (no schema change):
- the assistant message holds the calls (`tool_calls`, arguments as the JSON text that
  ran: edited arguments replace the model's);
- each call's result is a `tool` message below it, chained in the order results came:
  `tool_call_id` is the call's id, `provider` the server's name, `model` the tool's name
  on that server, `finish_reason` the ToolOutcome, `content` the whole result text
  (the cap applies only to what is sent to the model), `error` a short reason when the
  outcome is not "ok";
- the model's next reply is the child of the last tool message.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal, Protocol

ApproveMode = Literal["ask", "auto"]


class ServerState(StrEnum):
    STARTING = "starting"
    READY = "ready"
    FAILED = "failed"  # did not start, died, or answered garbage: ServerStatus.error says why
    DISABLED = "disabled"  # enabled = false in the config


@dataclass(frozen=True, slots=True)
class ToolSpec:
    """One tool as offered to the model."""

    server: str  # the config's NAME of its server ([mcp.servers.NAME])
    tool: str  # the tool's own name on that server
    name: str  # the name the model sees: unique across servers (see chatterm.mcp.naming)
    description: str = ""
    # The tool's input JSON schema, sent as the function's `parameters`.
    parameters: Mapping[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """How a person sees it: `server.tool`."""
        return f"{self.server}.{self.tool}"

    def function(self) -> dict[str, Any]:
        """The OpenAI function-tool shape (Mistral takes the same)."""
        return {"type": "function",
                "function": {"name": self.name, "description": self.description,
                             "parameters": dict(self.parameters)
                             or {"type": "object", "properties": {}}}}


@dataclass(frozen=True, slots=True)
class ServerStatus:
    name: str
    state: ServerState
    error: str | None = None  # one line, for FAILED
    tools: tuple[ToolSpec, ...] = ()
    approve: ApproveMode = "ask"
    transport: Literal["stdio", "http"] = "stdio"


class ToolOutcome(StrEnum):
    """How a call ended; saved as the tool message's finish_reason."""

    OK = "ok"
    ERROR = "error"  # isError, an exception, a timeout, the server died mid-call
    DECLINED = "declined"  # the user said no (or no terminal to ask on, in the CLI)
    STOPPED = "stopped"  # Esc / Ctrl+C while it waited or ran
    UNKNOWN = "unknown"  # no such tool (or it is switched off), or arguments not JSON


@dataclass(frozen=True, slots=True)
class ToolResult:
    """What a call returned, as text (never raises for a tool's own failure)."""

    text: str  # whole, as the server sent it (not neutralised: front ends do that)
    outcome: ToolOutcome = ToolOutcome.OK
    error: str | None = None  # one line when outcome is not OK, e.g. "timed out after 60 s"


@dataclass(frozen=True, slots=True)
class ToolFilter:
    """What is switched off for one conversation (the app's tools panel, `ask --tool`)."""

    off_servers: frozenset[str] = frozenset()
    off_tools: frozenset[str] = frozenset()  # ToolSpec.label values
    only_servers: frozenset[str] | None = None  # `ask --tool S`: only these servers

    def allows(self, spec: ToolSpec) -> bool:
        if self.only_servers is not None and spec.server not in self.only_servers:
            return False
        return spec.server not in self.off_servers and spec.label not in self.off_tools


class ToolBox(Protocol):
    """What the engine needs from a tool runner (chatterm.mcp.host.McpHost)."""

    def statuses(self) -> list[ServerStatus]:
        """Every configured server, in config order, as it is now."""
        ...

    def specs(self) -> list[ToolSpec]:
        """The tools of the servers that are ready now (a slow server is not waited for)."""
        ...

    def needs_approval(self, spec: ToolSpec) -> bool:
        """False for an `approve = "auto"` server or a tool allowed always."""
        ...

    def allow_always(self, spec: ToolSpec) -> None:
        """Never ask again for this tool (saved in the config: always_allow)."""
        ...

    async def call(self, spec: ToolSpec, arguments: dict[str, Any]) -> ToolResult:
        """Run one call with its server's timeout, from any event loop; cancelling the
        awaiting task stops the call."""
        ...


class Decision(StrEnum):
    ALLOW = "allow"  # y: this once
    ALWAYS = "always"  # a: this tool from now on (saved)
    DENY = "deny"  # n: send the model "the user declined"
    STOP = "stop"  # Esc: decline this and every other call of the round, end the loop


@dataclass(frozen=True, slots=True)
class ApprovalRequest:
    spec: ToolSpec
    call_id: str
    arguments: str  # the model's arguments, pretty-printed JSON (or as sent, if not JSON)


@dataclass(frozen=True, slots=True)
class Approval:
    decision: Decision
    # Edited arguments (JSON text) to run instead of the model's; None: as asked.
    arguments: str | None = None


Approver = Callable[[ApprovalRequest], Awaitable[Approval]]

# What the model is told for a call that did not run (the tool message's content).
DECLINED_TEXT = "The user declined to run this tool call."
STOPPED_TEXT = "The user stopped this tool call before it finished."
