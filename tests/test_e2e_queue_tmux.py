"""The prompt queue in the real `chatterm` in tmux, at 120 and at 40 columns: two prompts
queued behind a reply the server holds (until a file exists), the rows cut to the pane,
Esc holds them, Enter sends them in order, quit and reopen with the chat whole."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from loopback import sse_chunks
from test_e2e_tmux import LOOPBACK, Tmux, launcher, poll, send_until, tmux

__all__ = ["tmux"]  # the fixture, reused

pytestmark = [pytest.mark.e2e,
              pytest.mark.skipif(shutil.which("tmux") is None,
                                 reason="tmux is not installed: the end-to-end test needs it")]

LONG = ("second, a long prompt that goes on well past the width of a forty column pane "
        "and has to be cut there")


@pytest.fixture
def held_server(tmp_path: Path) -> Iterator[tuple[str, Path, Path]]:
    """The loopback server: a first reply that waits for the file `go` after its first
    words, then quick ones. Yields its URL, `go` and its request log."""
    go, log = tmp_path / "go", tmp_path / "requests.jsonl"
    first = [chunk.decode() for chunk in sse_chunks(["Slow ", "first done-one"],
                                                    model="e2e-model")]

    def quick(marker: str) -> dict[str, object]:
        return {"sse_text": ["Quick ", marker], "model": "e2e-model"}

    script = tmp_path / "script.json"
    script.write_text(json.dumps({"queue": {"chat/completions": [
        {"steps": [first[0], {"wait_file": str(go), "timeout": 60}, *first[1:]]},
        quick("done-two"), quick("done-three")]}}))
    port_file = tmp_path / "port"
    process = subprocess.Popen(
        [sys.executable, str(LOOPBACK), "--script", str(script), "--port-file",
         str(port_file), "--log", str(log)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        poll(port_file.exists, "the loopback server to listen", timeout=15)
        yield f"http://127.0.0.1:{port_file.read_text().strip()}/v1", go, log
    finally:
        process.terminate()
        process.wait(timeout=10)


def prompts_sent(log: Path) -> list[str]:
    if not log.exists():
        return []
    requests = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    return [r["json"]["messages"][-1]["content"] for r in requests
            if r["path"].endswith("chat/completions")]


def test_queue_two_prompts_at_120_then_40_columns_hold_send_and_reopen(
        tmux: Tmux, held_server: tuple[str, Path, Path], tmp_path: Path) -> None:
    url, go, log = held_server
    script = launcher(tmp_path, tmp_path / "home", url)
    tmux.start("q", str(script))
    screen = lambda: tmux.screen("q")  # noqa: E731

    def fits(width: int) -> bool:
        return all(len(line) <= width for line in screen().splitlines())

    def type_and_send(text: str, shown: str) -> None:
        send_until(lambda: tmux.keys("q", text, literal=True), lambda: shown in screen(),
                   "the typed prompt", screen=screen)
        send_until(lambda: tmux.keys("q", "Enter"), lambda: "Ask anything" in screen(),
                   "the prompt to go", screen=screen)

    poll(lambda: "Ask anything" in screen(), "the prompt", screen=screen)
    type_and_send("first", "first")
    poll(lambda: "Slow" in screen(), "the first words of the held reply", screen=screen)
    type_and_send(LONG, "second, a long")
    type_and_send("third", "third")
    poll(lambda: "2 queued · sent when the reply ends" in screen() and fits(120),
         "two queued rows at 120 columns", screen=screen)
    shown = [line for line in screen().splitlines() if line.rstrip().endswith("✕")]
    assert [row.split()[0] for row in shown] == ["1", "2"]
    assert "has to be cut there" in shown[0]  # the whole of it fits at 120
    assert prompts_sent(log) == ["first"]

    def rows() -> list[str]:
        return [line for line in screen().splitlines() if line.rstrip().endswith("✕")]

    tmux.run("resize-window", "-t", "q", "-x", "40", "-y", "30")
    # (tmux cuts the old lines at once: the app's own 40-column rows are waited for)
    poll(lambda: fits(40) and len(rows()) == 2 and "…" in rows()[0],
         "the queue redrawn at 40 columns", screen=screen)
    assert "has to be cut" not in rows()[0] and "2 queued" in screen()

    tmux.keys("q", "Escape")
    poll(lambda: "Enter sends · Esc clears" in screen(), "the queue held", screen=screen)
    go.touch()  # the stopped request's server side may finish now: nothing else is sent
    assert prompts_sent(log) == ["first"]
    tmux.keys("q", "Enter")  # the prompt is empty: the next held one goes
    poll(lambda: "done-three" in screen() and "queued" not in screen(),
         "both queued prompts answered", screen=screen)
    assert prompts_sent(log) == ["first", LONG, "third"]
    tmux.run("resize-window", "-t", "q", "-x", "120", "-y", "40")
    poll(lambda: fits(120) and "done-three" in screen(), "120 columns again", screen=screen)
    tmux.keys("q", "C-q")  # nothing queued: no question
    poll(lambda: not tmux.alive("q"), "chatterm to quit")

    tmux.start("again", f"{script} -c")
    again = lambda: tmux.screen("again")  # noqa: E731
    poll(lambda: "done-three" in again() and "done-two" in again(), "the reopened chat",
         screen=again)
    assert "queued" not in again()
    tmux.keys("again", "C-q")
    poll(lambda: not tmux.alive("again"), "chatterm to quit again")
