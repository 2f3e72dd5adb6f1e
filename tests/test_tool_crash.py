"""SIGKILL a `chatterm ask` in the middle of a tool round (issue 13): the result that came
is saved already, the next chatterm shows it, and the next prompt sends the call that
never finished as "not run". The whole program: the real McpHost running the fault
server (tests/mcp_servers/toolkit.py), the model played by the loopback server.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from chatterm_env import REPO_ROOT, run_cli, write_config
from loopback import LoopbackServer, sse_reply, tool_call_reply
from mcp_helpers import toml_for, toolkit_server

from chatterm.conversation import Message, Role
from chatterm.engine.wire import TOOL_NOT_RUN
from chatterm.store import Store

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def saved_results() -> list[Message]:
    """The tool messages saved so far, read as another process would."""
    with Store.open() as store:
        found = store.list_conversations()
        if not found:
            return []
        messages = store.get_conversation(found[0].id).messages
    return [m for m in messages if m.role is Role.TOOL]


def test_a_crash_mid_round_keeps_the_results_that_came(loopback: LoopbackServer) -> None:
    write_config(loopback.url, extra=toml_for([toolkit_server("kit", approve="auto")]))
    loopback.script("chat/completions", [
        tool_call_reply([("c1", "echo", '{"text": "kept"}'), ("c2", "sleep", '{"seconds": 60}')]),
        sse_reply(["after the crash"])])
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    # A session of its own, so the kill takes the tool server with it.
    child = subprocess.Popen([sys.executable, "-m", "chatterm", "ask", "go"], env=env,
                             cwd=REPO_ROOT, stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while not saved_results():
            assert child.poll() is None, "chatterm ended before the echo's result was saved"
            assert time.monotonic() < deadline, "the echo's result was never saved"
            time.sleep(0.05)
    finally:
        os.killpg(child.pid, signal.SIGKILL)
        child.wait(10)
    assert [(m.tool_call_id, m.content, m.finish_reason) for m in saved_results()] == [
        ("c1", "kept", "ok")]
    assert len(loopback.requests) == 1
    shown = run_cli("show", saved_id())
    assert shown.returncode == 0, shown.stderr
    assert b"kept" in shown.stdout
    asked = run_cli("ask", "-c", "--no-tools", "and now?")
    assert asked.returncode == 0, asked.stderr
    assert b"after the crash" in asked.stdout
    sent = loopback.requests[1].json["messages"]
    assert [(m["tool_call_id"], m["content"]) for m in sent if m["role"] == "tool"] == [
        ("c1", "kept"), ("c2", TOOL_NOT_RUN)]


def saved_id() -> str:
    with Store.open() as store:
        return store.list_conversations()[0].id
