"""The app's tools: one MCP host per run, the approver, and each chat's switches.

`AppTools` is made with the app and does nothing until `start()`, which the app calls
after its first frame: only then, and only when the config names at least one server, is
the host made (chatterm.mcp.host.McpHost), and the host imports the MCP SDK on its own
thread. A launch never waits for a server, nor pays for the SDK's ~580 modules.

Every session the chat screen makes is handed to `attach`, which sets what the engine's
tool loop reads: `tools` (the host, or None), `approver` (the dialog, ui/tools/approval.py)
and `tool_filter` (what the tools panel switched off for that chat; kept per
conversation id for as long as the app runs, never saved).

The host reports each server's state from its thread; `_changed` hops to the app's loop,
where a failed server becomes a notification naming it and an open tools panel redraws.
Quitting closes the host with a bound, so a server that will not exit never holds the
app open.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import dataclasses
import threading
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from chatterm.toolbox import ServerState, ServerStatus, ToolFilter, ToolSpec
from chatterm.ui import inert

if TYPE_CHECKING:
    from textual.app import App

    from chatterm.config import Config
    from chatterm.engine.session import ChatSession
    from chatterm.mcp.host import McpHost
    from chatterm.ui.tools.approval import DialogApprover

CLOSE_WAIT = 8.0
"""Seconds quitting waits for the host to close. McpHost.close() is bounded itself (it
kills a server that does not exit); this is the app's own bound on top of it."""


class AppTools:
    def __init__(self, app: App[Any], config: Config,
                 shown: Callable[[], str | None]) -> None:
        self._app = app
        self._config = config
        self._shown = shown  # the id of the conversation on screen
        self.host: McpHost | None = None
        self._approver: DialogApprover | None = None  # made with the first session
        self._filters: dict[str, ToolFilter] = {}
        # The sessions handed out, to give them the host once it exists and a chat's
        # new switches at once (a chat left streaming keeps its session).
        self._sessions: weakref.WeakSet[ChatSession] = weakref.WeakSet()
        self._watchers: list[Callable[[], None]] = []
        self._failed: dict[str, str | None] = {}  # server -> the error already notified
        self._loop: asyncio.AbstractEventLoop | None = None
        self._context: contextvars.Context | None = None
        self._closing = False

    @property
    def approver(self) -> DialogApprover:
        """The dialog every session's approver opens (one at a time, across chats)."""
        if self._approver is None:
            # Loaded with the first session, not at launch: the dialog's widgets are
            # no part of the first frame.
            from chatterm.ui.tools.approval import DialogApprover

            self._approver = DialogApprover(self._app)
        return self._approver

    @property
    def configured(self) -> bool:
        return bool(self._config.mcp.servers)

    # ---- the host's life -----------------------------------------------------------------

    def start(self) -> None:
        """Start the configured servers in the background (after the first frame)."""
        if self.host is not None or self._closing or not self.configured:
            return
        from chatterm.mcp.host import McpHost

        self._loop = asyncio.get_running_loop()
        # The app's context (Textual's active app, message pump): each hop runs in it, as
        # code called from the app's own loop does.
        self._context = contextvars.copy_context()
        # Logs in the cache dir (chatterm.locations.mcp_log_dir), "always" saved to the
        # config file the app loaded.
        self.host = host = McpHost.for_config(self._config, on_change=self._changed)
        for session in list(self._sessions):
            session.tools = host
        host.start()

    def _changed(self, status: ServerStatus) -> None:
        """From the host's thread. Not app.call_from_thread: that blocks this thread
        until the loop has run the callback, and quitting waits on the host's thread
        (close) while the loop may be gone: a hang. A hop that never waits cannot."""
        loop = self._loop
        if loop is None or self._closing:
            return
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile: nobody looks
            loop.call_soon_threadsafe(self._status_changed, status, context=self._context)

    def _status_changed(self, status: ServerStatus) -> None:
        if self._closing:
            return
        if status.state is ServerState.FAILED:
            if self._failed.get(status.name, "") != status.error:
                self._failed[status.name] = status.error
                why = inert.server_words(status.error or "it failed to start")
                self._app.notify(f"MCP server {status.name}: {why}", title="Tools",
                                 severity="error", timeout=10, markup=False)
        else:
            self._failed.pop(status.name, None)
        for watcher in list(self._watchers):
            watcher()

    async def close(self) -> None:
        """Stop every server (on quit). Waits at most CLOSE_WAIT seconds: a server that
        ignores everything is the host's to kill, and the app quits regardless."""
        self._closing = True
        host, self.host = self.host, None
        if host is None:
            return
        loop = asyncio.get_running_loop()
        closed: asyncio.Future[None] = loop.create_future()

        def settle() -> None:
            if not closed.done():
                closed.set_result(None)

        def run() -> None:
            try:
                host.close()
            finally:
                with contextlib.suppress(RuntimeError):  # the app's loop is gone
                    loop.call_soon_threadsafe(settle)

        # A daemon thread rather than asyncio.to_thread: the loop's shutdown waits for
        # its executor's threads, so a stuck close there would hold the exit after all.
        threading.Thread(target=run, name="mcp-close", daemon=True).start()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(closed, CLOSE_WAIT)

    # ---- what the sessions and the panel see ---------------------------------------------

    def attach(self, session: ChatSession) -> None:
        """Give a new session the tools, the approver and its chat's switches."""
        conversation = session.conversation

        def elsewhere() -> str | None:
            # The dialog names the chat when another one is on screen.
            if self._shown() in (None, conversation.id):
                return None
            return conversation.title or "an untitled chat"

        session.tools = self.host
        session.approver = self.approver.for_chat(elsewhere)
        session.tool_filter = self.filter_for(conversation.id)
        self._sessions.add(session)

    def statuses(self) -> list[ServerStatus]:
        """Every configured server as it is now ("starting" before the host exists)."""
        if self.host is not None:
            return self.host.statuses()
        if not self.configured:
            return []
        return [ServerStatus(server.name, ServerState.STARTING if server.enabled
                             else ServerState.DISABLED, approve=server.approve,
                             transport=server.transport)
                for server in self._config.mcp.servers]

    def asks(self, spec: ToolSpec) -> bool:
        """Whether a call of this tool waits for the dialog (False: auto, or always)."""
        return self.host.needs_approval(spec) if self.host is not None else True

    def filter_for(self, conversation_id: str) -> ToolFilter:
        return self._filters.get(conversation_id, ToolFilter())

    def switch(self, conversation_id: str, *, server: str | None = None,
               tool: str | None = None, on: bool) -> ToolFilter:
        """Switch a server (its name) or one tool (its ToolSpec.label) on or off for one
        chat; its sessions use the new switches from their next request on."""
        old = self.filter_for(conversation_id)
        servers, tools = set(old.off_servers), set(old.off_tools)
        for names, name in ((servers, server), (tools, tool)):
            if name is not None:
                (names.discard if on else names.add)(name)
        new = dataclasses.replace(old, off_servers=frozenset(servers),
                                  off_tools=frozenset(tools))
        self._filters[conversation_id] = new
        for session in list(self._sessions):
            if session.conversation.id == conversation_id:
                session.tool_filter = new
        return new

    def watch(self, watcher: Callable[[], None]) -> Callable[[], None]:
        """Call `watcher` on the app's loop whenever a server's state changes; returns
        the function that stops it."""
        self._watchers.append(watcher)
        return lambda: self._watchers.remove(watcher) if watcher in self._watchers else None

