"""What it cost, in the real `chatterm` in tmux: two replies whose usage chunks carry a
cost, the status bar's running total after each, the usage screen from the palette at
120 columns (table and charts) and at 40 (the table alone, cut to the pane), Esc back
to the chat, quit."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_e2e_tmux import LOOPBACK, Tmux, launcher, poll, send_until, tmux

__all__ = ["tmux"]  # the fixture, reused

pytestmark = [pytest.mark.e2e,
              pytest.mark.skipif(shutil.which("tmux") is None,
                                 reason="tmux is not installed: the end-to-end test needs it")]


@pytest.fixture
def costed_server(tmp_path: Path) -> Iterator[str]:
    def reply(marker: str, prompt: int, completion: int, cost: float) -> dict[str, object]:
        return {"sse_text": ["Answer ", marker], "model": "e2e-model",
                "usage": {"prompt_tokens": prompt, "completion_tokens": completion,
                          "total_tokens": prompt + completion, "cost": cost}}

    script = tmp_path / "script.json"
    script.write_text(json.dumps({"queue": {"chat/completions": [
        reply("done-one", 100, 20, 0.0015), reply("done-two", 300, 40, 0.0025)]}}))
    port_file = tmp_path / "port"
    process = subprocess.Popen(
        [sys.executable, str(LOOPBACK), "--script", str(script), "--port-file",
         str(port_file)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        poll(port_file.exists, "the loopback server to listen", timeout=15)
        yield f"http://127.0.0.1:{port_file.read_text().strip()}/v1"
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_the_running_total_and_the_usage_screen_at_120_and_40_columns(
        tmux: Tmux, costed_server: str, tmp_path: Path) -> None:
    script = launcher(tmp_path, tmp_path / "home", costed_server)
    tmux.start("u", str(script))
    screen = lambda: tmux.screen("u")  # noqa: E731

    def fits(width: int) -> bool:
        return all(len(line) <= width for line in screen().splitlines())

    def ask(text: str, answer: str) -> None:
        send_until(lambda: tmux.keys("u", text, literal=True), lambda: text in screen(),
                   "the typed prompt", screen=screen)
        tmux.keys("u", "Enter")
        poll(lambda: answer in screen(), f"the reply {answer}", screen=screen)

    poll(lambda: "Ask anything" in screen(), "the prompt", screen=screen)
    ask("first", "done-one")
    poll(lambda: "Σ 120 tok · $0.0015  loop · e2e-model" in screen(), "the first total",
         screen=screen)
    ask("second", "done-two")
    poll(lambda: "Σ 460 tok · $0.0040  loop · e2e-model" in screen(), "both replies",
         screen=screen)

    send_until(lambda: tmux.keys("u", "C-p"), lambda: "🔎" in screen(),
               "the palette", screen=screen)
    tmux.keys("u", "usage", literal=True)
    poll(lambda: "Tokens and cost of the saved replies" in screen(), "the Usage command",
         screen=screen)
    tmux.keys("u", "Enter")
    poll(lambda: "Usage: what the saved replies cost" in screen()
         and "tokens per day" in screen(), "the usage screen with its charts", screen=screen)
    total = next(line for line in screen().splitlines() if line.strip().startswith("total"))
    assert total.split() == ["total", "2", "400", "60", "460", "0.0040"]
    assert "p Period" in screen() and "^o Model" not in screen()

    tmux.run("resize-window", "-t", "u", "-x", "40", "-y", "24")
    poll(lambda: fits(40) and "tokens per day" not in screen()
         and "Usage: what the saved" in screen(), "the table alone at 40 columns",
         screen=screen)
    tmux.keys("u", "g")
    poll(lambda: "▸model" in screen() and any(
        line.split()[:1] == ["e2e-model"] for line in screen().splitlines()),
        "per model at 40 columns", screen=screen)
    tmux.keys("u", "Escape")
    poll(lambda: "Ask anything" in screen() and "Usage: what" not in screen(),
         "the chat again", screen=screen)
    tmux.keys("u", "C-q")
    poll(lambda: not tmux.alive("u"), "chatterm to quit")
