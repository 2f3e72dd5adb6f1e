"""ChatClient against a real HTTP server on 127.0.0.1 (tests/loopback.py)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import pytest
from loopback import (
    Delay,
    Drop,
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

from chatterm.api.client import ChatClient
from chatterm.api.retry import parse_retry_after
from chatterm.api.types import (
    ApiError,
    ChatRequest,
    ClientEvent,
    Delta,
    Finished,
    Retrying,
    Started,
)
from chatterm.conversation import MessageState
from chatterm.providers import ProviderConfig

KEY = "sk-test-0123456789abcdefghijklmn"
MESSAGES = [{"role": "user", "content": "hi"}]
USAGE = {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7}


def provider(server: LoopbackServer | str, **kwargs: Any) -> ProviderConfig:
    url = server if isinstance(server, str) else server.url
    kwargs.setdefault("max_retries", 2)
    return ProviderConfig(name="testprov", base_url=url, **kwargs)


def request(**kwargs: Any) -> ChatRequest:
    kwargs.setdefault("model", "test-model")
    kwargs.setdefault("messages", MESSAGES)
    return ChatRequest(**kwargs)


async def collect(client: ChatClient, req: ChatRequest | None = None) -> list[ClientEvent]:
    return [event async for event in client.stream(req or request())]


async def failure(client: ChatClient, req: ChatRequest | None = None
                  ) -> tuple[ApiError, list[ClientEvent]]:
    events: list[ClientEvent] = []
    with pytest.raises(ApiError) as info:
        async for event in client.stream(req or request()):
            events.append(event)
    return info.value, events


def client_for(server: LoopbackServer | str, key: str | None = KEY, **kwargs: Any) -> ChatClient:
    return ChatClient(provider(server, **kwargs), key, backoff_base=0.01)


def content_of(events: list[ClientEvent]) -> str:
    return "".join(e.content for e in events if isinstance(e, Delta))


# ---- the happy paths ------------------------------------------------------------------


async def test_streaming_reply_and_request_shape(loopback: LoopbackServer) -> None:
    loopback.script("chat/completions", sse_reply(["Hel", "lo"], usage=USAGE))
    async with ChatClient(provider(loopback, headers={"X-Title": "chatterm"}), KEY) as client:
        events = await collect(client)
    assert isinstance(events[0], Started)
    assert content_of(events) == "Hello"
    final = events[-1]
    assert isinstance(final, Finished)
    assert final.reply.content == "Hello" and final.reply.finish_reason == "stop"
    assert final.reply.usage is not None and final.reply.usage.total_tokens == 7
    assert final.reply.state is MessageState.COMPLETE
    [sent] = loopback.requests
    assert (sent.method, sent.path) == ("POST", "/v1/chat/completions")
    assert sent.headers["authorization"] == f"Bearer {KEY}"
    assert sent.headers["accept"] == "text/event-stream"
    assert sent.headers["x-title"] == "chatterm"
    assert sent.json == {"model": "test-model", "messages": MESSAGES, "stream": True,
                         "stream_options": {"include_usage": True}}


async def test_no_key_means_no_authorization_header(loopback: LoopbackServer) -> None:
    loopback.script("chat/completions", sse_reply(["ok"]))
    async with client_for(loopback, key=None) as client:
        await collect(client)
    assert "authorization" not in loopback.requests[0].headers


async def test_first_delta_arrives_while_the_server_holds(loopback: LoopbackServer) -> None:
    release = threading.Event()
    loopback.script("chat/completions", sse_reply(["first", " second"], hold=release))
    seen: list[str] = []
    async with client_for(loopback) as client:
        async for event in client.stream(request()):
            if isinstance(event, Delta):
                seen.append(event.content)
                if len(seen) == 1:
                    # The server is still blocked on `release`: this delta came early.
                    assert not release.is_set()
                    release.set()
            elif isinstance(event, Finished):
                assert event.reply.content == "first second"
    assert seen == ["first", " second"]


async def test_utf8_split_across_network_writes(loopback: LoopbackServer) -> None:
    body = b"".join(sse_chunks(["Grüße 😊"]))
    cut = body.index("😊".encode()) + 2  # in the middle of the emoji
    loopback.script("chat/completions", stream_reply([body[:cut], Delay(0.05), body[cut:]]))
    async with client_for(loopback) as client:
        events = await collect(client)
    assert content_of(events) == "Grüße 😊"


async def test_non_streaming(loopback: LoopbackServer) -> None:
    loopback.script("chat/completions", json_reply({
        "model": "m2", "choices": [{"index": 0, "finish_reason": "stop",
                                    "message": {"role": "assistant", "content": "Whole"}}],
        "usage": USAGE}))
    async with client_for(loopback) as client:
        events = await collect(client, request(stream=False))
    assert [type(e) for e in events] == [Started, Delta, Finished]
    assert content_of(events) == "Whole"
    final = events[-1]
    assert isinstance(final, Finished) and final.reply.usage is not None
    assert loopback.requests[0].json["stream"] is False
    assert loopback.requests[0].headers["accept"] == "application/json"


async def test_streaming_request_answered_with_plain_json(loopback: LoopbackServer) -> None:
    loopback.script("chat/completions", json_reply(
        {"choices": [{"message": {"content": "not streamed"}, "finish_reason": "stop"}]}))
    async with client_for(loopback) as client:
        events = await collect(client)
    assert content_of(events) == "not streamed"


async def test_mistral_prefix_is_sent_and_shown_once(loopback: LoopbackServer) -> None:
    loopback.script("chat/completions", sse_reply(["Once upon", " a time", " there"]))
    client = ChatClient(provider(loopback, kind="mistral"), KEY)
    async with client:
        events = await collect(client, request(prefix="Once upon a time"))
    final = events[-1]
    assert isinstance(final, Finished)
    assert final.reply.content == "Once upon a time there"
    assert content_of(events) == " there"
    sent = loopback.requests[0].json
    assert sent["messages"][-1] == {"role": "assistant", "content": "Once upon a time",
                                    "prefix": True}
    assert "stream_options" not in sent


async def test_prefix_on_unsupported_provider_sends_nothing(loopback: LoopbackServer) -> None:
    async with client_for(loopback) as client:
        error, events = await failure(client, request(prefix="Hi"))
    assert "does not support a reply prefix" in error.message
    assert events == [] and loopback.requests == []


async def test_malformed_chunk_becomes_a_warning(loopback: LoopbackServer) -> None:
    steps = [sse_event({"choices": [{"delta": {"content": "good"}}]}),
             b"data: {oops\n\n", *sse_chunks([" end"])]
    loopback.script("chat/completions", stream_reply(steps))
    async with client_for(loopback) as client:
        events = await collect(client)
    final = events[-1]
    assert isinstance(final, Finished)
    assert final.reply.content == "good end"
    assert len(final.reply.warnings) == 1


async def test_huge_line_and_bad_bytes_over_the_wire(loopback: LoopbackServer) -> None:
    huge = b"data: " + b"x" * (9 * 1024 * 1024) + b"\n\n"  # over the 8 MiB line cap
    bad = b'data: {"choices": [{"delta": {"content": "caf\xe9 "}}]}\n\n'
    loopback.script("chat/completions", stream_reply([huge, bad, *sse_chunks(["after"])]))
    async with client_for(loopback) as client:
        events = await collect(client)
    final = events[-1]
    assert isinstance(final, Finished)
    assert final.reply.content == "caf\ufffd after"
    assert any("longer than" in w for w in final.reply.warnings)


async def test_stops_reading_at_done_even_if_the_server_lingers(
    loopback: LoopbackServer,
) -> None:
    loopback.script("chat/completions", stream_reply([*sse_chunks(["x"]), Stall(30)]))
    async with client_for(loopback, read_timeout=20) as client:
        events = await asyncio.wait_for(collect(client), 10)
    assert isinstance(events[-1], Finished)


# ---- retries --------------------------------------------------------------------------


async def test_429_honours_retry_after_seconds(loopback: LoopbackServer) -> None:
    loopback.script("chat/completions", [
        json_reply({"error": {"message": "slow down"}}, 429, {"Retry-After": "0"}),
        sse_reply(["ok"]),
    ])
    async with client_for(loopback) as client:
        events = await collect(client)
    retry = events[0]
    assert isinstance(retry, Retrying)
    assert (retry.attempt, retry.max_retries, retry.delay) == (1, 2, 0.0)
    assert "429" in retry.reason and "slow down" in retry.reason
    assert isinstance(events[1], Started)
    assert content_of(events) == "ok"
    assert len(loopback.requests) == 2
    # Every attempt carries the key and the same body.
    assert loopback.requests[1].json == loopback.requests[0].json


async def test_retry_after_http_date_and_cap(loopback: LoopbackServer) -> None:
    past = format_datetime(datetime.now(UTC) - timedelta(minutes=5), usegmt=True)
    loopback.script("chat/completions", [
        json_reply({"error": {"message": "a"}}, 429, {"Retry-After": past}),
        json_reply({"error": {"message": "b"}}, 429, {"Retry-After": "3600"}),
        sse_reply(["ok"]),
    ])
    client = ChatClient(provider(loopback), KEY, backoff_base=0.01, retry_after_cap=0.05)
    async with client:
        events = await collect(client)
    delays = [e.delay for e in events if isinstance(e, Retrying)]
    assert delays == [0.0, 0.05]  # a past date means now; an hour is capped


async def test_5xx_retried_with_backoff_then_gives_up(loopback: LoopbackServer) -> None:
    loopback.script("chat/completions", [
        text_reply("<html><head><title>502 Bad Gateway</title></head></html>", 502,
                   "text/html"),
        json_reply({"error": {"message": "overloaded"}}, 503),
        json_reply({"error": {"message": "still overloaded"}}, 500),
    ])
    async with client_for(loopback) as client:
        error, events = await failure(client)
    retries = [e for e in events if isinstance(e, Retrying)]
    assert [r.attempt for r in retries] == [1, 2]
    assert "502 Bad Gateway" in retries[0].reason
    # Exponential with jitter: base 0.01 -> [0.005, 0.015), then [0.01, 0.03).
    assert 0.005 <= retries[0].delay < 0.015 and 0.01 <= retries[1].delay < 0.03
    assert not any(isinstance(e, Started) for e in events)
    assert error.status == 500
    assert "still overloaded" in error.message and "gave up after 2 retries" in error.message
    assert len(loopback.requests) == 3


async def test_5xx_then_success(loopback: LoopbackServer) -> None:
    loopback.script("chat/completions", [json_reply({"error": {"message": "x"}}, 503),
                                         sse_reply(["fine"])])
    async with client_for(loopback) as client:
        events = await collect(client)
    assert [type(e) for e in events[:2]] == [Retrying, Started]
    assert content_of(events) == "fine"


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
async def test_4xx_is_never_retried(loopback: LoopbackServer, status: int) -> None:
    loopback.script("chat/completions", json_reply({"error": {"message": "nope"}}, status))
    async with client_for(loopback) as client:
        error, events = await failure(client)
    assert events == [] and len(loopback.requests) == 1
    assert error.status == status and "nope" in error.message
    assert error.provider == "testprov"


async def test_aimlapi_403_reads_as_out_of_credits(loopback: LoopbackServer) -> None:
    loopback.script("chat/completions", json_reply(
        {"statusCode": 403, "message": "You've run out of credits. Please top up your balance",
         "error": "Forbidden"}, 403))
    async with client_for(loopback) as client:
        error, _ = await failure(client)
    assert "out of credits" in error.message and "\n" not in error.message


async def test_unknown_model_is_flagged(loopback: LoopbackServer) -> None:
    loopback.script("chat/completions", json_reply(
        {"error": {"message": "The model `nope-1` does not exist", "code": "model_not_found"}},
        404))
    async with client_for(loopback) as client:
        error, _ = await failure(client)
    assert error.unknown_model and "nope-1" in error.message


async def test_echoed_key_is_redacted(loopback: LoopbackServer) -> None:
    loopback.script("chat/completions", json_reply(
        {"error": {"message": f"Incorrect API key provided: {KEY}"}}, 401))
    async with client_for(loopback) as client:
        error, _ = await failure(client)
    assert KEY not in error.message and "[REDACTED]" in error.message


async def test_empty_queue_answers_500_clearly(loopback: LoopbackServer) -> None:
    async with client_for(loopback, max_retries=0) as client:
        error, _ = await failure(client)
    assert "no reply scripted for POST /v1/chat/completions" in error.message


# ---- faults after tokens: never retried, partial kept ----------------------------------


async def test_connection_dropped_mid_stream(loopback: LoopbackServer) -> None:
    loopback.script("chat/completions", [
        stream_reply([*sse_chunks(["par", "tial"], finish_reason=None, done=False), Drop()]),
        sse_reply(["must not be used"]),
    ])
    async with client_for(loopback) as client:
        error, events = await failure(client)
    assert "connection dropped mid-reply" in error.message
    assert error.partial is not None and error.partial.content == "partial"
    assert error.partial.state is MessageState.INTERRUPTED
    assert content_of(events) == "partial"
    assert len(loopback.requests) == 1 and loopback.pending("chat/completions") == 1


async def test_connection_reset_mid_stream(loopback: LoopbackServer) -> None:
    loopback.script("chat/completions", stream_reply(
        [*sse_chunks(["abc"], finish_reason=None, done=False), Delay(0.05), Drop(reset=True)]))
    async with client_for(loopback) as client:
        error, _ = await failure(client)
    assert error.partial is not None and error.partial.content == "abc"
    assert "testprov" in error.message


async def test_read_timeout_mid_stream(loopback: LoopbackServer) -> None:
    loopback.script("chat/completions", stream_reply(
        [*sse_chunks(["slow"], finish_reason=None, done=False), Stall(30)]))
    async with client_for(loopback, read_timeout=0.3) as client:
        error, _ = await failure(client)
    assert error.message == "testprov: nothing arrived for 0.3 s; the reply is incomplete"
    assert error.partial is not None and error.partial.content == "slow"
    assert not error.retryable and len(loopback.requests) == 1


async def test_silence_after_headers_times_out_with_an_empty_partial(
    loopback: LoopbackServer,
) -> None:
    loopback.script("chat/completions", stream_reply([Stall(30)]))
    async with client_for(loopback, read_timeout=0.3) as client:
        error, events = await failure(client)
    assert "nothing arrived for 0.3 s" in error.message
    assert error.partial is not None and error.partial.content == ""
    assert [type(e) for e in events] == [Started]


async def test_no_answer_at_all_times_out_and_is_not_retried(loopback: LoopbackServer) -> None:
    loopback.script("chat/completions", [Reply(before=[Stall(30)]), sse_reply(["no"])])
    async with client_for(loopback, read_timeout=0.3) as client:
        error, events = await failure(client)
    assert error.message == (f"testprov at {loopback.url} did not answer: "
                             "nothing arrived for 0.3 s")
    assert events == [] and len(loopback.requests) == 1


async def test_disconnect_before_answering_is_retried(loopback: LoopbackServer) -> None:
    loopback.script("chat/completions", [Reply(before=[Drop()]), sse_reply(["second try"])])
    async with client_for(loopback) as client:
        events = await collect(client)
    assert isinstance(events[0], Retrying)
    assert "before an answer" in events[0].reason
    assert content_of(events) == "second try"


async def test_clean_end_without_finish_is_interrupted_not_an_error(
    loopback: LoopbackServer,
) -> None:
    loopback.script("chat/completions", stream_reply(
        sse_chunks(["cut ", "short"], finish_reason=None, done=False)))
    async with client_for(loopback) as client:
        events = await collect(client)
    final = events[-1]
    assert isinstance(final, Finished)
    assert final.reply.content == "cut short"
    assert final.reply.state is MessageState.INTERRUPTED


async def test_event_error_mid_stream(loopback: LoopbackServer) -> None:
    steps = [*sse_chunks(["so far"], finish_reason=None, done=False),
             sse_event({"error": {"message": "model crashed", "code": "server_error"}},
                       event="error"),
             sse_chunks(["never"])[0]]
    loopback.script("chat/completions", stream_reply(steps))
    async with client_for(loopback) as client:
        error, _ = await failure(client)
    assert error.message == ("testprov: the server reported an error mid-reply: "
                             "model crashed (server_error)")
    assert error.partial is not None and error.partial.content == "so far"
    assert error.code == "server_error" and len(loopback.requests) == 1


async def test_error_object_chunk_mid_stream(loopback: LoopbackServer) -> None:
    steps = [*sse_chunks(["a"], finish_reason=None, done=False),
             sse_event({"choices": [{"delta": {"content": "b"}}],
                        "error": {"code": 400, "message": "Token limit reached"}}),
             b"data: [DONE]\n\n"]
    loopback.script("chat/completions", stream_reply(steps))
    async with client_for(loopback) as client:
        error, _ = await failure(client)
    assert error.status == 400 and "Token limit reached" in error.message
    assert error.partial is not None and error.partial.content == "ab"


# ---- connection failures ---------------------------------------------------------------


async def test_connection_refused_names_provider_and_url_and_is_not_retried() -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"
    async with client_for(url, max_retries=3) as client:
        error, events = await failure(client)
    assert error.message == (f"cannot reach testprov at {url}: connection refused; no server "
                             "is running at that address (is it started, and is the port "
                             "right?)")
    assert events == []  # nothing listens there: a retry a second later finds nothing either
    assert error.url == url and error.provider == "testprov" and not error.retryable


async def test_dns_failure_names_provider_and_url() -> None:
    url = "http://chatterm-no-such-host.invalid/v1"
    async with client_for(url, connect_timeout=5) as client:
        error, events = await failure(client)
    assert error.message == f"cannot reach testprov at {url}: the host name could not be resolved"
    assert events == []  # a name that does not resolve will not resolve in a second either


@pytest.fixture
def blackhole() -> Iterator[str]:
    with loopback_blackhole() as url:
        yield url


async def test_connect_timeout_names_provider_and_url(blackhole: str) -> None:
    async with client_for(blackhole, connect_timeout=0.3, max_retries=1) as client:
        error, events = await failure(client)
    assert error.message.startswith(f"cannot reach testprov at {blackhole}: "
                                    "connection timed out after 0.3 s")
    assert [type(e) for e in events] == [Retrying]


async def test_base_url_without_scheme() -> None:
    async with client_for("api.example.com/v1") as client:
        error, events = await failure(client)
    assert "http:// or https://" in error.message and events == []


# ---- redirects --------------------------------------------------------------------------


async def test_same_origin_redirect_is_followed(loopback: LoopbackServer) -> None:
    loopback.script("chat/completions", json_reply(
        {}, 307, {"Location": "/v2/chat/completions"}))
    loopback.script("/v2/chat/completions", sse_reply(["moved"]))
    async with client_for(loopback) as client:
        events = await collect(client)
    assert content_of(events) == "moved"
    second = loopback.requests[1]
    assert second.path == "/v2/chat/completions"
    assert second.headers["authorization"] == f"Bearer {KEY}"
    assert second.json == loopback.requests[0].json


async def test_cross_origin_redirect_is_refused_and_key_never_sent(
    loopback: LoopbackServer,
) -> None:
    with LoopbackServer() as other:
        other.script("chat/completions", sse_reply(["stolen"]))
        loopback.script("chat/completions", json_reply(
            {}, 308, {"Location": f"{other.url}/chat/completions"}))
        async with client_for(loopback) as client:
            error, events = await failure(client)
        assert other.requests == []
    assert "redirected to another origin" in error.message
    assert str(other.port) in error.message
    assert events == [] and len(loopback.requests) == 1


async def test_303_for_a_post_is_refused(loopback: LoopbackServer) -> None:
    loopback.script("chat/completions", json_reply({}, 303, {"Location": "/elsewhere"}))
    async with client_for(loopback) as client:
        error, _ = await failure(client)
    assert "303" in error.message and len(loopback.requests) == 1


# ---- list_models ------------------------------------------------------------------------


async def test_list_models(loopback: LoopbackServer) -> None:
    loopback.script("models", [json_reply({"error": {"message": "x"}}, 502),
                               json_reply({"object": "list", "data": [{"id": "a"}]})])
    async with client_for(loopback) as client:
        data = await client.list_models()
    assert data == {"object": "list", "data": [{"id": "a"}]}
    assert [(r.method, r.path) for r in loopback.requests] == [("GET", "/v1/models")] * 2
    assert loopback.requests[0].headers["authorization"] == f"Bearer {KEY}"


async def test_list_models_errors(loopback: LoopbackServer) -> None:
    loopback.script("models", [json_reply({"error": {"message": "bad key"}}, 401),
                               text_reply("not json at all")])
    async with client_for(loopback) as client:
        with pytest.raises(ApiError, match="bad key"):
            await client.list_models()
        with pytest.raises(ApiError, match="did not answer with JSON"):
            await client.list_models()


# ---- details ---------------------------------------------------------------------------


def test_parse_retry_after() -> None:
    now = datetime(2025, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("7", now) == 7.0
    assert parse_retry_after(" 1.5 ", now) == 1.5
    assert parse_retry_after("-3", now) == 0.0
    assert parse_retry_after("Wed, 01 Jan 2025 12:00:30 GMT", now) == 30.0
    assert parse_retry_after("Wed, 01 Jan 2025 11:00:00 GMT", now) == 0.0
    assert parse_retry_after("soon", now) is None
    assert parse_retry_after(None, now) is None


def test_backoff_base_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHATTERM_BACKOFF_BASE", "0.002")
    assert ChatClient(provider("http://127.0.0.1:1/v1"), None).backoff_base == 0.002


def test_httpx_is_not_imported_until_a_request() -> None:
    code = ("import sys; import chatterm.api, chatterm.api.types, chatterm.api.client, "
            "chatterm.api.payload, chatterm.api.assemble; "
            "from chatterm.api.client import ChatClient; "
            "from chatterm.providers import builtin_providers; "
            "ChatClient(builtin_providers()['openai'], 'k'); "
            "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('httpx', 'httpcore', 'textual'))))")
    out = subprocess.run([sys.executable, "-c", "import json; " + code], check=True,
                         capture_output=True, text=True, cwd=str(_repo_root())).stdout
    assert json.loads(out) == []


def _repo_root() -> Any:
    from pathlib import Path

    return Path(__file__).resolve().parent.parent


# ---- the loopback server as a separate process (used by CLI tests and benchmarks) ------


async def test_standalone_loopback_process(tmp_path: Any) -> None:
    from pathlib import Path

    script = {
        "queue": {"chat/completions": [
            {"json": {"error": {"message": "warming up"}}, "status": 503},
            {"sse_text": ["from ", "a process"], "usage": USAGE, "delay": 0.01},
            {"steps": [{"data": {"choices": [{"delta": {"content": "x"}}]}}, {"drop": True}]},
        ]},
        "always": {"models": {"json": {"data": [{"id": "m1"}]}}},
    }
    script_file = tmp_path / "script.json"
    script_file.write_text(json.dumps(script))
    port_file, log_file = tmp_path / "port", tmp_path / "log.jsonl"
    loopback_py = Path(__file__).with_name("loopback.py")
    proc = subprocess.Popen(
        [sys.executable, str(loopback_py), "--script", str(script_file),
         "--port-file", str(port_file), "--log", str(log_file)],
        stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = await asyncio.wait_for(asyncio.to_thread(proc.stdout.readline), 10)
        url = line.split()[1]
        assert url == f"http://127.0.0.1:{port_file.read_text()}/v1"
        async with client_for(url) as client:
            events = await collect(client)
            assert isinstance(events[0], Retrying)
            assert content_of(events) == "from a process"
            error, _ = await failure(client)
            assert error.partial is not None and error.partial.content == "x"
            assert await client.list_models() == {"data": [{"id": "m1"}]}
            assert await client.list_models() == {"data": [{"id": "m1"}]}
    finally:
        proc.terminate()
        assert proc.wait(timeout=10) == 0
    logged = [json.loads(line) for line in log_file.read_text().splitlines()]
    assert [(r["method"], r["path"]) for r in logged] == [
        ("POST", "/v1/chat/completions")] * 3 + [("GET", "/v1/models")] * 2
    assert logged[0]["json"]["model"] == "test-model"
    assert logged[0]["headers"]["authorization"] == f"Bearer {KEY}"
