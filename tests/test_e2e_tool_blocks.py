"""The real `chatterm` in tmux with the reference `mcp-server-time`: a tool call asked
for, approved with `y`, drawn as a block at 120 columns and again at 40, then the chat
reopened with -c looks the same (tests/test_e2e_tmux.py has the harness)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from mcp_helpers import time_command
from test_e2e_tmux import LOOPBACK, Tmux, launcher, poll, send_until

pytestmark = [pytest.mark.e2e,
              pytest.mark.skipif(shutil.which("tmux") is None,
                                 reason="tmux is not installed: the end-to-end test needs it")]


def _chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {"data": {"id": "x", "object": "chat.completion.chunk", "model": "e2e-model",
                     "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}}


def _tool_call(call_id: str, name: str, arguments: dict[str, str]) -> dict[str, Any]:
    head = {"index": 0, "id": call_id, "type": "function",
            "function": {"name": name, "arguments": json.dumps(arguments)}}
    return {"steps": [_chunk({"role": "assistant", "content": None}),
                      _chunk({"tool_calls": [head]}), _chunk({}, "tool_calls"),
                      {"data": "[DONE]"}]}


@pytest.fixture
def tmux(tmp_path: Path) -> Iterator[Tmux]:
    config = tmp_path / "tmux.conf"
    config.write_text("")
    server = Tmux(f"chatterm-tools-{os.getpid()}-{tmp_path.name}", config)
    try:
        yield server
    finally:
        server.run("kill-server", check=False)


def test_a_tool_call_at_120_then_40_columns_and_reopened(tmux: Tmux, tmp_path: Path) -> None:
    script_file = tmp_path / "script.json"
    script_file.write_text(json.dumps({"queue": {"chat/completions": [
        _tool_call("call_1", "convert_time", {"source_timezone": "Europe/Paris",
                                              "time": "16:30", "target_timezone": "Asia/Tokyo"}),
        {"sse_text": ["It is 00:30 ", "in Tokyo. ", "end-marker"], "delay": 0.05,
         "model": "e2e-model"},
    ]}}))
    port_file = tmp_path / "port"
    process = subprocess.Popen(
        [sys.executable, str(LOOPBACK), "--script", str(script_file), "--port-file",
         str(port_file)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        poll(port_file.exists, "the loopback server to listen", timeout=15)
        url = f"http://127.0.0.1:{port_file.read_text().strip()}/v1"
        home = tmp_path / "home"
        script = launcher(tmp_path, home, url)
        config = home / "config" / "config.toml"
        config.write_text(config.read_text() + "[mcp.servers.time]\n"
                          f"command = {json.dumps(time_command())}\n" 'approve = "ask"\n')
        tmux.start("t", str(script))
        screen = lambda: tmux.screen("t")  # noqa: E731
        poll(lambda: "Ask anything" in screen(), "the prompt", screen=screen)
        # The tools panel says when the server is ready (a slow start never delays the app).
        tmux.keys("t", "C-p")
        poll(lambda: "Search for commands" in screen() or "palette" in screen(), "the palette",
             screen=screen)
        tmux.keys("t", "Tools", literal=True)
        poll(lambda: "Tools" in screen(), "the palette's Tools line", screen=screen)
        tmux.keys("t", "Enter")
        poll(lambda: "ready" in screen(), "the time server to be ready", timeout=60,
             screen=screen)
        send_until(lambda: tmux.keys("t", "Escape"),
                   lambda: "Tools for this chat" not in screen(), "the panel to close", screen)
        tmux.keys("t", "Convert 16:30 Paris to Tokyo", literal=True)
        poll(lambda: "Convert 16:30" in screen(), "the typed prompt", screen=screen)
        tmux.keys("t", "Enter")
        poll(lambda: "waiting for approval: time.convert_time" in screen(),
             "the status line to ask", screen=screen)
        tmux.keys("t", "y")
        poll(lambda: "end-marker" in screen(), "the answer after the call", screen=screen)
        wide = screen()
        assert "⚙ time.convert_time  ✓ done" in wide
        assert '"target_timezone": "Asia/Tokyo"' in wide  # the arguments, pretty
        assert "… 11 more lines · Enter or click shows all" in wide
        assert wide.index("time.convert_time") < wide.index("end-marker")

        tmux.run("resize-window", "-t", "t", "-x", "40", "-y", "40")
        poll(lambda: "click shows all" in screen() and
             max(len(line) for line in screen().splitlines()) <= 40,
             "the 40-column layout", screen=screen)
        narrow = screen()
        assert "⚙ time.convert_time  ✓ done" in narrow
        # Wrapped, never cut at the edge: every word of the folded block is there.
        words = " ".join(narrow.replace("█", " ").replace("▊", " ").split())
        assert '"source_timezone": "Europe/Paris",' in words
        assert "… 11 more lines · Enter or click shows all" in words
        assert "end-marker" in narrow
        tmux.keys("t", "C-q")
        poll(lambda: not tmux.alive("t"), "chatterm to quit")

        tmux.start("again", f"{script} -c")
        again = lambda: tmux.screen("again")  # noqa: E731
        poll(lambda: "end-marker" in again(), "the reopened chat", screen=again)
        reopened = again()
        assert "⚙ time.convert_time  ✓ done" in reopened
        assert "… 11 more lines · Enter or click shows all" in reopened
        assert "tool result" not in reopened
        tmux.keys("again", "C-q")
        poll(lambda: not tmux.alive("again"), "chatterm to quit again")
    finally:
        process.terminate()
        process.wait(timeout=10)
