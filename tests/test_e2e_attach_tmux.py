"""Attachments in the real `chatterm` in tmux, at 120 and at 40 columns: Ctrl+A, Tab
completion, the chip above the prompt, the dialog in a 40×15 pane, Backspace."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from test_e2e_tmux import Tmux, launcher, loopback_process, poll, send_until, tmux

__all__ = ["loopback_process", "tmux"]  # the fixtures, reused

pytestmark = [pytest.mark.e2e,
              pytest.mark.skipif(shutil.which("tmux") is None,
                                 reason="tmux is not installed: the end-to-end test needs it")]


def test_attach_a_file_at_120_then_40_columns(tmux: Tmux, loopback_process: str,
                                              tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    (work / "notes.md").write_text("# Notes\n", encoding="utf-8")
    (work / "notebook.txt").write_text("other\n", encoding="utf-8")
    script = launcher(tmp_path, tmp_path / "home", loopback_process)
    tmux.start("a", f"cd {work} && {script}")
    screen = lambda: tmux.screen("a")  # noqa: E731
    poll(lambda: "Ask anything" in screen(), "the prompt", screen=screen)
    poll(lambda: "^a Attach" in screen(), "the footer's key", screen=screen)
    send_until(lambda: tmux.keys("a", "C-a"), lambda: "Attach a file" in screen(),
               "the attach dialog", screen=screen)
    tmux.keys("a", "notes", literal=True)
    poll(lambda: "notes" in screen(), "the typed path", screen=screen)
    tmux.keys("a", "Tab")
    poll(lambda: "notes.md" in screen().split("Attach a file")[1].splitlines()[2],
         "the completed path", screen=screen)
    tmux.keys("a", "Enter")
    poll(lambda: "[notes.md" in screen() and "Attach a file" not in screen(), "the chip",
         screen=screen)

    tmux.run("resize-window", "-t", "a", "-x", "40", "-y", "15")
    poll(lambda: len(screen().splitlines()[0]) <= 40 and "[notes.md" in screen(),
         "the chip at 40 columns", screen=screen)
    send_until(lambda: tmux.keys("a", "C-a"), lambda: "Attach a file" in screen(),
               "the dialog at 40 columns", screen=screen)
    shown = screen()
    # The whole box fits: both borders, the field's hint and the keys line.
    assert "╭" in shown and "╰" in shown
    assert "Esc cancel" in shown and "notes.md" in shown
    poll(lambda: "esc Cancel" in screen(), "the dialog's own footer", screen=screen)
    assert "^n New" not in screen()  # not the chat's keys
    assert all(len(line) <= 40 for line in shown.splitlines())
    tmux.keys("a", "Escape")
    poll(lambda: "Attach a file" not in screen(), "the dialog closed", screen=screen)
    tmux.keys("a", "BSpace")  # an empty prompt: the last chip goes
    poll(lambda: "[notes.md" not in screen(), "the chip removed", screen=screen)
    # Attached again and sent at 40 columns: the sent prompt lists it, the chips clear.
    send_until(lambda: tmux.keys("a", "C-a"), lambda: "Attach a file" in screen(),
               "the dialog again", screen=screen)
    tmux.keys("a", "notes.md", literal=True)
    poll(lambda: "notes.md" in screen(), "the path typed", screen=screen)
    tmux.keys("a", "Enter")
    poll(lambda: "[notes.md" in screen(), "the chip again", screen=screen)
    tmux.keys("a", "read it", literal=True)
    poll(lambda: "read it" in screen(), "the prompt typed", screen=screen)
    tmux.keys("a", "Enter")
    poll(lambda: "done-marker" in screen(), "the reply", screen=screen)
    # (Polled: the "Removed notes.md." toast of the Backspace may still cover it.)
    poll(lambda: "▪ file notes.md · 8 B" in screen(), "the sent prompt's line",
         screen=screen)
    assert "[notes.md" not in screen()
    tmux.run("resize-window", "-t", "a", "-x", "120", "-y", "40")
    tmux.keys("a", "C-q")
    poll(lambda: not tmux.alive("a"), "chatterm to quit")
    # Saved with it: reopened, the prompt still lists its attachment.
    tmux.start("b", f"cd {work} && {script} -c")
    poll(lambda: "▪ file notes.md · 8 B" in tmux.screen("b"), "the reopened chat",
         screen=lambda: tmux.screen("b"))
    tmux.keys("b", "C-q")
    poll(lambda: not tmux.alive("b"), "chatterm to quit again")
