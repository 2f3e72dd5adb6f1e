"""McpHost against real servers: the reference mcp-server-time and tests/mcp_servers."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from mcp_helpers import running_host, spec_of, time_server, toolkit_server

from chatterm.mcp.config import McpConfig, McpServerConfig
from chatterm.mcp.host import McpHost
from chatterm.toolbox import ServerState, ServerStatus, ToolOutcome

REPO_ROOT = Path(__file__).resolve().parent.parent


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def wait_until(condition, timeout: float = 15.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


async def test_the_time_server_starts_lists_its_tools_and_answers_a_call(tmp_path: Path) -> None:
    changes: list[ServerStatus] = []
    async with running_host([time_server("time")], tmp_path, changes=changes) as host:
        [status] = host.statuses()
        assert (status.name, status.state, status.error, status.transport) == (
            "time", ServerState.READY, None, "stdio")
        spec = spec_of(host, "time", "get_current_time")
        assert spec.name == "get_current_time" and spec.label == "time.get_current_time"
        assert "timezone" in spec.parameters["properties"]
        assert {s.tool for s in status.tools} == {"get_current_time", "convert_time"}
        assert spec.function()["function"]["parameters"]["required"] == ["timezone"]

        result = await host.call(spec, {"timezone": "Europe/Paris"})
        assert result.outcome is ToolOutcome.OK and result.error is None
        assert json.loads(result.text)["timezone"] == "Europe/Paris"

        bad = await host.call(spec, {"timezone": "Nowhere/Atlantis"})
        assert bad.outcome is ToolOutcome.ERROR
        assert "Nowhere/Atlantis" in bad.text and "\n" not in (bad.error or "\n")
    assert [c.state for c in changes] == [ServerState.READY]


async def test_close_stops_the_server_process_and_can_be_called_again(tmp_path: Path) -> None:
    async with running_host([toolkit_server("kit")], tmp_path) as host:
        pid = int((await host.call(spec_of(host, "kit", "pid"), {})).text)
        assert alive(pid)
        started = time.monotonic()
        host.close()
        assert time.monotonic() - started < 5
        assert wait_until(lambda: not alive(pid))
        host.close()
        late = await host.call(spec_of(host, "kit", "pid"), {})
        assert late.outcome is ToolOutcome.ERROR


async def test_a_missing_command_fails_alone_with_one_line(tmp_path: Path) -> None:
    changes: list[ServerStatus] = []
    servers = [McpServerConfig("ghost", command="chatterm-no-such-server"), time_server("time")]
    async with running_host(servers, tmp_path, changes=changes) as host:
        ghost, time_status = host.statuses()
        assert ghost.state is ServerState.FAILED
        assert ghost.error == "command not found: chatterm-no-such-server"
        assert time_status.state is ServerState.READY
        assert {spec.server for spec in host.specs()} == {"time"}
        result = await host.call(spec_of(host, "time", "get_current_time"), {"timezone": "UTC"})
        assert result.outcome is ToolOutcome.OK
    assert {(c.name, c.state) for c in changes} == {
        ("ghost", ServerState.FAILED), ("time", ServerState.READY)}


async def test_disabled_servers_are_shown_and_never_started(tmp_path: Path) -> None:
    config = McpConfig(servers=(McpServerConfig("off", command="chatterm-no-such", enabled=False),))
    host = McpHost(config, log_dir=tmp_path)
    host.start()
    assert await host.wait_ready(0.5)
    assert [(s.name, s.state) for s in host.statuses()] == [("off", ServerState.DISABLED)]
    assert host.specs() == []
    assert host._thread is None  # nothing to run: no thread, no SDK
    host.close()


async def test_statuses_say_starting_until_the_server_is_ready(tmp_path: Path) -> None:
    config = McpConfig(servers=(time_server("time"),))
    host = McpHost(config, log_dir=tmp_path)
    assert [s.state for s in host.statuses()] == [ServerState.STARTING]
    assert not await host.wait_ready(0.01)  # not started: still starting
    host.start()
    try:
        assert await host.wait_ready(60)
        assert host.statuses()[0].state is ServerState.READY
    finally:
        host.close()


def test_importing_the_host_does_not_load_the_sdk(tmp_path: Path) -> None:
    code = ("import sys, chatterm.mcp.host, chatterm.mcp.config, chatterm.config\n"
            "from chatterm.mcp.host import McpHost\n"
            "from chatterm.mcp.config import McpConfig\n"
            "McpHost(McpConfig(), log_dir=__import__('pathlib').Path('.')).start()\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('mcp', 'mcp_types', 'anyio', 'pydantic', 'httpx2')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=tmp_path, env=dict(os.environ, PYTHONPATH=str(REPO_ROOT)),
                         check=True)
    assert out.stdout.strip() == "[]"


async def test_calls_run_in_parallel_from_the_callers_loop(tmp_path: Path) -> None:
    async with running_host([toolkit_server("kit")], tmp_path) as host:
        sleep = spec_of(host, "kit", "sleep")
        started = time.monotonic()
        results = await asyncio.gather(*(host.call(sleep, {"seconds": 1}) for _ in range(3)))
        assert [r.text for r in results] == ["slept 1.0 s"] * 3
        assert time.monotonic() - started < 2.5  # three 1 s calls at once, not one by one


def test_the_sdk_is_imported_on_the_host_thread_at_start_only(tmp_path: Path) -> None:
    code = f"""
import asyncio, importlib.abc, sys, threading
sys.path.insert(0, {str(REPO_ROOT / 'tests')!r})
importers = []
class Spy(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name == "mcp":
            importers.append(threading.current_thread().name)
        return None
sys.meta_path.insert(0, Spy())
from pathlib import Path
from mcp_helpers import time_server
from chatterm.mcp.config import McpConfig
from chatterm.mcp.host import McpHost
host = McpHost(McpConfig(servers=(time_server(),)), log_dir=Path({str(tmp_path)!r}))
before = "mcp" in sys.modules
host.start()
asyncio.run(host.wait_ready(60))
host.close()
print(before, importers, host.statuses()[0].state.value)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=tmp_path, env=dict(os.environ, PYTHONPATH=str(REPO_ROOT)),
                         timeout=120)
    assert out.stdout.split("\n")[0] == "False ['chatterm-mcp-host'] ready", out.stderr[-2000:]


async def test_on_change_comes_from_the_host_thread_and_its_errors_do_not_stop_it(
        tmp_path: Path, capfd) -> None:  # type: ignore[no-untyped-def]
    import threading

    threads: list[str] = []

    def on_change(status: ServerStatus) -> None:
        threads.append(threading.current_thread().name)
        raise RuntimeError("a front end's bug")

    host = McpHost(McpConfig(servers=(McpServerConfig("ghost", command="chatterm-no-such"),
                                      time_server("time"))),
                   log_dir=tmp_path, on_change=on_change)
    host.start()
    try:
        assert await host.wait_ready(60)
        assert threads == ["chatterm-mcp-host", "chatterm-mcp-host"]
        result = await host.call(spec_of(host, "time", "get_current_time"), {"timezone": "UTC"})
        assert result.outcome is ToolOutcome.OK
    finally:
        host.close()
    # The bug is in the SDK log (mcp.sdk.log), never on the terminal.
    assert capfd.readouterr().err == ""
    assert "a front end's bug" in (tmp_path / "mcp.sdk.log").read_text()
