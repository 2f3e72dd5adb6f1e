"""Helpers for the CLI's tool tests (test_cli_tools.py, test_cli_approval.py): MCP server
tables for the config, the model's tool-call replies, and `chatterm` run detached from any
terminal or on a pseudo-terminal that is its controlling terminal."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import subprocess
import sys
import termios
import threading
import time
from pathlib import Path
from typing import Any

from chatterm_env import REPO_ROOT, run_cli, write_config
from loopback import LoopbackServer, Reply, tool_call_reply

TIME_SERVER = str(Path(sys.executable).parent / "mcp-server-time")
HOSTILE_SERVER = str(REPO_ROOT / "tests" / "mcp_servers" / "hostile.py")
TOOLKIT_SERVER = str(REPO_ROOT / "tests" / "mcp_servers" / "toolkit.py")
TOKYO = {"timezone": "Asia/Tokyo"}
QUESTION = 'Run time.get_current_time {"timezone": "Asia/Tokyo"}? [y]es/[n]o/[a]lways'

def server_table(name: str, command: str, *args: str, extra: str = "") -> str:
    return (f"[mcp.servers.{name}]\ncommand = {json.dumps(command)}\n"
            f"args = {json.dumps(list(args))}\n{extra}\n")


TIME = server_table("time", TIME_SERVER, "--local-timezone", "UTC")
HOSTILE = server_table("hostile", sys.executable, HOSTILE_SERVER)


# Tests whose model calls a tool need its server up for the first request: on a loaded
# machine a healthy server can take longer than ask_wait's 3 s, so they wait for it. A
# test of ask_wait itself sets its own (an [mcp] table given keeps its ask_wait).
TEST_ASK_WAIT = "ask_wait = 60\n"


def configure(loopback: LoopbackServer, *tables: str) -> Path:
    given = list(tables)
    mcp = next((i for i, table in enumerate(given) if table.startswith("[mcp]\n")), None)
    if mcp is None:
        given.insert(0, "[mcp]\n" + TEST_ASK_WAIT)
    elif "ask_wait" not in given[mcp]:
        given[mcp] = given[mcp].replace("[mcp]\n", "[mcp]\n" + TEST_ASK_WAIT, 1)
    return write_config(loopback.url, extra="".join(given))


def calling(name: str, arguments: dict[str, Any], call_id: str = "call_1",
            text: str = "") -> Reply:
    """A streamed reply that ends asking for one tool call."""
    return tool_call_reply([(call_id, name, json.dumps(arguments))], content=text)


def tool_names(body: dict[str, Any]) -> list[str]:
    return sorted(tool["function"]["name"] for tool in body.get("tools", []))


def cli_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO_ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def run_detached(*args: str) -> subprocess.CompletedProcess[bytes]:
    """`chatterm ARGS` with no controlling terminal at all (as from cron or CI)."""
    return subprocess.run([sys.executable, "-m", "chatterm", *args], input=b"",
                          capture_output=True, env=cli_env(), timeout=90, cwd=REPO_ROOT,
                          start_new_session=True)


class Terminal:
    """`chatterm ARGS` on a pseudo-terminal that is its controlling terminal (/dev/tty)
    and its stdin (or `piped` into stdin) and stderr (or stderr to a file); stdout is a
    pipe, so the reply is read apart."""

    def __init__(self, *args: str, stderr: Path | None = None,
                 piped: bytes | None = None) -> None:
        main_fd, child_fd = pty.openpty()

        def own_terminal() -> None:
            os.setsid()
            fcntl.ioctl(child_fd, termios.TIOCSCTTY, 0)

        self.proc = subprocess.Popen(
            [sys.executable, "-m", "chatterm", *args],
            stdin=child_fd if piped is None else subprocess.PIPE,
            stderr=child_fd if stderr is None else stderr.open("wb"),
            stdout=subprocess.PIPE, env=cli_env(), cwd=REPO_ROOT, preexec_fn=own_terminal,
            pass_fds=(child_fd,))
        os.close(child_fd)
        if piped is not None:
            assert self.proc.stdin is not None
            self.proc.stdin.write(piped)
            self.proc.stdin.close()
        self.fd = main_fd
        self.screen = b""
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while True:
            try:
                chunk = os.read(self.fd, 65536)
            except OSError:  # EIO once the child's side is closed
                return
            if not chunk:
                return
            with self._lock:
                self.screen += chunk

    def text(self) -> str:
        with self._lock:
            return self.screen.decode("utf-8", "replace")

    def wait_for(self, needle: str, timeout: float = 60, *, after: str = "") -> None:
        """Until `needle` shows (after the first `after`, when given)."""
        deadline = time.monotonic() + timeout
        while needle not in (self.text().partition(after)[2] if after else self.text()):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"{needle!r} never showed; the terminal:\n{self.text()}")
            time.sleep(0.05)

    def type(self, keys: bytes) -> None:
        os.write(self.fd, keys)

    def finish(self, timeout: float = 60) -> tuple[int, str, str]:
        """(exit code, stdout, what the terminal showed)."""
        assert self.proc.stdout is not None
        out = self.proc.stdout.read()
        code = self.proc.wait(timeout)
        self._reader.join(10)
        os.close(self.fd)
        return code, out.decode(), self.text()


def show(conversation: str | None = None) -> dict[str, Any]:
    if conversation is None:
        conversation = json.loads(run_cli("list", "--json").stdout)[0]["id"]
    shown = run_cli("show", conversation, "--json")
    assert shown.returncode == 0, shown.stderr
    return json.loads(shown.stdout)
