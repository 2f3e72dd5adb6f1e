"""The [mcp] part of the config, as loaded: plain frozen dataclasses.

Checked and built by chatterm.config.mcp_table (one line naming the key for a bad
value, like every other key); nothing here imports the SDK or the config package, so
the config loader can import it without a cycle and without cost.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

ApproveMode = Literal["ask", "auto"]

DEFAULT_MAX_TOOL_ROUNDS = 10
DEFAULT_MAX_RESULT_BYTES = 100_000
DEFAULT_START_TIMEOUT = 20.0
# How long `chatterm ask` waits for servers still starting before it sends the prompt:
# longer than a healthy server takes on an idle machine (~1-2 s), short enough that a
# server hanging at start costs a prompt that needs no tool next to nothing.
DEFAULT_ASK_WAIT = 3.0
DEFAULT_CALL_TIMEOUT = 60.0


@dataclass(frozen=True, slots=True)
class McpServerConfig:
    """One [mcp.servers.NAME] table: a stdio command or a streamable HTTP url."""

    name: str
    command: str | None = None
    args: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()  # (name, value) pairs, in the file's order
    cwd: Path | None = None  # already ~-expanded
    url: str | None = None
    headers: tuple[tuple[str, str], ...] = ()
    approve: ApproveMode = "ask"
    enabled: bool = True
    timeout: float = DEFAULT_CALL_TIMEOUT  # seconds for one tool call
    always_allow: tuple[str, ...] = ()  # tool names (the server's own) never asked about

    @property
    def transport(self) -> Literal["stdio", "http"]:
        return "http" if self.url is not None else "stdio"


@dataclass(frozen=True, slots=True)
class McpConfig:
    max_tool_rounds: int = DEFAULT_MAX_TOOL_ROUNDS
    max_result_bytes: int = DEFAULT_MAX_RESULT_BYTES
    start_timeout: float = DEFAULT_START_TIMEOUT
    ask_wait: float = DEFAULT_ASK_WAIT
    servers: tuple[McpServerConfig, ...] = field(default=())

    def server(self, name: str) -> McpServerConfig | None:
        return next((server for server in self.servers if server.name == name), None)

    @property
    def enabled_servers(self) -> tuple[McpServerConfig, ...]:
        return tuple(server for server in self.servers if server.enabled)
