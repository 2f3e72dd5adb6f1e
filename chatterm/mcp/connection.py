"""One server's life on the host loop: connect, list its tools, serve calls, go away.

Runs on the host thread only (it imports the SDK; chatterm.mcp.host imports this module
there). Every failure becomes one line naming what went wrong; the host puts the
server's name in front of it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import mcp.types as types
from mcp import Client
from mcp.shared.exceptions import MCPError

from chatterm import __version__
from chatterm.mcp.config import McpServerConfig
from chatterm.mcp.env import server_environment
from chatterm.mcp.results import tool_result
from chatterm.mcp.stdio import ProcessEnd, stdio_transport
from chatterm.toolbox import ServerState, ToolOutcome, ToolResult

# (name, description, input schema) of each tool, as listed.
ToolInfo = tuple[str, str, dict[str, Any]]
Report = Callable[[ServerState, str | None, tuple[ToolInfo, ...]], None]
MAX_PAGES = 100  # of tools/list: a server whose cursor never ends cannot hang the start
LOG_LIMIT = 1_000_000  # a server's log is started afresh beyond this size


class Connection:
    def __init__(self, server: McpServerConfig, *, log_dir: Path, start_timeout: float,
                 report: Report) -> None:
        self.server = server
        self.log_dir = log_dir
        self.start_timeout = start_timeout
        self.report = report
        self.end = ProcessEnd()
        self.client: Client | None = None
        self.failed: str | None = None

    async def run(self, stop: asyncio.Event) -> None:
        """Connect and stay connected until `stop` is set or the server goes away."""
        # Only a process has a stderr to log; an HTTP server logs on its own side.
        log = _open_log(self.log_dir, self.server.name) if self.server.url is None else None
        try:
            async with contextlib.AsyncExitStack() as stack:
                try:
                    async with asyncio.timeout(self.start_timeout):
                        client = await stack.enter_async_context(self._client(log))
                        tools = await _list_tools(client)
                except TimeoutError:
                    self._fail(f"did not start within {self.start_timeout:g} s (start_timeout)")
                    return
                self.client = client
                self.report(ServerState.READY, None, tools)
                await _first_of(stop.wait(), self.end.ended.wait())
                if not stop.is_set():
                    self._fail(self.end.reason or "the connection ended")
        except Exception as exc:  # whatever the SDK or the OS raised: one line
            self._fail(self._describe(exc))
        finally:
            self.client = None
            if log is not None:
                with contextlib.suppress(OSError):
                    log.close()

    def _client(self, log: IO[bytes] | None) -> Client:
        server = self.server
        info = types.Implementation(name="chatterm", version=__version__)
        if server.url is not None:
            from mcp.client.streamable_http import streamable_http_client
            from mcp.shared._httpx_utils import create_mcp_http_client

            http = create_mcp_http_client(headers=dict(server.headers))
            transport: Any = streamable_http_client(server.url, http_client=http)
            return Client(transport, client_info=info, cache=None)
        cwd = str(server.cwd) if server.cwd is not None else None
        transport = stdio_transport(server.command or "", list(server.args),
                                    env=server_environment(server.env), cwd=cwd,
                                    errlog=log if log is not None else subprocess.DEVNULL,
                                    end=self.end)
        return Client(transport, client_info=info, cache=None)

    async def call(self, tool: str, arguments: dict[str, Any]) -> ToolResult:
        """One call with the server's timeout; a failure is an ERROR result, never raised
        (but cancelling it is: CancelledError goes on, and the SDK tells the server)."""
        client = self.client
        if client is None:
            return _error(f"{self.server.name}: {self.failed or 'the server is not ready'}")
        timeout = self.server.timeout
        try:
            async with asyncio.timeout(timeout):
                result = await client.call_tool(tool, arguments)
        except TimeoutError:
            return _error(f"timed out after {timeout:g} s")
        except Exception as exc:
            return _error(f"{self.server.name}: {await self._call_failure(exc)}")
        return tool_result(result)

    async def _call_failure(self, exc: Exception) -> str:
        if isinstance(exc, MCPError) and exc.code == types.CONNECTION_CLOSED:
            if self.server.url is None and self.failed is None:
                # The pipe broke before the exit was seen: give the transport a moment
                # to learn the exit code, so the line says why.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(2):
                        await self.end.ended.wait()
            reason = self.failed or self.end.reason or "the connection closed"
            self._fail(reason)
            return reason
        return self._describe(exc)

    def _fail(self, reason: str) -> None:
        if self.failed is None:
            self.failed = reason
            self.client = None
            self.report(ServerState.FAILED, reason, ())

    def _describe(self, exc: BaseException) -> str:
        exc = _innermost(exc)
        if self.end.reason is not None:
            return self.end.reason  # the process's own account beats the SDK's echo of it
        command = self.server.command or ""
        if isinstance(exc, FileNotFoundError):
            if self.server.cwd is not None and not self.server.cwd.is_dir():
                return f"its cwd {self.server.cwd} is not a directory"
            return f"command not found: {command}"
        if isinstance(exc, PermissionError):
            return f"cannot run {command}: permission denied"
        if isinstance(exc, MCPError):
            if exc.code == types.CONNECTION_CLOSED:
                return "the connection closed"
            return _one_line(exc.message) or f"error {exc.code}"
        # pydantic's ValidationError (by name: pydantic is the SDK's dependency, not ours)
        if type(exc).__name__ == "ValidationError":
            return "answered something that is not MCP"
        if type(exc).__name__ in ("ConnectError", "ConnectTimeout") and self.server.url:
            return f"cannot reach {self.server.url}: {_one_line(str(exc))}"
        if isinstance(exc, OSError):
            return _one_line(exc.strerror or str(exc))
        name = type(exc).__name__
        text = _one_line(str(exc))
        return f"{name}: {text}" if text else name


def _error(line: str) -> ToolResult:
    return ToolResult(f"Error: {line}", ToolOutcome.ERROR, line)


def _innermost(exc: BaseException) -> BaseException:
    # anyio's task groups wrap what failed in an ExceptionGroup (sometimes nested).
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return exc


def _one_line(text: str, limit: int = 200) -> str:
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


async def _list_tools(client: Client) -> tuple[ToolInfo, ...]:
    tools: list[ToolInfo] = []
    cursor: str | None = None
    for _page in range(MAX_PAGES):
        listed = await client.list_tools(cursor=cursor)
        tools += [(tool.name, tool.description or "", dict(tool.input_schema or {}))
                  for tool in listed.tools]
        cursor = listed.next_cursor
        if not cursor:
            break
    return tuple(tools)


async def _first_of(*waits: Any) -> None:
    tasks = [asyncio.ensure_future(wait) for wait in waits]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()


def _open_log(log_dir: Path, name: str) -> IO[bytes] | None:
    """log_dir/NAME.log, appended to (the server's stderr goes there, never to the
    terminal); None when it cannot be written (the server still runs, unlogged)."""
    path = log_dir / f"{name}.log"
    try:
        from chatterm.safe_write import ensure_private_dir

        # A server's stderr may well say things that are private: 0700 / 0600.
        ensure_private_dir(log_dir, tighten=False)
        big = path.exists() and path.stat().st_size > LOG_LIMIT
        flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if big else os.O_APPEND)
        log = os.fdopen(os.open(path, flags, 0o600), "wb")
        stamp = time.strftime("%Y-%m-%d %H:%M:%S")
        log.write(f"--- chatterm started {name} at {stamp}\n".encode())
        log.flush()
        return log
    except OSError:
        return None
