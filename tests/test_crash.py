"""SIGKILL a streaming `chatterm ask`: at most ~0.5 s of the reply is lost, and the next
chatterm run reads it as interrupted (not complete, not still streaming).

The server paces a reply at a known rate and counts the tokens it has written; the test
kills chatterm once it has printed N bytes, restarts chatterm, and compares what was
saved with what the server had sent. Store-level crash recovery is tested in
test_store_safety.py; this is the whole program.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from chatterm_env import REPO_ROOT, run_cli
from loopback import Delay, Hold, LoopbackServer, sse_chunks, stream_reply

from chatterm.engine.session import SAVE_INTERVAL

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

KEY_ENV = "CRASH_TEST_KEY"
TOKENS = 400
INTERVAL = 0.05  # seconds between tokens
TOKEN_BYTES = len("t0000-ab ")
RATE = TOKEN_BYTES / INTERVAL  # bytes per second
# Lost bytes allowed: what arrives in one save interval, plus a quarter second of
# scheduling slack on a loaded machine and two tokens in flight when the kill lands.
ALLOWED_LOSS = RATE * (SAVE_INTERVAL + 0.25) + 2 * TOKEN_BYTES


def token(i: int) -> str:
    return f"t{i:04d}-ab "


class SentCounter:
    """A Hold step's event that never holds: it notes that token `index` was written."""

    def __init__(self, sent: list[int], index: int) -> None:
        self.sent, self.index = sent, index

    def is_set(self) -> bool:
        self.sent[0] = self.index + 1
        return True


def paced_reply(sent: list[int]) -> object:
    steps: list[object] = []
    events = sse_chunks([token(i) for i in range(TOKENS)], finish_reason=None, done=False)
    for i, event in enumerate(events):
        steps += [event, Hold(SentCounter(sent, i)), Delay(INTERVAL)]  # type: ignore[arg-type]
    return stream_reply(steps)  # type: ignore[arg-type]


@pytest.fixture
def paced(loopback: LoopbackServer, monkeypatch: pytest.MonkeyPatch) -> tuple[
        LoopbackServer, list[int]]:
    from chatterm_env import write_config

    monkeypatch.setenv(KEY_ENV, "sk-crash-0123456789abcdef")
    write_config(loopback.url, api_key_env=KEY_ENV)
    sent = [0]
    loopback.script("chat/completions", paced_reply(sent))
    return loopback, sent


def kill_after(received_bytes: int) -> tuple[int, bytes]:
    """Run `chatterm ask`, SIGKILL it once it printed `received_bytes`; (pid, all it printed)."""
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    child = subprocess.Popen([sys.executable, "-m", "chatterm", "ask", "stream please"],
                             env=env, cwd=REPO_ROOT, stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert child.stdout is not None
    printed = b""
    try:
        # Reads block, but the reply streams for 20 s and a dead child gives EOF: bounded.
        while len(printed) < received_bytes:
            chunk = os.read(child.stdout.fileno(), 65536)
            if not chunk:
                break
            printed += chunk
        child.kill()
    finally:
        if child.poll() is None:
            child.kill()
        child.wait(timeout=30)
        printed += child.stdout.read()  # what it printed before it died
        child.stdout.close()
    assert child.returncode == -9
    return child.pid, printed


@pytest.mark.parametrize("kill_at_tokens", [1, 30])
def test_sigkill_mid_stream_loses_at_most_half_a_second(
        paced: tuple[LoopbackServer, list[int]], kill_at_tokens: int) -> None:
    server, sent = paced
    _, printed = kill_after(kill_at_tokens * TOKEN_BYTES)
    sent_bytes = sent[0] * TOKEN_BYTES  # read after the kill: an upper bound of what left
    full = "".join(token(i) for i in range(TOKENS))
    assert len(printed) >= kill_at_tokens * TOKEN_BYTES
    assert full.encode().startswith(printed)

    # Any command that opens the store notices the dead writer.
    restarted = run_cli("list", "--json")
    assert restarted.returncode == 0, restarted.stderr
    [listed] = json.loads(restarted.stdout)
    shown = run_cli("show", listed["id"], "--json")
    assert shown.returncode == 0, shown.stderr
    user, reply = json.loads(shown.stdout)["messages"]
    assert user["content"] == "stream please"
    assert reply["state"] == "interrupted"

    saved = reply["content"]
    assert full.startswith(saved) and len(saved) % TOKEN_BYTES == 0
    assert len(saved) <= len(printed) <= sent_bytes
    lost = sent_bytes - len(saved)
    print(f"\nSIGKILL after {kill_at_tokens} tokens: sent {sent_bytes} B, printed "
          f"{len(printed)} B, saved {len(saved)} B, lost {lost} B "
          f"(allowed {ALLOWED_LOSS:.0f} B at {RATE:.0f} B/s)")
    assert lost <= ALLOWED_LOSS, (sent_bytes, len(printed), len(saved))
    assert len(server.requests) == 1

    # The interrupted reply can be continued: the next ask sees it in the history.
    server.script("chat/completions", stream_reply(sse_chunks(["resumed"])))
    again = run_cli("ask", "-c", "go on")
    assert again.returncode == 0, again.stderr
    history = server.requests[1].json["messages"]
    if saved:
        assert history[1] == {"role": "assistant", "content": saved}
        assert history[-1] == {"role": "user", "content": "go on"}
    else:
        # A reply killed before any text was saved is not sent; roles must alternate, so
        # the prompt before it and the new one go as one user turn.
        assert history == [{"role": "user", "content": "stream please\n\ngo on"}]
