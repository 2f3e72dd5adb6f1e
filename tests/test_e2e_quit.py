"""Quitting the real `chatterm` leaves a clean terminal: nothing printed after the app ends.

Quitting while a reply streams with the sidebar open used to print
`RuntimeWarning: coroutine 'Sidebar._fetch' was never awaited` once the screen was
restored: the reply's end refreshed the sidebar, whose worker was handed a coroutine
and cancelled by the shutdown before it ever ran.
"""

from __future__ import annotations

import ast
import json
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_e2e_tmux import LOOPBACK, Tmux, launcher, poll, send_until

UI = Path(__file__).resolve().parent.parent / "chatterm" / "ui"


@pytest.fixture
def slow_loopback(tmp_path: Path) -> Iterator[str]:
    """A server whose reply takes ~15 s, so the quit surely lands mid-stream."""
    script = tmp_path / "script.json"
    words = [f"word{i} " for i in range(300)]
    script.write_text(json.dumps({
        "queue": {"chat/completions": [{"sse_text": words, "delay": 0.05, "model": "e2e"}]}
    }))
    port_file = tmp_path / "port"
    process = subprocess.Popen(
        [sys.executable, str(LOOPBACK), "--script", str(script), "--port-file", str(port_file)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        poll(port_file.exists, "the loopback server to listen", timeout=15)
        yield f"http://127.0.0.1:{port_file.read_text().strip()}/v1"
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def tmux(tmp_path: Path) -> Iterator[Tmux]:
    config = tmp_path / "tmux.conf"
    config.write_text("")
    server = Tmux(f"chatterm-quit-{tmp_path.name}", config)
    try:
        yield server
    finally:
        server.run("kill-server", check=False)


@pytest.mark.e2e
@pytest.mark.skipif(shutil.which("tmux") is None,
                    reason="tmux is not installed: the end-to-end test needs it")
def test_quit_mid_stream_with_the_sidebar_open_prints_nothing(
        tmux: Tmux, slow_loopback: str, tmp_path: Path) -> None:
    home = tmp_path / "home"
    script = launcher(tmp_path, home, slow_loopback)
    (home / "data").mkdir(parents=True)
    (home / "data" / "screen-state.json").write_text('{"sidebar": true}')
    # The shell stays after chatterm so the terminal as the user sees it can be read.
    tmux.start("q", f"sh -c {shlex.quote(f'{script}; echo chatterm-exited-$?; sleep 60')}")
    screen = lambda: tmux.screen("q")  # noqa: E731
    poll(lambda: "Ask anything" in screen() and "No saved chats" in screen(),
         "the prompt and the sidebar", screen=screen)
    send_until(lambda: tmux.keys("q", "hello", literal=True),
               lambda: "hello" in screen(), "the typed prompt", screen=screen)
    send_until(lambda: tmux.keys("q", "Enter"), lambda: "word3" in screen(),
               "the reply to stream", screen=screen)
    tmux.keys("q", "C-q")
    poll(lambda: "chatterm-exited-" in screen(), "chatterm to quit", screen=screen)
    after = screen()
    assert "chatterm-exited-0" in after
    assert "RuntimeWarning" not in after, after
    assert "never awaited" not in after, after


def test_workers_are_given_callables_not_coroutines() -> None:
    """The cause, everywhere in the UI: `run_worker(self._x(...))` makes a coroutine that
    a worker cancelled before it starts never awaits (and Python warns at exit)."""
    offenders = []
    for path in sorted(UI.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr == "run_worker" and node.args
                    and isinstance(node.args[0], ast.Call)
                    and not (isinstance(node.args[0].func, ast.Name)
                             and node.args[0].func.id == "partial")):
                offenders.append(f"{path.relative_to(UI)}:{node.lineno}")
    assert offenders == []
