"""Shared helpers for tests that run MCP servers through the real McpHost.

- `toolkit_server(name, *flags)`: an McpServerConfig for tests/mcp_servers/toolkit.py
  (a tool per fault) run with this interpreter over stdio;
- `time_server(name)`: the reference `mcp-server-time` from the [dev] extra;
- `running_host(servers, tmp_path)`: an McpHost started and waited for, closed after;
- `HttpToolkit`: toolkit.py serving streamable HTTP on 127.0.0.1 (a free port);
- `toml_for(servers)`: the [mcp.servers.NAME] tables of a config file for them.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

from chatterm.mcp.config import McpConfig, McpServerConfig
from chatterm.mcp.host import McpHost
from chatterm.toolbox import ServerStatus, ToolSpec

SERVERS = Path(__file__).parent / "mcp_servers"
TOOLKIT = SERVERS / "toolkit.py"


def time_command() -> str:
    found = shutil.which("mcp-server-time") or str(Path(sys.executable).parent / "mcp-server-time")
    return found


def time_server(name: str = "time", **settings: Any) -> McpServerConfig:
    return McpServerConfig(name=name, command=time_command(), **settings)


def toolkit_server(name: str = "kit", *flags: str, **settings: Any) -> McpServerConfig:
    return McpServerConfig(name=name, command=sys.executable,
                           args=(str(TOOLKIT), "--name", name, *flags), **settings)


def spec_of(host: McpHost, server: str, tool: str) -> ToolSpec:
    for spec in host.specs():
        if spec.server == server and spec.tool == tool:
            return spec
    raise AssertionError(f"no tool {server}.{tool} in {[s.label for s in host.specs()]}")


def status_of(host: McpHost, server: str) -> ServerStatus:
    return next(status for status in host.statuses() if status.name == server)


@contextlib.asynccontextmanager
async def running_host(servers: list[McpServerConfig] | tuple[McpServerConfig, ...],
                       log_dir: Path, *, start_timeout: float = 30.0,
                       config_path: Path | None = None, changes: list[ServerStatus] | None = None,
                       ready_timeout: float = 60.0) -> AsyncIterator[McpHost]:
    """An McpHost over `servers`, started and waited for (every one READY or FAILED)."""
    config = McpConfig(start_timeout=start_timeout, servers=tuple(servers))
    host = McpHost(config, log_dir=log_dir, config_path=config_path,
                   on_change=changes.append if changes is not None else None)
    host.start()
    try:
        assert await host.wait_ready(ready_timeout), [s for s in host.statuses()]
        yield host
    finally:
        host.close()


def toml_for(servers: list[McpServerConfig]) -> str:
    """[mcp.servers.NAME] tables for `servers` (json.dumps writes valid TOML strings)."""
    lines: list[str] = []
    for server in servers:
        lines.append(f"[mcp.servers.{server.name}]")
        if server.command is not None:
            lines.append(f"command = {json.dumps(server.command)}")
            lines.append(f"args = {json.dumps(list(server.args))}")
        if server.url is not None:
            lines.append(f"url = {json.dumps(server.url)}")
        lines.append(f'approve = "{server.approve}"')
        lines.append(f"timeout = {server.timeout}")
        if not server.enabled:
            lines.append("enabled = false")
        lines.append("")
    return "\n".join(lines)


class HttpToolkit:
    """toolkit.py --http on 127.0.0.1 (port 0): `.url` once it listens; stop() ends it."""

    def __init__(self, name: str = "web") -> None:
        self.process = subprocess.Popen(
            [sys.executable, str(TOOLKIT), "--http", "--name", name],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        assert self.process.stdout is not None
        line = self.process.stdout.readline()  # blocks until it listens (or exits)
        if not line.startswith("URL "):
            self.stop()
            raise AssertionError(f"the HTTP test server did not start: {line!r}")
        self.url = line.split()[1]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@contextlib.contextmanager
def http_toolkit(name: str = "web") -> Iterator[HttpToolkit]:
    server = HttpToolkit(name)
    try:
        yield server
    finally:
        server.stop()
