"""`chatterm tools [--json]`, and the MCP servers `chatterm ask` runs tools with.

chatterm.mcp.host (and with it the MCP SDK, ~1 s to import) is imported only when an
enabled server is configured and wanted: `ask` without servers, or with --no-tools, never
loads it. The CLI waits for the servers it starts before the first request, at most
[mcp] ask_wait (3 s), so the model is offered every tool that is there; a server still
starting then is named on stderr and joins later tool rounds once it is ready; a server
that fails is one stderr line, and the others go on.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chatterm.cli.common import load_config
from chatterm.cli.output import Out, error_line, warn
from chatterm.errors import UsageError
from chatterm.toolbox import ServerState, ServerStatus, ToolFilter

if TYPE_CHECKING:
    from chatterm.cli.approval import TerminalApprover
    from chatterm.config import Config
    from chatterm.engine.session import ChatSession
    from chatterm.mcp.config import McpServerConfig
    from chatterm.mcp.host import McpHost

# `chatterm tools` waits for every server; a server past start_timeout is the host's to
# fail, and this margin only bounds our own wait.
_WAIT_MARGIN = 5.0
# How long servers may take to start before `chatterm tools` explains its wait: longer
# than a healthy server takes on a loaded machine (~1-3 s), so a normal run prints nothing.
PATIENCE = 5.0

# The README heading that explains [mcp.servers.NAME] (test_cli_tools checks it exists).
README_SECTION = "MCP tool servers"
HOW_TO_CONFIGURE = ("no MCP servers configured: add a [mcp.servers.NAME] table with a "
                    "command (or a url) to {path}; see the README's section "
                    f'"{README_SECTION}"')


def _config_path(config: Config) -> str:
    if config.path is not None:
        return str(config.path)
    from chatterm.locations import config_file

    return str(config_file())


def start_host(config: Config, servers: tuple[McpServerConfig, ...]) -> McpHost:
    """A started host for `servers` (returns at once: they connect on its thread)."""
    from chatterm.mcp.host import McpHost

    host = McpHost(dataclasses.replace(config.mcp, servers=servers),
                   log_dir=log_dir(), config_path=config.path, on_change=None)
    host.start()
    return host


async def wait_for(host: McpHost, config: Config) -> list[ServerStatus]:
    """Every server's status once each is ready or failed, or once [mcp] ask_wait is
    over: a server still starting then is not waited for (a server hanging at start held
    every `ask` for start_timeout, even a prompt that needs no tool). The tool loop asks
    the host for its tools at every request, so a server that comes up later is offered
    from the next tool round on."""
    await host.wait_ready(min(config.mcp.ask_wait, config.mcp.start_timeout))
    return host.statuses()


async def wait_all(host: McpHost, config: Config) -> list[ServerStatus]:
    """`chatterm tools`: every server's status once each is ready or failed (the host
    fails one at start_timeout; the margin only bounds our own wait). A wait past
    PATIENCE says at once which server it is for."""
    patience = min(PATIENCE, config.mcp.start_timeout / 2)
    if not await host.wait_ready(patience):
        slow = [status.name for status in host.statuses()
                if status.state is ServerState.STARTING]
        if slow:
            names = ", ".join(repr(name) for name in slow)
            warn(f"waiting for MCP server{'s' if len(slow) > 1 else ''} {names} to start "
                 f"(at most {config.mcp.start_timeout:g} s, start_timeout in [mcp])")
        await host.wait_ready(config.mcp.start_timeout + _WAIT_MARGIN - patience)
    return host.statuses()


def log_dir() -> Path:
    """Where each server's stderr goes (NAME.log), as the app's host has it."""
    from chatterm.locations import mcp_log_dir

    return mcp_log_dir()


def _why(status: ServerStatus, config: Config) -> str:
    if status.state is ServerState.STARTING:
        return f"did not start within {config.mcp.start_timeout:g} s (start_timeout)"
    return error_line(status.error or "failed")


def _log_note(status: ServerStatus) -> str:
    """Where to read what a failed stdio server said (its stderr goes nowhere else)."""
    path = log_dir() / f"{status.name}.log"
    return f" (its stderr: {path})" if status.transport == "stdio" and path.is_file() else ""


class AskTools:
    """The tools of one `ask`: which servers (all enabled ones, or --tool's), the host
    running them, the approver; attached to the session before the exchange."""

    def __init__(self, config: Config, servers: tuple[McpServerConfig, ...], *,
                 yes: bool) -> None:
        from chatterm.cli.approval import TerminalApprover

        self.config = config
        self.servers = servers
        self.host: McpHost | None = None
        self.approver: TerminalApprover = TerminalApprover(yes=yes)

    @classmethod
    def from_args(cls, args: argparse.Namespace, config: Config) -> AskTools | None:
        """None when no tools are wanted or none are configured (nothing is imported)."""
        if args.no_tools:
            return None
        servers = chosen_servers(config, args.tool)
        return cls(config, servers, yes=args.yes) if servers else None

    def start(self) -> None:
        """Start the servers (they connect on the host's thread while ask goes on)."""
        if self.host is None:
            self.host = start_host(self.config, self.servers)

    def attach(self, session: ChatSession) -> None:
        self.start()
        assert self.host is not None
        session.tools = self.host
        session.approver = self.approver
        session.tool_filter = ToolFilter(
            only_servers=frozenset(server.name for server in self.servers))

    async def ready(self) -> None:
        """Wait for the servers (at most ask_wait); one line per server that failed, and
        one naming those still starting, which the prompt goes ahead without."""
        assert self.host is not None
        statuses = await wait_for(self.host, self.config)
        for status in statuses:
            if status.state is ServerState.FAILED:
                warn(f"MCP server {status.name!r} {_failed(status, self.config)}; going on "
                     f"without its tools{_log_note(status)}")
        slow = [status.name for status in statuses if status.state is ServerState.STARTING]
        if slow:
            names = ", ".join(repr(name) for name in slow)
            plural = "s" if len(slow) > 1 else ""
            warn(f"MCP server{plural} {names} still starting after "
                 f"{self.config.mcp.ask_wait:g} s (ask_wait in [mcp]): the prompt goes "
                 f"without {'their' if plural else 'its'} tools, which join later tool "
                 "rounds once ready; --no-tools skips the servers, --tool SERVER picks some")

    def close(self) -> None:
        self.approver.close()
        if self.host is not None:
            self.host.close()


def _failed(status: ServerStatus, config: Config) -> str:
    if status.state is ServerState.STARTING:
        return _why(status, config)
    return f"failed: {_why(status, config)}"


def chosen_servers(config: Config, names: list[str]) -> tuple[McpServerConfig, ...]:
    """The servers `ask` starts: every enabled one, or the ones --tool names."""
    servers = config.mcp.servers
    if not names:
        return tuple(server for server in servers if server.enabled)
    known = {server.name: server for server in servers}
    wanted = list(dict.fromkeys(names))
    for name in wanted:
        if name not in known:
            if not known:
                raise UsageError(f"--tool {name!r}: "
                                 + HOW_TO_CONFIGURE.format(path=_config_path(config)))
            raise UsageError(f"--tool {name!r}: no such MCP server (configured: "
                             f"{', '.join(known)})")
        if not known[name].enabled:
            raise UsageError(f"--tool {name!r}: that server is switched off (enabled = "
                             f"false in {_config_path(config)})")
    return tuple(known[name] for name in wanted)


def run_tools(args: argparse.Namespace) -> int:
    """Each configured server, its state and its tools. Exit 1 when one failed."""
    config = load_config()
    out = Out()
    servers = config.mcp.servers
    if not servers:
        line = HOW_TO_CONFIGURE.format(path=_config_path(config))
        if args.json:
            out.json([])
            warn(line)
        else:
            out.line(line)
        return 0
    if any(server.enabled for server in servers):
        host = start_host(config, servers)
        try:
            statuses = asyncio.run(wait_all(host, config))
        finally:
            host.close()
    else:
        # Nothing to start: the SDK is not even imported.
        statuses = [ServerStatus(server.name, ServerState.DISABLED, approve=server.approve,
                                 transport=server.transport) for server in servers]
    if args.json:
        out.json([status_json(status, config) for status in statuses])
    else:
        for status in statuses:
            _print_status(out, status, config)
    failed = any(s.state in (ServerState.FAILED, ServerState.STARTING) for s in statuses)
    return 1 if failed else 0


def status_json(status: ServerStatus, config: Config) -> dict[str, Any]:
    failed = status.state in (ServerState.FAILED, ServerState.STARTING)
    return {
        "name": status.name,
        "state": str(ServerState.FAILED if failed else status.state),
        "error": _why(status, config) if failed else None,
        "tools": [{"name": spec.tool, "description": spec.description}
                  for spec in status.tools],
    }


def _print_status(out: Out, status: ServerStatus, config: Config) -> None:
    if status.state in (ServerState.FAILED, ServerState.STARTING):
        out.line(f"{status.name}: failed: {_why(status, config)}{_log_note(status)}")
        return
    if status.state is ServerState.DISABLED:
        out.line(f"{status.name}: disabled (enabled = false)")
        return
    count = len(status.tools)
    approve = "asks before each call" if status.approve == "ask" else "runs calls unasked"
    out.line(f"{status.name}: ready, {count} tool{'' if count == 1 else 's'} "
             f"({status.transport}, {approve})")
    width = max((len(spec.tool) for spec in status.tools), default=0)
    for spec in status.tools:
        offered = f" (offered as {spec.name})" if spec.name != spec.tool else ""
        description = _first_line(spec.description)
        out.line(f"  {spec.tool.ljust(width)}  {description}{offered}".rstrip())


def _first_line(text: str, limit: int = 100) -> str:
    line = next((part.strip() for part in text.splitlines() if part.strip()), "")
    line = " ".join(line.split())
    return line if len(line) <= limit else line[:limit - 1].rstrip() + "…"
