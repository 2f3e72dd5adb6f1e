"""Which calls wait for approval: each server's `approve` and `always_allow` as the config
file says them now, not as they were when the host started.

A person who takes a tool out of always_allow (or sets approve back to "ask"), by hand or
with `chatterm config set`, expects the running app to ask again at its next call: a
revoked approval that kept running unasked would be the unsafe direction. So each check
stats the file (cheap) and re-reads the [mcp] table when it changed. A file that does not
load (half edited, a typo) makes every call ask until it loads again.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from chatterm.errors import ConfigError
from chatterm.mcp.config import McpServerConfig

_Stamp = tuple[int, int, int] | None
_ASK: tuple[str, frozenset[str]] = ("ask", frozenset())


class LiveApprovals:
    def __init__(self, servers: tuple[McpServerConfig, ...], path: Path | None) -> None:
        self._path = path
        self._rules: dict[str, tuple[str, frozenset[str]]] = {
            server.name: (server.approve, frozenset(server.always_allow)) for server in servers}
        # "always" answers the file could not take (unwritable): they hold for this run.
        self._unsaved: dict[str, set[str]] = {}
        self._lock = threading.Lock()
        self._seen = self._stamp()

    def _stamp(self) -> _Stamp:
        if self._path is None:
            return None
        try:
            info = os.stat(self._path)
        except OSError:
            return None
        return (info.st_mtime_ns, info.st_size, info.st_ino)

    def _refresh(self) -> None:
        if self._path is None:
            return
        stamp = self._stamp()
        if stamp == self._seen:
            return
        self._seen = stamp
        from chatterm.config.load import read_toml
        from chatterm.config.mcp_table import read_mcp

        try:
            data = read_toml(self._path) or {}
            servers = {server.name: server for server in
                       read_mcp(data.get("mcp", {}), self._path, lambda *_: None).servers}
        except ConfigError:
            self._rules = dict.fromkeys(self._rules, _ASK)
            return
        self._rules = {
            name: (servers[name].approve, frozenset(servers[name].always_allow))
            if name in servers else _ASK
            for name in self._rules}

    def needs_approval(self, server: str, tool: str) -> bool:
        with self._lock:
            self._refresh()
            approve, allowed = self._rules.get(server, _ASK)
            if approve == "auto":
                return False
            return tool not in allowed and tool not in self._unsaved.get(server, set())

    def allow(self, server: str, tool: str) -> bool:
        """Allow `tool` from now on in this run; False when it was allowed already."""
        with self._lock:
            self._refresh()
            if tool in self._rules.get(server, _ASK)[1] or tool in self._unsaved.get(server, ()):
                return False
            self._unsaved.setdefault(server, set()).add(tool)
            return True

    def saved(self, server: str, tool: str) -> None:
        """The file has `tool` now: from here on the file alone says (and can take it back)."""
        with self._lock:
            self._unsaved.get(server, set()).discard(tool)
            self._refresh()
