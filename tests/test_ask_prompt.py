"""How `chatterm ask` builds its prompt from the words and what is piped on stdin."""

from __future__ import annotations

import subprocess
import sys

import pytest
from chatterm_env import REPO_ROOT, run_cli, write_config
from loopback import LoopbackServer, sse_reply

pytestmark = pytest.mark.e2e


def _sent(loopback: LoopbackServer, index: int = -1) -> str:
    return loopback.requests[index].json["messages"][-1]["content"]


def test_piped_text_follows_the_prompt_words(loopback: LoopbackServer) -> None:
    write_config(loopback.url)
    loopback.script("chat/completions", sse_reply(["ok"]))
    result = run_cli("ask", "Summarise", "this:", input=b"line one\nline two\n")
    assert result.returncode == 0, result.stderr
    assert _sent(loopback) == "Summarise this:\n\nline one\nline two\n"


def test_a_dash_marks_where_the_piped_text_goes(loopback: LoopbackServer) -> None:
    write_config(loopback.url)
    loopback.script("chat/completions", [sse_reply(["ok"]), sse_reply(["ok"])])
    assert run_cli("ask", "-", "extra", input=b"DATA").returncode == 0
    assert _sent(loopback) == "DATA\n\nextra"
    assert run_cli("ask", "Translate", "-", "into French", input=b"Hallo\n").returncode == 0
    # The piped text's own line end does not add a third newline before the words.
    assert _sent(loopback) == "Translate\n\nHallo\n\ninto French"


def test_piped_text_alone_is_sent_exactly(loopback: LoopbackServer) -> None:
    write_config(loopback.url)
    loopback.script("chat/completions", sse_reply(["ok"]))
    assert run_cli("ask", input=b"  keep\r\nmy  spacing\n\n").returncode == 0
    assert _sent(loopback) == "  keep\r\nmy  spacing\n\n"


def test_words_alone_when_stdin_is_not_a_pipe(loopback: LoopbackServer, tmp_path) -> None:
    """`< /dev/null` or an inherited terminal-less handle is not piped text."""
    write_config(loopback.url)
    loopback.script("chat/completions", sse_reply(["ok"]))
    import os

    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    result = subprocess.run([sys.executable, "-m", "chatterm", "ask", "just", "words"],
                            stdin=subprocess.DEVNULL, capture_output=True, env=env,
                            cwd=REPO_ROOT, timeout=60)
    assert result.returncode == 0, result.stderr
    assert _sent(loopback) == "just words"


def test_two_dashes_and_no_prompt_at_all_are_usage_errors(loopback: LoopbackServer) -> None:
    write_config(loopback.url)
    twice = run_cli("ask", "-", "-", input=b"x")
    assert twice.returncode == 2 and b"only once" in twice.stderr
    blank = run_cli("ask", "-", input=b"  \n")
    assert blank.returncode == 2 and b"no prompt" in blank.stderr
    assert loopback.requests == []


def test_empty_model_stop_and_absurd_limits_are_usage_errors(loopback: LoopbackServer) -> None:
    write_config(loopback.url)
    for args in (["ask", "-m", "", "hi"], ["ask", "--stop", "", "hi"],
                 ["list", "--limit", "99999999999999999999"],
                 ["search", "x", "--limit", "99999999999999999999"]):
        result = run_cli(*args)
        assert result.returncode == 2, (args, result.stderr)
        assert b"Traceback" not in result.stderr
    assert loopback.requests == []
