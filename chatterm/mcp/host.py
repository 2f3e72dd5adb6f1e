"""McpHost: the configured MCP servers, run on a thread of their own (a ToolBox).

Why a thread: the SDK costs ~1.2 s and ~580 modules to import, and servers take a while
to start. Importing this module imports neither the SDK nor anything heavy; `start()`
returns at once, and the thread imports the SDK and connects every enabled server
concurrently on its own asyncio loop. The front ends' loops never wait for it: `specs()`
and `statuses()` read what is known now, `call()` hands the call to the host loop and
awaits its result from whatever loop the caller runs, and `on_change` is called from the
host thread on every state change (a front end hops to its own loop from there).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chatterm.mcp.config import McpConfig, McpServerConfig
from chatterm.mcp.naming import model_names
from chatterm.toolbox import ServerState, ServerStatus, ToolOutcome, ToolResult, ToolSpec

if TYPE_CHECKING:
    from chatterm.config.schema import Config
    from chatterm.mcp.connection import Connection, ToolInfo

# close(): how long the thread gets to stop every server the polite way (stdin closed,
# SIGTERM, SIGKILL: chatterm.mcp.stdio) before what is left is killed outright.
CLOSE_TIMEOUT = 5.0


class McpHost:
    def __init__(self, config: McpConfig, *, log_dir: Path, config_path: Path | None = None,
                 on_change: Callable[[ServerStatus], None] | None = None) -> None:
        self.config = config
        self.log_dir = log_dir
        self.config_path = config_path
        self.on_change = on_change
        self._lock = threading.Lock()
        self._statuses: dict[str, ServerStatus] = {
            server.name: ServerStatus(
                server.name,
                ServerState.STARTING if server.enabled else ServerState.DISABLED,
                approve=server.approve, transport=server.transport)
            for server in config.servers}
        self._specs: list[ToolSpec] = []
        self._tools: dict[str, tuple[ToolInfo, ...]] = {}
        from chatterm.mcp.approvals import LiveApprovals

        # approve/always_allow as the file says them now: a revoked approval asks again.
        self._approvals = LiveApprovals(config.servers, config_path)
        self._connections: dict[str, Connection] = {}
        self._waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self._closing = False
        from chatterm.redact import remember

        # A server's env and headers hold its tokens: no line chatterm shows says them.
        remember(*(value for server in config.servers
                   for _name, value in (*server.env, *server.headers)))

    @classmethod
    def for_config(cls, config: Config,
                   on_change: Callable[[ServerStatus], None] | None = None) -> McpHost:
        """The host of a loaded Config: its [mcp] servers, logs in the cache dir
        (chatterm.locations.mcp_log_dir), "always" saved to its file."""
        from chatterm.locations import mcp_log_dir

        return cls(config.mcp, log_dir=mcp_log_dir(), config_path=config.path,
                   on_change=on_change)

    # ---- life -----------------------------------------------------------------------

    def start(self) -> None:
        """Start the host thread (once); returns at once. No enabled server: no thread,
        and the SDK is never imported."""
        with self._lock:
            if self._thread is not None or self._closing or not self.config.enabled_servers:
                return
            self._loop = asyncio.new_event_loop()
            self._thread = threading.Thread(target=self._run, name="chatterm-mcp-host",
                                            daemon=True)
        self._thread.start()

    def _run(self) -> None:
        loop = self._loop
        assert loop is not None
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._main())
        finally:
            with contextlib.suppress(Exception):
                loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    async def _main(self) -> None:
        self._stop = asyncio.Event()
        if self._closing:
            return
        try:
            from chatterm.mcp.connection import Connection
            from chatterm.mcp.sdk_log import quiet_sdk_logging

            quiet_sdk_logging(self.log_dir)
        except ImportError as exc:  # the mcp package missing or broken in this install
            for server in self.config.enabled_servers:
                self._report(server, ServerState.FAILED,
                             f"the MCP SDK cannot be imported ({exc.name or exc})", ())
            return
        runs = []
        for server in self.config.enabled_servers:
            connection = Connection(
                server, log_dir=self.log_dir, start_timeout=self.config.start_timeout,
                report=functools.partial(self._report, server))
            self._connections[server.name] = connection
            runs.append(asyncio.ensure_future(connection.run(self._stop)))
        # The loop lives until close(), even when every server has gone: a call to a
        # failed server must still be answered (with an ERROR result) from here.
        await self._stop.wait()
        # A server still starting would hold close() for the rest of its start_timeout
        # (quitting the app took 5 s, CLOSE_TIMEOUT, then a kill): its start is cancelled,
        # and leaving the transport ends its process as for the others.
        for connection, run in zip(self._connections.values(), runs, strict=True):
            if connection.client is None and connection.failed is None:
                connection.end.hurry = True
                run.cancel()
        await asyncio.gather(*runs, return_exceptions=True)

    def close(self) -> None:
        """Stop every server and the thread; bounded (CLOSE_TIMEOUT), idempotent, from
        any thread but the host's. What does not exit in time is killed."""
        with self._lock:
            self._closing = True
            thread, loop = self._thread, self._loop
        self._wake_waiters()  # wait_ready() returns (False: not every server got ready)
        if thread is None or loop is None:
            return
        if thread is threading.current_thread():
            raise RuntimeError("McpHost.close() called from the host thread")
        with contextlib.suppress(RuntimeError):  # the loop is already closed
            loop.call_soon_threadsafe(self._set_stop)
        thread.join(CLOSE_TIMEOUT)
        if thread.is_alive():
            from chatterm.mcp.stdio import kill_group

            for connection in list(self._connections.values()):
                if connection.end.pid is not None:
                    kill_group(connection.end.pid)
            thread.join(1.0)

    def _set_stop(self) -> None:
        if self._stop is not None:
            self._stop.set()

    async def wait_ready(self, timeout: float | None = None) -> bool:
        """Wait (from any loop) until every enabled server is READY or FAILED, at most
        `timeout` seconds; True when they all are."""
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[None] = loop.create_future()
        with self._lock:
            if self._settled():
                return True
            self._waiters.append((loop, waiter))
        try:
            await asyncio.wait_for(asyncio.shield(waiter), timeout)
        except TimeoutError:
            return False
        finally:
            with self._lock, contextlib.suppress(ValueError):
                self._waiters.remove((loop, waiter))
        with self._lock:
            return self._settled()

    def _wake_waiters(self) -> None:
        with self._lock:
            waiters = list(self._waiters)
        for loop, waiter in waiters:
            with contextlib.suppress(RuntimeError):  # that loop is closed
                loop.call_soon_threadsafe(_resolve, waiter)

    def _settled(self) -> bool:
        return all(status.state is not ServerState.STARTING
                   for status in self._statuses.values())

    # ---- state ----------------------------------------------------------------------

    def _report(self, server: McpServerConfig, state: ServerState, error: str | None,
                tools: tuple[ToolInfo, ...]) -> None:
        """A connection's news (on the host thread): the new status, the specs of every
        ready server named again, waiters woken, on_change told."""
        with self._lock:
            if self._closing:
                return  # servers going away at close() are not news
            status = ServerStatus(server.name, state, error=error,
                                  approve=server.approve, transport=server.transport)
            self._statuses[server.name] = status
            self._tools[server.name] = tools if state is ServerState.READY else ()
            self._specs = self._name_specs()
            status = self._statuses[server.name]
            settled = self._settled()
        if self.on_change is not None:
            try:
                self.on_change(status)
            except Exception:  # a front end's bug must not stop the host
                import logging

                logging.getLogger(__name__).exception("McpHost on_change failed")
        if settled:  # after on_change: wait_ready() returns with every change told
            self._wake_waiters()

    def _name_specs(self) -> list[ToolSpec]:
        """Every ready server's tools as ToolSpecs, named across servers (naming.py),
        and each server's status given its own specs."""
        listed = [(server.name, tool) for server in self.config.servers
                  for tool in self._tools.get(server.name, ())]
        names = model_names((name, tool[0]) for name, tool in listed)
        specs = [ToolSpec(server=name, tool=tool[0], name=names[(name, tool[0])],
                          description=tool[1], parameters=tool[2]) for name, tool in listed]
        for name, status in self._statuses.items():
            own = tuple(spec for spec in specs if spec.server == name)
            if own != status.tools:
                self._statuses[name] = ServerStatus(
                    status.name, status.state, status.error, own, status.approve,
                    status.transport)
        return specs

    def statuses(self) -> list[ServerStatus]:
        with self._lock:
            return [self._statuses[server.name] for server in self.config.servers]

    def specs(self) -> list[ToolSpec]:
        with self._lock:
            return list(self._specs)

    # ---- approval -------------------------------------------------------------------

    def needs_approval(self, spec: ToolSpec) -> bool:
        return self._approvals.needs_approval(spec.server, spec.tool)

    def allow_always(self, spec: ToolSpec) -> None:
        """Never ask again for this tool: at once in this process, and saved in the config
        file's always_allow (comments kept). A file that cannot be written raises
        ConfigError with one line; the tool stays allowed for this run."""
        if not self._approvals.allow(spec.server, spec.tool):
            return
        if self.config_path is not None:
            from chatterm.mcp.allow import save_always_allow

            save_always_allow(self.config_path, spec.server, spec.tool)
            self._approvals.saved(spec.server, spec.tool)

    # ---- calls ----------------------------------------------------------------------

    async def call(self, spec: ToolSpec, arguments: dict[str, Any]) -> ToolResult:
        loop = self._loop
        connection = self._connections.get(spec.server)
        if connection is None or loop is None or self._closing:
            status = self._statuses.get(spec.server)
            if status is None:
                return ToolResult(f"Error: there is no server named {spec.server!r}",
                                  ToolOutcome.UNKNOWN, f"no server named {spec.server!r}")
            why = status.error or f"the server is {status.state.value}"
            return ToolResult(f"Error: {spec.server}: {why}", ToolOutcome.ERROR,
                              f"{spec.server}: {why}")
        try:
            future: concurrent.futures.Future[ToolResult] = asyncio.run_coroutine_threadsafe(
                connection.call(spec.tool, arguments), loop)
        except RuntimeError:  # the host loop closed under us (close() ran meanwhile)
            return ToolResult(f"Error: {spec.server}: chatterm's tool host has stopped",
                              ToolOutcome.ERROR, f"{spec.server}: the tool host has stopped")
        # Cancelling the awaiting task cancels `future`, which cancels the call's task
        # on the host loop (run_coroutine_threadsafe's contract); the SDK then tells the
        # server the request is cancelled.
        return await asyncio.wrap_future(future)


def _resolve(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)
