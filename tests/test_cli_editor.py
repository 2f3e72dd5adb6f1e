"""`chatterm ask -e`: the prompt written in $EDITOR (tests/fake_editor.py, a real process)
on the controlling terminal, a pseudo-terminal here; the reply from the loopback server."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import shlex
import subprocess
import sys
import termios
from pathlib import Path

import pytest
from chatterm_env import REPO_ROOT, write_config
from cli_tool_env import Terminal, cli_env, run_detached
from loopback import LoopbackServer, sse_reply

pytestmark = pytest.mark.e2e

CHAT = "chat/completions"
FAKE_EDITOR = Path(__file__).with_name("fake_editor.py")


@pytest.fixture
def record(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, loopback: LoopbackServer) -> Path:
    write_config(loopback.url)
    path = tmp_path / "record.json"
    monkeypatch.delenv("VISUAL", raising=False)
    monkeypatch.setenv("EDITOR", f"{shlex.quote(sys.executable)} {shlex.quote(str(FAKE_EDITOR))}")
    monkeypatch.setenv("EDITOR_RECORD", str(path))
    return path


def sent_prompts(loopback: LoopbackServer) -> list[str]:
    return [request.json["messages"][-1]["content"] for request in loopback.requests]


def test_the_editor_text_is_the_prompt_sent(
        loopback: LoopbackServer, record: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EDITOR_WRITES", "What does this do?\n\nls -la\n")
    loopback.script(CHAT, sse_reply(["It lists files."]))
    code, out, screen = Terminal("ask", "-e", "Start", "here").finish()
    assert code == 0, screen
    assert out == "It lists files.\n"
    assert sent_prompts(loopback) == ["What does this do?\n\nls -la"]
    called = json.loads(record.read_text(encoding="utf-8"))
    assert called["text"] == "Start here\n" and called["tty"] is True
    assert called["mode"] == 0o600 and called["name"].endswith(".md")
    assert not Path(called["argv"][-1]).parent.exists()


def test_piped_stdin_is_the_starting_text_and_the_editor_gets_the_terminal(
        loopback: LoopbackServer, record: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EDITOR_WRITES", "Summarise the log, briefly")
    loopback.script(CHAT, sse_reply(["Fine."]))
    main_fd, child_fd = pty.openpty()

    def own_terminal() -> None:  # the pty is the controlling terminal; stdin is a pipe
        os.setsid()
        fcntl.ioctl(2, termios.TIOCSCTTY, 0)

    proc = subprocess.run([sys.executable, "-m", "chatterm", "ask", "--editor"],
                          input=b"error: disk full\n", stdout=subprocess.PIPE,
                          stderr=child_fd, env=cli_env(), cwd=REPO_ROOT, timeout=90,
                          preexec_fn=own_terminal)
    os.close(child_fd)
    os.close(main_fd)
    assert proc.returncode == 0
    assert proc.stdout == b"Fine.\n"
    assert json.loads(record.read_text(encoding="utf-8"))["text"] == "error: disk full\n\n"
    assert sent_prompts(loopback) == ["Summarise the log, briefly"]


@pytest.mark.parametrize(("writes", "exit_code", "expected", "status"), [
    ("  \n\n", "0", "the editor left the prompt empty: nothing was sent", 2),
    ("not to be sent", "1", "exited with status 1", 1),
])
def test_an_empty_or_failed_edit_sends_nothing(
        loopback: LoopbackServer, record: Path, monkeypatch: pytest.MonkeyPatch,
        writes: str, exit_code: str, expected: str, status: int) -> None:
    monkeypatch.setenv("EDITOR_WRITES", writes)
    monkeypatch.setenv("EDITOR_EXIT", exit_code)
    code, out, screen = Terminal("ask", "-e", "draft").finish()
    assert code == status, screen
    assert out == ""
    lines = [line for line in screen.splitlines() if line.strip()]
    assert len(lines) == 1 and expected in lines[0] and "Traceback" not in screen
    assert loopback.requests == []


def test_an_empty_edit_cancels_even_with_attachments(
        loopback: LoopbackServer, record: Path, monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path) -> None:
    """qa14 F1: `ask -e -a FILE` with the editor emptied refused without saying why, while
    `ask -a FILE` alone sends the file: emptying the editor is the way to cancel."""
    notes = tmp_path / "notes.txt"
    notes.write_text("some notes\n", encoding="utf-8")
    monkeypatch.setenv("EDITOR_WRITES", "\n")
    monkeypatch.setenv("EDITOR_EXIT", "0")
    code, out, screen = Terminal("ask", "-e", "-a", str(notes), "draft").finish()
    assert code == 2 and out == "", screen
    lines = [line for line in screen.splitlines() if line.strip()]
    assert len(lines) == 1 and "(an empty edit cancels, even with -a)" in lines[0]
    assert loopback.requests == []


def test_a_missing_editor_or_no_terminal_is_one_line(
        loopback: LoopbackServer, record: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VISUAL", "/nonexistent/chatterm-editor -w")
    code, out, screen = Terminal("ask", "-e", "draft").finish()
    assert code == 1 and out == ""
    assert "'/nonexistent/chatterm-editor' ($VISUAL) was not found" in screen
    detached = run_detached("ask", "-e", "draft")  # cron, CI: no /dev/tty at all
    assert detached.returncode == 1
    assert b"-e needs a terminal for the editor" in detached.stderr
    assert detached.stderr.count(b"\n") == 1
    regenerate = run_detached("ask", "-e", "--regenerate")
    assert regenerate.returncode == 2 and b"--regenerate takes no prompt" in regenerate.stderr
    assert loopback.requests == []
