"""Network and server faults as a user meets them: `chatterm ask` in a subprocess.

The client-level behaviour (retry policy, error parsing) is tested in test_client.py and
test_server_errors.py; here each fault is checked end to end: the exit code, the single
line on stderr, what was printed, and what `show --json` says was saved. Every run has an
API key in its environment and no run may print it.
"""

from __future__ import annotations

import contextlib
import email.utils
import io
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from chatterm_env import PEAK_RSS_LAUNCHER, REPO_ROOT, run_cli
from loopback import (
    Drop,
    Hold,
    LoopbackServer,
    Reply,
    Stall,
    free_port,
    json_reply,
    sse_chunks,
    sse_event,
    sse_reply,
    stream_reply,
    text_reply,
)
from loopback import (
    blackhole as loopback_blackhole,
)

from chatterm.cli.main import main as cli_main

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

KEY_ENV = "FAULT_TEST_KEY"
KEY = "sk-fault-0123456789abcdefXYZ"
CHAT = "chat/completions"
PARTIAL = ["The answer ", "is forty"]
FAST_BACKOFF = {"CHATTERM_BACKOFF_BASE": "0.05"}
MB = 1024 * 1024


# ---- helpers ------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, KEY)
    # Offline, a resolver that does not answer gives up after ~1 s instead of ~10.
    monkeypatch.setenv("RES_OPTIONS", "timeout:1 attempts:1")


def configure(base_url: str, *, max_retries: int = 2, read_timeout: float = 5,
              connect_timeout: float = 2) -> None:
    path = Path(os.environ["CHATTERM_CONFIG"])
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        'default_provider = "loop"\ndefault_model = "m"\n[providers.loop]\n'
        f'base_url = "{base_url}"\napi_key_env = "{KEY_ENV}"\nmax_retries = {max_retries}\n'
        f"read_timeout = {read_timeout}\nconnect_timeout = {connect_timeout}\n")
    path.chmod(0o600)


@dataclass
class Outcome:
    code: int
    stdout: bytes
    lines: list[str]  # stderr, one item per line

    @property
    def last(self) -> str:
        return self.lines[-1] if self.lines else ""

    @property
    def retry_notices(self) -> list[str]:
        return [line for line in self.lines if "retrying in" in line]


def checked(code: int, stdout: bytes, stderr: bytes) -> Outcome:
    """Whatever happened, no traceback and no key."""
    text = stderr.decode("utf-8", "replace")
    assert "Traceback" not in text, text
    assert KEY not in text and KEY.encode() not in stdout
    return Outcome(code, stdout, text.splitlines())


def ask(*args: str, env: dict[str, str] | None = None, input: bytes = b"") -> Outcome:
    result = run_cli("ask", *(args or ("hi",)), env=env, input=input, timeout=90)
    return checked(result.returncode, result.stdout, result.stderr)


def cli_json(*argv: str) -> Any:
    """Run a chatterm command in this process and parse its JSON output."""
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        assert cli_main(list(argv)) == 0
    return json.loads(buffer.getvalue())


def saved_exchange() -> tuple[dict[str, Any], dict[str, Any]]:
    """The (user, assistant) messages of the newest conversation, as `show --json` has them."""
    conversation_id = cli_json("list", "--json")[0]["id"]
    messages = cli_json("show", conversation_id, "--json")["messages"]
    assert [m["role"] for m in messages[-2:]] == ["user", "assistant"]
    return messages[-2], messages[-1]


def assert_nothing_received_was_saved(state: str = "error") -> None:
    user, reply = saved_exchange()
    assert user["content"] == "hi"
    assert (reply["state"], reply["content"]) == (state, "")


@pytest.fixture
def blackhole() -> Iterator[str]:
    with loopback_blackhole() as url:
        yield url


class OnSend:
    """A Hold step's event that never holds: it runs `action` when the server reaches it."""

    def __init__(self, action: Callable[[], None]) -> None:
        self.action = action

    def is_set(self) -> bool:
        self.action()
        return True


def request_times(server: LoopbackServer) -> list[float]:
    times: list[float] = []
    server.on_request = lambda _request: times.append(time.monotonic())
    return times


# ---- cannot connect -------------------------------------------------------------------------


def test_connection_refused_says_no_server_is_running_and_is_not_retried() -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"
    configure(url, max_retries=3)
    out = ask()  # the default backoff: a retry would take a second or more
    assert out.code == 1 and out.stdout == b""
    assert out.last == (f"chatterm: error: cannot reach loop at {url}: connection refused; no "
                        "server is running at that address (is it started, and is the port "
                        "right?)")
    assert out.retry_notices == [] and len(out.lines) == 1
    assert_nothing_received_was_saved()


def test_unresolvable_name_fails_at_once_without_retrying() -> None:
    url = "http://chatterm-nonexistent.invalid/v1"
    configure(url, max_retries=3)
    out = ask(env=FAST_BACKOFF)
    assert out.code == 1
    assert out.lines == [f"chatterm: error: cannot reach loop at {url}: "
                         "the host name could not be resolved"]
    assert_nothing_received_was_saved()


def test_connect_timeout_names_provider_and_url(blackhole: str) -> None:
    configure(blackhole, connect_timeout=0.5, max_retries=0)
    out = ask()
    assert out.code == 1
    assert out.lines == [f"chatterm: error: cannot reach loop at {blackhole}: "
                         "connection timed out after 0.5 s"]
    assert_nothing_received_was_saved()


def test_no_answer_at_all_is_a_read_timeout_and_not_retried(loopback: LoopbackServer) -> None:
    configure(loopback.url, read_timeout=1)
    loopback.script(CHAT, [Reply(before=[Stall(30)]), sse_reply(["never"])])
    out = ask(env=FAST_BACKOFF)
    assert out.code == 1
    assert out.lines == [f"chatterm: error: loop at {loopback.url} did not answer: "
                         "nothing arrived for 1 s"]
    assert len(loopback.requests) == 1  # the request may be running: don't pay twice
    assert_nothing_received_was_saved()


# ---- 4xx: once, the server's own words -------------------------------------------------------

FOUR_XX = [
    (401, {"error": {"message": "Incorrect API key provided: sk-fau*****0XYZ",
                     "type": "invalid_request_error", "code": "invalid_api_key"}},
     "loop: HTTP 401 Unauthorized: Incorrect API key provided"),
    (403, {"statusCode": 403, "message": "You've run out of credits. Please top up your "
           "balance or update your payment method", "error": "Forbidden"},
     "loop: out of credits (HTTP 403 Forbidden): You've run out of credits."),
    (404, {"error": {"message": "The model `m` does not exist or you do not have access to it.",
                     "type": "invalid_request_error", "code": "model_not_found"}},
     "loop: HTTP 404 Not Found: The model `m` does not exist"),
    (400, {"object": "error", "message": "Prompt contains 40000 tokens, too large for model "
           "with 32768 maximum context length", "type": "invalid_request_error"},
     "loop: HTTP 400 Bad Request: Prompt contains 40000 tokens"),
    (422, {"detail": [{"loc": ["body", "temperature"], "msg": "Input should be less than or "
                       "equal to 2", "type": "less_than_equal"}]},
     "loop: HTTP 422 Unprocessable Entity: body.temperature: Input should be less than"),
]


@pytest.mark.parametrize(("status", "body", "expected"), FOUR_XX,
                         ids=[str(case[0]) for case in FOUR_XX])
def test_4xx_is_one_line_with_the_servers_message_and_no_retry(
        loopback: LoopbackServer, status: int, body: dict[str, Any], expected: str) -> None:
    configure(loopback.url)
    loopback.script(CHAT, [json_reply(body, status), sse_reply(["never"])])
    out = ask(env=FAST_BACKOFF)
    assert out.code == 1 and out.stdout == b""
    assert len(out.lines) == 1 and out.last.startswith(f"chatterm: error: {expected}"), out.lines
    assert len(loopback.requests) == 1
    _, reply = saved_exchange()
    assert (reply["state"], reply["content"]) == ("error", "")
    assert reply["error"] and expected in reply["error"]


# ---- 429: wait as asked, within a cap ------------------------------------------------------


def notice_delay(out: Outcome) -> float:
    [notice] = out.retry_notices
    match = re.search(r"retrying in ([0-9.]+) s \(attempt 1 of 2\)", notice)
    assert match, notice
    return float(match.group(1))


def test_429_retry_after_seconds_waits_then_succeeds(loopback: LoopbackServer) -> None:
    configure(loopback.url)
    times = request_times(loopback)
    loopback.script(CHAT, [json_reply({"error": {"message": "Rate limit reached"}}, 429,
                                      {"Retry-After": "1"}), sse_reply(["worth ", "the wait"])])
    out = ask()
    assert out.code == 0 and out.stdout == b"worth the wait\n"
    assert notice_delay(out) == 1.0
    assert "HTTP 429 Too Many Requests: Rate limit reached" in out.retry_notices[0]
    assert len(times) == 2 and times[1] - times[0] >= 0.95
    _, reply = saved_exchange()
    assert (reply["state"], reply["content"]) == ("complete", "worth the wait")


def test_429_retry_after_http_date_waits_then_succeeds(loopback: LoopbackServer) -> None:
    configure(loopback.url)
    times = request_times(loopback)
    limited = json_reply({"error": {"message": "Rate limit reached"}}, 429)

    def stamp() -> None:  # the date is taken as the answer goes out, not when scripted
        limited.headers["Retry-After"] = email.utils.formatdate(time.time() + 2, usegmt=True)

    limited.before = [Hold(OnSend(stamp))]  # type: ignore[arg-type]
    loopback.script(CHAT, [limited, sse_reply(["dated"])])
    out = ask()
    assert out.code == 0 and out.stdout == b"dated\n"
    delay = notice_delay(out)
    assert 0.5 <= delay <= 2.0  # an HTTP date has whole seconds
    assert len(times) == 2 and times[1] - times[0] >= delay - 0.05


def test_429_with_a_huge_retry_after_is_capped_and_can_be_interrupted(
        loopback: LoopbackServer, tmp_path: Path) -> None:
    configure(loopback.url)
    loopback.script(CHAT, json_reply({"error": {"message": "slow down"}}, 429,
                                     {"Retry-After": "86400"}))
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    env.pop("CHATTERM_BACKOFF_BASE", None)
    with tempfile.TemporaryFile() as err:
        child = subprocess.Popen([sys.executable, "-m", "chatterm", "ask", "hi"], env=env,
                                 cwd=REPO_ROOT, stdin=subprocess.DEVNULL,
                                 stdout=subprocess.PIPE, stderr=err)
        try:
            deadline = time.monotonic() + 30
            seen = b""
            while b"retrying in" not in seen and time.monotonic() < deadline:
                time.sleep(0.02)
                err.seek(0)
                seen = err.read()
            child.send_signal(signal.SIGINT)  # Ctrl+C while it waits
            stdout, _ = child.communicate(timeout=30)
        finally:
            if child.poll() is None:
                child.kill()
                child.wait()
        err.seek(0)
        out = checked(child.returncode, stdout, err.read())
    assert "retrying in 60.0 s (attempt 1 of 2)" in out.lines[0]  # a day, capped at 60 s
    assert out.code == 130 and out.last == "chatterm: interrupted"
    assert len(loopback.requests) == 1
    _, reply = saved_exchange()
    assert reply["state"] in ("interrupted", "error") and reply["content"] == ""


# ---- 5xx before the first token: retried, then one line ---------------------------------------


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_5xx_is_retried_up_to_max_retries_then_one_line(
        loopback: LoopbackServer, status: int) -> None:
    configure(loopback.url, max_retries=2)
    loopback.script(CHAT, [json_reply({"error": {"message": "upstream trouble"}}, status)] * 3)
    out = ask(env=FAST_BACKOFF)
    assert out.code == 1 and out.stdout == b""
    assert len(loopback.requests) == 3
    assert [n.split("(attempt ")[1] for n in out.retry_notices] == ["1 of 2)", "2 of 2)"]
    assert len(out.lines) == 3
    assert out.last.startswith(f"chatterm: error: loop: HTTP {status} ")
    assert out.last.endswith(": upstream trouble (gave up after 2 retries)")
    assert_nothing_received_was_saved()


def test_5xx_then_success_saves_a_complete_reply(loopback: LoopbackServer) -> None:
    configure(loopback.url)
    loopback.script(CHAT, [json_reply({"error": {"message": "busy"}}, 503),
                           Reply(before=[Drop()]), sse_reply(["third ", "time"])])
    out = ask(env=FAST_BACKOFF)
    assert out.code == 0 and out.stdout == b"third time\n"
    assert len(out.retry_notices) == 2 and len(loopback.requests) == 3
    _, reply = saved_exchange()
    assert (reply["state"], reply["content"]) == ("complete", "third time")


def test_proxy_html_page_is_reported_by_status_and_title(loopback: LoopbackServer) -> None:
    configure(loopback.url, max_retries=0)
    page = ("<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>"
            "502 Bad Gateway</h1></center>\r\n<hr><center>nginx/1.25.3</center>\r\n</body>"
            "\r\n</html>\r\n" + "<!-- padding -->\r\n" * 200)
    loopback.script(CHAT, text_reply(page, 502, "text/html"))
    out = ask()
    assert out.code == 1 and len(out.lines) == 1
    assert "HTTP 502 Bad Gateway" in out.last and "'502 Bad Gateway'" in out.last
    assert "<" not in out.last and "nginx" not in out.last and len(out.last) < 200


# ---- faults after tokens: keep the partial, no retry --------------------------------------------

AFTER_TOKENS = {
    "drop": ([Drop()], "the connection dropped mid-reply"),
    "reset": ([Drop(reset=True)], "the connection dropped mid-reply"),
    "stall": ([Stall(30)], "nothing arrived for 1 s; the reply is incomplete"),
    "event-error": ([sse_event({"error": {"message": "upstream overloaded"}}, event="error")],
                    "the server reported an error mid-reply: upstream overloaded"),
    "error-object": ([sse_event({"error": {"message": "Token limit reached", "code": 400}})],
                     "the server reported an error mid-reply: Token limit reached"),
    "clean-end": ([], "the stream ended before the reply was complete"),
}


@pytest.mark.parametrize("fault", list(AFTER_TOKENS))
def test_fault_after_tokens_keeps_the_partial_reply_interrupted(
        loopback: LoopbackServer, fault: str) -> None:
    steps, expected = AFTER_TOKENS[fault]
    configure(loopback.url, read_timeout=1)
    head = sse_chunks(PARTIAL, finish_reason=None, done=False)
    loopback.script(CHAT, [stream_reply([*head, *steps]), sse_reply(["a retry"])])
    out = ask(env=FAST_BACKOFF)
    assert out.code == 1
    assert out.stdout == b"The answer is forty\n"
    assert len(out.lines) == 1, out.lines
    assert expected in out.last
    assert out.last.endswith("(the partial reply was kept, marked interrupted)")
    assert len(loopback.requests) == 1  # never retried on its own once tokens arrived
    _, reply = saved_exchange()
    assert (reply["state"], reply["content"]) == ("interrupted", "The answer is forty")
    assert reply["error"] or fault == "clean-end"  # a clean end carries no error text


# ---- bad chunks, huge lines, bad bytes --------------------------------------------------------


def test_malformed_and_non_json_chunks_keep_the_text_without_a_traceback(
        loopback: LoopbackServer) -> None:
    configure(loopback.url)
    loopback.script(CHAT, stream_reply([
        *sse_chunks(["before "], finish_reason=None, done=False),
        b'data: {"choices": [{"delta": {"content": "tru\n\n',  # cut-off JSON
        b"data: <html><body>upstream said no</body></html>\n\n",  # not JSON at all
        *sse_chunks(["after"]),
    ]))
    out = ask()
    assert len(out.lines) <= 1  # at most one line (a warning), never a traceback
    _, reply = saved_exchange()
    assert reply["content"].startswith("before ")
    if reply["state"] == "complete":  # skipped as warnings
        assert out.code == 0 and reply["content"] == "before after"
    else:  # or stopped there
        assert (out.code, reply["state"]) == (1, "interrupted")




def ask_measured(tmp_path: Path) -> tuple[Outcome, float]:
    """`chatterm ask hi`, and its peak resident memory in MB."""
    rss_file = tmp_path / "rss"
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    result = subprocess.run(
        [sys.executable, "-S", "-c", PEAK_RSS_LAUNCHER, str(rss_file), sys.executable, "-m",
         "chatterm", "ask", "hi"], env=env, cwd=REPO_ROOT, capture_output=True,
        stdin=subprocess.DEVNULL, timeout=120)
    return (checked(result.returncode, result.stdout, result.stderr),
            int(rss_file.read_text()) / 1024)


def test_a_48_mb_line_is_dropped_and_memory_stays_bounded(
        loopback: LoopbackServer, tmp_path: Path) -> None:
    configure(loopback.url)
    loopback.script(CHAT, stream_reply([
        *sse_chunks(["before "], finish_reason=None, done=False),
        b"data: " + b"x" * (48 * MB) + b"\n\n",  # no line end for 48 MB
        *sse_chunks(["after"]),
    ]))
    out, peak_mb = ask_measured(tmp_path)
    # The decoder keeps at most its 8 MiB line cap; buffering the line would need ~100 MB
    # more than a plain `ask` (~35 MB).
    assert peak_mb < 100, f"peak RSS {peak_mb:.0f} MB"
    assert out.code == 0 and out.stdout == b"before after\n"
    _, reply = saved_exchange()
    assert (reply["state"], reply["content"]) == ("complete", "before after")


def test_a_5_mb_chunk_is_kept_whole_with_bounded_memory(
        loopback: LoopbackServer, tmp_path: Path) -> None:
    configure(loopback.url)
    text = "y" * (5 * MB)
    loopback.script(CHAT, stream_reply([
        sse_event({"choices": [{"index": 0, "delta": {"content": text}}]}),
        *sse_chunks([" end"]),
    ]))
    out, peak_mb = ask_measured(tmp_path)
    assert peak_mb < 250, f"peak RSS {peak_mb:.0f} MB"
    assert out.code == 0 and out.stdout == (text + " end\n").encode()
    _, reply = saved_exchange()
    assert reply["state"] == "complete" and reply["content"] == text + " end"


def test_invalid_utf8_becomes_replacement_characters(loopback: LoopbackServer) -> None:
    configure(loopback.url)
    loopback.script(CHAT, stream_reply([
        b'data: {"choices":[{"index":0,"delta":{"content":"caf\xc3"}}]}\n\n',  # cut sequence
        b'data: {"choices":[{"index":0,"delta":{"content":" \xff\xfe ok"}}]}\n\n',
        *sse_chunks([]),
    ]))
    out = ask()
    assert out.code == 0, out.lines
    expected = "caf\ufffd \ufffd\ufffd ok"
    assert out.stdout == (expected + "\n").encode()
    _, reply = saved_exchange()
    assert (reply["state"], reply["content"]) == ("complete", expected)


def test_a_surrogate_pair_split_across_chunks_is_one_character_and_lone_halves_are_replaced(
    loopback: LoopbackServer,
) -> None:
    # A proxy that cuts strings per UTF-16 code unit sends the halves of U+1F600 as two JSON
    # escapes in two events; a lone half (in the reasoning too) and a half left waiting at
    # the end of the stream cannot be encoded at all.
    configure(loopback.url)

    def chunk(delta: str) -> bytes:
        return f'data: {{"choices":[{{"index":0,"delta":{delta}}}]}}\n\n'.encode()

    loopback.script(CHAT, stream_reply([
        chunk('{"reasoning_content":"think \\ud83d"}'),
        chunk('{"reasoning_content":"\\ude00 \\udc00."}'),
        chunk('{"content":"smile \\ud83d"}'),
        chunk('{"content":"\\ude00 lone \\udc00 end \\ud83d"}'),
        *sse_chunks([]),
    ]))
    out = ask()
    assert out.code == 0, out.lines
    expected = "smile \U0001f600 lone \ufffd end \ufffd"
    assert out.stdout == (expected + "\n").encode()
    _, reply = saved_exchange()
    assert (reply["state"], reply["content"]) == ("complete", expected)
    assert reply["reasoning"] == "think \U0001f600 \ufffd."


def test_undecodable_bytes_in_the_prompt_are_saved_and_sent_without_a_traceback(
    loopback: LoopbackServer,
) -> None:
    # argv is decoded with surrogateescape: a stray byte becomes a lone surrogate in the
    # prompt, which the store must still be able to write, with the reply after it.
    configure(loopback.url)
    loopback.script(CHAT, sse_reply(["fine"]))
    result = subprocess.run(
        [sys.executable, "-m", "chatterm", "ask", "caf\udce9 au lait"],
        capture_output=True, timeout=90, cwd=REPO_ROOT,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
    )
    out = checked(result.returncode, result.stdout, result.stderr)
    assert out.code == 0, out.lines
    user, reply = saved_exchange()
    assert user["content"] == "caf\ufffd au lait"
    assert (reply["state"], reply["content"]) == ("complete", "fine")


def configure_key_command(base_url: str, command: str) -> None:
    path = Path(os.environ["CHATTERM_CONFIG"])
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        'default_provider = "loop"\ndefault_model = "m"\n[providers.loop]\n'
        f'base_url = "{base_url}"\napi_key_command = {json.dumps(command)}\n'
        "max_retries = 0\nread_timeout = 5\n")
    path.chmod(0o600)


def test_a_key_command_that_never_stops_printing_is_cut_off_with_bounded_memory(
        loopback: LoopbackServer, tmp_path: Path) -> None:
    # `yes` buffered 8.4 GiB in the 10 s before the timeout.
    configure_key_command(loopback.url, "yes")
    out, peak_mb = ask_measured(tmp_path)
    assert peak_mb < 150, f"peak RSS {peak_mb:.0f} MB"
    assert out.code == 2 and "api_key_command" in out.last and "KiB" in out.last, out.lines
    assert not loopback.requests  # no request without a key


def _alive(pid: int) -> bool:
    """True while `pid` runs (a zombie waiting for its reaper counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    return state != "Z"


def test_a_key_commands_background_children_do_not_outlive_it(
        loopback: LoopbackServer, tmp_path: Path) -> None:
    pid_file = tmp_path / "child.pid"
    configure_key_command(loopback.url,
                          f"sleep 300 & echo $! > {pid_file}; echo sk-from-command-123")
    loopback.script(CHAT, sse_reply(["ok"]))
    out = ask()
    assert out.code == 0, out.lines
    assert loopback.requests[0].headers["authorization"] == "Bearer sk-from-command-123"
    child = int(pid_file.read_text())
    deadline = time.monotonic() + 10
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    if _alive(child):
        os.kill(child, signal.SIGKILL)
        raise AssertionError("the key command's `sleep 300 &` outlived it")
