"""Every fault of a server is one line naming it, and the other servers go on.

Real processes throughout: tests/mcp_servers/toolkit.py (the SDK's MCPServer) with a
tool or a flag per fault, next to the reference mcp-server-time.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from pathlib import Path

import pytest
from mcp_helpers import http_toolkit, running_host, spec_of, status_of, time_server, toolkit_server

from chatterm.mcp.config import McpServerConfig
from chatterm.toolbox import ServerState, ServerStatus, ToolOutcome


async def poll(condition, timeout: float = 20.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        await asyncio.sleep(0.02)
    return bool(condition())


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def log_text(log_dir: Path, name: str) -> str:
    path = log_dir / f"{name}.log"
    return path.read_text(errors="replace") if path.exists() else ""


async def test_a_server_that_exits_at_once_is_failed_with_its_exit_code(tmp_path: Path,
                                                                         capfd) -> None:  # type: ignore[no-untyped-def]
    servers = [toolkit_server("quits", "--exit-at-once", "4"), time_server("time")]
    async with running_host(servers, tmp_path) as host:
        quits = status_of(host, "quits")
        assert (quits.state, quits.error) == (ServerState.FAILED,
                                              "the server stopped (exit code 4)")
        assert status_of(host, "time").state is ServerState.READY
    # Its stderr went to its log, never to ours.
    assert "exiting at once as asked" in log_text(tmp_path, "quits")
    assert "exiting at once" not in capfd.readouterr().err


async def test_garbage_on_stdout_fails_the_server_with_what_it_said(tmp_path: Path) -> None:
    servers = [toolkit_server("noisy", "--garbage"), time_server("time")]
    async with running_host(servers, tmp_path) as host:
        noisy = status_of(host, "noisy")
        assert noisy.state is ServerState.FAILED
        assert noisy.error == "answered garbage on stdout: 'Hello! This is not JSON-RPC.'"
        assert status_of(host, "time").state is ServerState.READY


async def test_a_server_that_hangs_at_start_fails_after_start_timeout(tmp_path: Path) -> None:
    started = time.monotonic()
    async with running_host([toolkit_server("stuck", "--hang-at-start")], tmp_path,
                            start_timeout=1.5) as host:
        stuck = status_of(host, "stuck")
        assert (stuck.state, stuck.error) == (
            ServerState.FAILED, "did not start within 1.5 s (start_timeout)")
        assert stuck.tools == ()
        pid = host._connections["stuck"].end.pid
    assert time.monotonic() - started < 30
    assert pid is not None
    assert await poll(lambda: not _alive(pid))  # killed, not left hanging


async def test_a_server_dying_mid_call_is_an_error_result_and_failed(tmp_path: Path) -> None:
    changes: list[ServerStatus] = []
    async with running_host([toolkit_server("kit"), time_server("time")], tmp_path,
                            changes=changes) as host:
        crash = spec_of(host, "kit", "crash")
        result = await host.call(crash, {"code": 3})
        assert result.outcome is ToolOutcome.ERROR
        assert result.error == "kit: the server stopped (exit code 3)"
        assert result.text == "Error: kit: the server stopped (exit code 3)"
        assert await poll(lambda: status_of(host, "kit").state is ServerState.FAILED)
        assert status_of(host, "kit").error == "the server stopped (exit code 3)"
        assert [s.server for s in host.specs()] == ["time", "time"]
        again = await host.call(crash, {"code": 3})
        assert again.outcome is ToolOutcome.ERROR and "exit code 3" in (again.error or "")
        ok = await host.call(spec_of(host, "time", "get_current_time"), {"timezone": "UTC"})
        assert ok.outcome is ToolOutcome.OK
    assert (changes[-1].name, changes[-1].state) == ("kit", ServerState.FAILED)


async def test_a_server_that_dies_between_calls_is_failed_before_the_next(tmp_path: Path) -> None:
    async with running_host([toolkit_server("kit")], tmp_path) as host:
        pid_tool = spec_of(host, "kit", "pid")
        pid = int((await host.call(pid_tool, {})).text)
        os.kill(pid, 9)
        assert await poll(lambda: status_of(host, "kit").state is ServerState.FAILED)
        assert status_of(host, "kit").error == "the server was killed (SIGKILL)"
        # With no server left, the host still answers (it used to hang: its loop ended).
        late = await asyncio.wait_for(host.call(pid_tool, {}), 10)
        assert (late.outcome, late.error) == (ToolOutcome.ERROR,
                                              "kit: the server was killed (SIGKILL)")


async def test_a_slow_tool_times_out_and_the_server_takes_the_next_call(tmp_path: Path) -> None:
    async with running_host([toolkit_server("kit", timeout=1.0)], tmp_path) as host:
        started = time.monotonic()
        result = await host.call(spec_of(host, "kit", "sleep"), {"seconds": 30})
        assert time.monotonic() - started < 10
        assert (result.outcome, result.error) == (ToolOutcome.ERROR, "timed out after 1 s")
        # The server was told to stop (the SDK's cancel notification) and lives on.
        assert await poll(lambda: "sleep cancelled" in log_text(tmp_path, "kit"))
        echo = await host.call(spec_of(host, "kit", "echo"), {"text": "still here"})
        assert echo.text == "still here"
        assert status_of(host, "kit").state is ServerState.READY


async def test_cancelling_a_call_stops_it_and_the_server_survives(tmp_path: Path) -> None:
    async with running_host([toolkit_server("kit")], tmp_path) as host:
        call = asyncio.ensure_future(host.call(spec_of(host, "kit", "sleep"), {"seconds": 60}))
        assert await poll(lambda: "sleep started for 60" in log_text(tmp_path, "kit"))
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call
        assert await poll(lambda: "sleep cancelled" in log_text(tmp_path, "kit"))
        echo = await host.call(spec_of(host, "kit", "echo"), {"text": "next"})
        assert (echo.outcome, echo.text) == (ToolOutcome.OK, "next")


async def test_a_huge_result_comes_back_whole(tmp_path: Path) -> None:
    async with running_host([toolkit_server("kit")], tmp_path) as host:
        result = await host.call(spec_of(host, "kit", "huge"), {"size": 5_000_000})
        assert result.outcome is ToolOutcome.OK
        assert len(result.text) == 5_000_000
        assert result.text.startswith("0123456789abcdef")


async def test_an_is_error_result_is_an_error_with_its_text(tmp_path: Path) -> None:
    async with running_host([toolkit_server("kit")], tmp_path) as host:
        result = await host.call(spec_of(host, "kit", "fail"), {"message": "disk on fire"})
        assert result.outcome is ToolOutcome.ERROR
        assert "disk on fire" in result.text
        assert result.error is not None and "disk on fire" in result.error
        assert status_of(host, "kit").state is ServerState.READY


async def test_a_server_gets_a_minimal_environment_never_our_keys(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-must-not-leak")
    monkeypatch.setenv("MISTRAL_API_KEY", "mistral-must-not-leak")
    monkeypatch.setenv("SOME_TOKEN", "nope")
    monkeypatch.setenv("LC_TIME", "C")
    monkeypatch.setenv("BASH_FUNC_x%%", "() { echo hi; }")
    server = toolkit_server("kit", env=(("EXTRA", "given"), ("PATH", os.environ["PATH"])))
    async with running_host([server], tmp_path) as host:
        env = json.loads((await host.call(spec_of(host, "kit", "environ"), {})).text)
    assert "sk-must-not-leak" not in json.dumps(env)
    assert not {"OPENAI_API_KEY", "MISTRAL_API_KEY", "SOME_TOKEN", "BASH_FUNC_x%%"} & set(env)
    assert env["EXTRA"] == "given" and env["LC_TIME"] == "C"
    assert env["HOME"] == os.environ["HOME"] and env["PATH"] == os.environ["PATH"]
    assert set(env) <= {"PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG", "TERM", "TMPDIR",
                        "TZ", "EXTRA", "LC_TIME", "LC_ALL", "LC_CTYPE"} | {
        k for k in env if k.startswith("LC_")}


async def test_a_missing_cwd_is_one_line(tmp_path: Path) -> None:
    server = toolkit_server("kit", cwd=tmp_path / "nowhere")
    async with running_host([server], tmp_path) as host:
        assert status_of(host, "kit").error == f"its cwd {tmp_path / 'nowhere'} is not a directory"


async def test_a_command_that_is_not_executable_is_one_line(tmp_path: Path) -> None:
    script = tmp_path / "server.sh"
    script.write_text("#!/bin/sh\n")
    script.chmod(0o600)
    async with running_host([McpServerConfig("sh", command=str(script))], tmp_path) as host:
        assert status_of(host, "sh").error == f"cannot run {script}: permission denied"


async def test_streamable_http_on_loopback_sends_the_headers(tmp_path: Path) -> None:
    with http_toolkit("web") as web:
        server = McpServerConfig("web", url=web.url, headers=(("X-Chatterm-Test", "hello"),))
        async with running_host([server, time_server("time")], tmp_path) as host:
            status = status_of(host, "web")
            assert (status.state, status.transport) == (ServerState.READY, "http")
            header = await host.call(spec_of(host, "web", "header"), {"name": "x-chatterm-test"})
            assert (header.outcome, header.text) == (ToolOutcome.OK, "hello")
            echo = await host.call(spec_of(host, "web", "echo"), {"text": "over http"})
            assert echo.text == "over http"
            web.stop()
            gone = await host.call(spec_of(host, "web", "echo"), {"text": "anyone?"})
            assert gone.outcome is ToolOutcome.ERROR and (gone.error or "").startswith("web: ")


async def test_an_http_server_that_is_not_there_fails_with_one_line(tmp_path: Path) -> None:
    import socket

    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = McpServerConfig("web", url=f"http://127.0.0.1:{port}/mcp")
    async with running_host([server], tmp_path, start_timeout=10) as host:
        status = status_of(host, "web")
        assert status.state is ServerState.FAILED
        assert status.error and "\n" not in status.error


async def test_a_server_ignoring_sigterm_is_killed_at_start_timeout(tmp_path: Path) -> None:
    server = toolkit_server("stubborn", "--ignore-term", "--hang-at-start")
    async with running_host([server], tmp_path, start_timeout=1) as host:
        assert status_of(host, "stubborn").error == "did not start within 1 s (start_timeout)"
        pid = host._connections["stubborn"].end.pid
        assert pid is not None
        assert await poll(lambda: not _alive(pid))


async def test_close_is_bounded_with_a_call_running_on_a_stubborn_server(tmp_path: Path) -> None:
    async with running_host([toolkit_server("stubborn", "--ignore-term")], tmp_path) as host:
        pid = int((await host.call(spec_of(host, "stubborn", "pid"), {})).text)
        call = asyncio.ensure_future(host.call(spec_of(host, "stubborn", "sleep"), {"seconds": 60}))
        assert await poll(lambda: "sleep started for 60" in log_text(tmp_path, "stubborn"))
        started = time.monotonic()
        await asyncio.to_thread(host.close)
        assert time.monotonic() - started < 8  # CLOSE_TIMEOUT and a last kill
        assert await poll(lambda: not _alive(pid))
        result = await asyncio.wait_for(call, 10)  # answered, not left hanging
        assert result.outcome is not ToolOutcome.OK


async def test_close_wakes_whoever_waits_for_ready(tmp_path: Path) -> None:
    from chatterm.mcp.config import McpConfig
    from chatterm.mcp.host import McpHost

    host = McpHost(McpConfig(start_timeout=60, servers=(
        toolkit_server("stuck", "--hang-at-start"),)), log_dir=tmp_path)
    host.start()
    waiting = asyncio.ensure_future(host.wait_ready())
    await asyncio.sleep(0)
    await asyncio.to_thread(host.close)
    assert await asyncio.wait_for(waiting, 10) is False


async def test_no_fault_writes_to_our_stderr(tmp_path: Path, capfd) -> None:  # type: ignore[no-untyped-def]
    servers = [toolkit_server("noisy", "--garbage"), toolkit_server("quits", "--exit-at-once", "2"),
               toolkit_server("kit"), McpServerConfig("web", url="http://127.0.0.1:1/mcp")]
    async with running_host(servers, tmp_path, start_timeout=15) as host:
        await host.call(spec_of(host, "kit", "fail"), {"message": "nope"})
        await host.call(spec_of(host, "kit", "crash"), {"code": 5})
    captured = capfd.readouterr()
    assert captured.err == "" and captured.out == ""


async def test_the_logs_are_private_and_only_for_processes(tmp_path: Path) -> None:
    import logging
    import stat

    logs = tmp_path / "cache" / "mcp-logs"
    servers = [toolkit_server("quits", "--exit-at-once", "1"),
               McpServerConfig("web", url="http://127.0.0.1:1/mcp")]
    async with running_host(servers, logs, start_timeout=15):
        logging.getLogger("mcp.client").warning("a record of the SDK's")
    assert stat.S_IMODE(logs.stat().st_mode) == 0o700
    assert sorted(p.name for p in logs.iterdir()) == ["mcp.sdk.log", "quits.log"]
    for path in logs.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert "a record of the SDK's" in (logs / "mcp.sdk.log").read_text()


async def test_mixed_content_from_a_real_server_is_text_with_the_image_named(
        tmp_path: Path) -> None:
    async with running_host([toolkit_server("kit")], tmp_path) as host:
        result = await host.call(spec_of(host, "kit", "mixed"), {})
    assert (result.outcome, result.text) == (
        ToolOutcome.OK, "here it is\n\n[image: image/png, 12 KB]\n\nthe notes")
