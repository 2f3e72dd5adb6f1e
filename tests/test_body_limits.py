"""Hostile bodies and answers: compression bombs, size caps, deep JSON, bad encodings,
malformed HTTP. ChatClient against a real server on 127.0.0.1, then `chatterm` itself."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from bombs import MiB, gzip_encoding, gzip_repeat, zero_bomb
from chatterm_env import PEAK_RSS_LAUNCHER, REPO_ROOT, run_cli
from loopback import (
    LoopbackServer,
    Reply,
    free_port,
    json_reply,
    sse_chunks,
    sse_event,
    sse_reply,
    stream_reply,
    text_reply,
)
from test_client import client_for, collect, failure, request
from test_faults_cli import CHAT, KEY, api_key, ask, checked, configure, saved_exchange

from chatterm.api.body import JSON_LIMIT
from chatterm.api.client import ChatClient
from chatterm.api.types import ApiError, Delta, Finished, Retrying
from chatterm.providers import ProviderConfig

__all__ = ["api_key"]  # the autouse fixture that puts a key in the environment

SSE = {"Content-Type": "text/event-stream"}
JSON = {"Content-Type": "application/json"}
DEEP = "[" * 1000 + "]" * 1000
CONTENT_HEAD = b'{"id":"x","choices":[{"index":0,"message":{"role":"assistant","content":"'


def raw_reply(body: bytes, headers: dict[str, str], status: int = 200) -> Reply:
    return Reply(status, headers, [body], chunked=False)


def bomb_reply(mib: int, headers: dict[str, str], status: int = 200, prefix: bytes = b"",
               layers: int = 3) -> Reply:
    return raw_reply(zero_bomb(mib, layers, prefix),
                     {**headers, "Content-Encoding": gzip_encoding(layers)}, status)


def content_text(events: list[Any]) -> str:
    return "".join(e.content for e in events if isinstance(e, Delta))


# ---- caps on decoded size -------------------------------------------------------------------


async def test_a_streamed_gzip_bomb_stops_at_the_stream_cap_and_keeps_the_text(
        loopback: LoopbackServer) -> None:
    before = b"".join(sse_chunks(["before "], finish_reason=None, done=False))
    # 164 bytes on the wire, 256 MiB decoded: the text, then one endless line of NULs.
    loopback.script(CHAT, bomb_reply(256, SSE, prefix=before))
    async with client_for(loopback) as client:
        error, events = await failure(client)
    assert content_text(events) == "before "
    assert error.message == ("testprov: the reply passed 128 MiB of data, chatterm's cap for "
                             "one streamed reply; stopped reading it")
    assert error.partial is not None and error.partial.content == "before "


async def test_decoding_a_bomb_gives_the_event_loop_turns_so_a_stop_gets_in(
        loopback: LoopbackServer) -> None:
    before = b"".join(sse_chunks(["before "], finish_reason=None, done=False))
    loopback.script(CHAT, bomb_reply(256, SSE, prefix=before))  # all of it in one read
    turns = 0

    async def other_work() -> None:  # stands for Ctrl+C's handler, Esc, the app's redraws
        nonlocal turns
        while True:
            await asyncio.sleep(0)
            turns += 1

    tickers = []
    try:
        async with client_for(loopback) as client:
            with pytest.raises(ApiError):
                async for event in client.stream(request()):
                    if isinstance(event, Delta):  # from here on it only decodes
                        tickers.append(asyncio.create_task(other_work()))
            at_cap = turns
    finally:
        for ticker in tickers:
            ticker.cancel()
    # 128 MiB decoded from one ~200-byte read: a turn every 4 MiB, not one at the end.
    assert at_cap >= 16


@pytest.mark.slow
async def test_a_non_streamed_reply_over_the_cap_keeps_the_part_that_fits(
        loopback: LoopbackServer) -> None:
    body = gzip_repeat(b"a" * MiB, 40, CONTENT_HEAD, b'"},"finish_reason":"stop"}]}')
    loopback.script(CHAT, raw_reply(body, {**JSON, "Content-Encoding": "gzip"}))
    async with client_for(loopback) as client:
        error, _ = await failure(client, request(stream=False))
    kept = JSON_LIMIT - len(CONTENT_HEAD)
    assert error.message == ("testprov: the answer is larger than 32 MiB, chatterm's cap for "
                             f"one reply; kept the first {kept:,} characters of the reply")
    assert error.partial is not None and error.partial.content == "a" * kept
    assert error.partial.finish_reason is None  # cut off: it reads as interrupted


async def test_the_model_list_is_capped(loopback: LoopbackServer) -> None:
    loopback.script("models", bomb_reply(64, JSON))
    async with client_for(loopback) as client:
        with pytest.raises(ApiError) as info:
            await client.list_models()
    assert info.value.message == (f"testprov: the model list from {loopback.url}/models is "
                                  "larger than 8 MiB, chatterm's cap for it")


async def test_an_error_body_bomb_is_read_to_its_cap_and_the_error_still_retried(
        loopback: LoopbackServer) -> None:
    loopback.script(CHAT, [bomb_reply(256, JSON, 503), sse_reply(["fine"])])
    async with client_for(loopback) as client:
        events = await collect(client)
    assert isinstance(events[0], Retrying)
    assert events[0].reason.startswith("testprov: HTTP 503 Service Unavailable")
    assert content_text(events) == "fine"


# ---- bodies that are not what their label says ----------------------------------------------

NOT_GZIP = ("the answer is labelled Content-Encoding: gzip but is not gzip data (Error -3 "
            "while decompressing data: incorrect header check)")


async def test_a_body_labelled_gzip_that_is_not_is_one_line_on_every_path(
        loopback: LoopbackServer) -> None:
    gz = {"Content-Encoding": "gzip"}
    loopback.script(CHAT, [raw_reply(b"data: plain\n\n", {**SSE, **gz}),
                           raw_reply(b'{"choices": []}', {**JSON, **gz})])
    loopback.script("models", raw_reply(b'{"data": []}', {**JSON, **gz}))
    async with client_for(loopback) as client:
        streamed, _ = await failure(client)
        whole, _ = await failure(client, request(stream=False))
        with pytest.raises(ApiError) as models:
            await client.list_models()
    assert streamed.message == f"testprov: {NOT_GZIP}"
    assert whole.message == f"testprov: {NOT_GZIP}"
    assert models.value.message == f"testprov: GET {loopback.url}/models: {NOT_GZIP}"


async def test_a_503_whose_body_is_not_the_gzip_it_claims_is_still_retried(
        loopback: LoopbackServer) -> None:
    loopback.script(CHAT, [raw_reply(b"busy", {**JSON, "Content-Encoding": "gzip"}, 503),
                           sse_reply(["second try"])])
    async with client_for(loopback) as client:
        events = await collect(client)
    assert isinstance(events[0], Retrying)
    assert events[0].reason == ("testprov: HTTP 503 Service Unavailable (empty response) (its "
                                f"body could not be read: {NOT_GZIP})")
    assert content_text(events) == "second try"


async def test_an_encoding_chatterm_did_not_ask_for_is_one_line(
        loopback: LoopbackServer) -> None:
    loopback.script(CHAT, raw_reply(b"\x00\x01", {**SSE, "Content-Encoding": "br"}))
    async with client_for(loopback) as client:
        error, _ = await failure(client)
    request_seen = loopback.requests[-1]
    assert request_seen.headers["accept-encoding"] == "gzip, deflate"
    assert error.message == ("testprov: the answer uses Content-Encoding: br, which chatterm "
                             "did not ask for and does not decode")


# ---- deeply nested JSON ---------------------------------------------------------------------


async def test_a_deeply_nested_data_line_is_skipped_and_the_text_in_the_same_read_kept(
        loopback: LoopbackServer) -> None:
    events = [*sse_chunks(["before "], finish_reason=None, done=False),
              sse_event(DEEP), *sse_chunks(["after"])]
    loopback.script(CHAT, stream_reply([b"".join(events)]))  # one write, one read
    async with client_for(loopback) as client:
        got = await collect(client)
    finished = got[-1]
    assert isinstance(finished, Finished)
    assert finished.reply.content == "before after"
    assert finished.reply.warnings == [
        "skipped a chunk that is not valid JSON: " + "[" * 59 + "…"]


async def test_deeply_nested_error_non_streamed_and_model_bodies_are_one_line(
        loopback: LoopbackServer) -> None:
    loopback.script(CHAT, [text_reply(DEEP, 400, "application/json"),
                           text_reply(DEEP, 200, "application/json")])
    loopback.script("models", text_reply(DEEP, 200, "application/json"))
    async with client_for(loopback) as client:
        error, _ = await failure(client)
        whole, _ = await failure(client, request(stream=False))
        with pytest.raises(ApiError) as models:
            await client.list_models()
    assert error.message.startswith("testprov: HTTP 400 Bad Request: [[[[")
    assert whole.message.startswith("testprov: the answer is JSON nested too deeply (more "
                                    "than 64 levels): [[[[")
    assert models.value.message == (f"testprov: GET {loopback.url}/models did not answer with "
                                    "JSON (JSON nested too deeply (more than 64 levels))")


# ---- answers that are not HTTP, headers we cannot send, web pages --------------------------


async def test_a_1_mb_response_header_is_one_clear_line_and_not_resent(
        loopback: LoopbackServer) -> None:
    loopback.script(CHAT, [json_reply({}, 200, {"X-Huge": "a" * MiB}), sse_reply(["no"])])
    async with client_for(loopback, max_retries=3) as client:
        error, events = await failure(client)
    assert error.message == (f"testprov at {loopback.url} sent an answer that is not valid "
                             "HTTP: its status line and headers are larger than 100 KiB")
    assert events == [] and len(loopback.requests) == 1


async def test_an_illegal_header_name_is_refused_before_anything_is_sent(
        loopback: LoopbackServer) -> None:
    config = ProviderConfig(name="testprov", base_url=loopback.url, headers={"X Team": "a"})
    async with ChatClient(config, KEY, backoff_base=0.01) as client:
        error, events = await failure(client)
    assert error.message.startswith("header of testprov: 'X Team' is not a valid HTTP header "
                                    "name")
    assert events == [] and loopback.requests == []


async def test_a_200_web_page_is_not_a_reply(loopback: LoopbackServer) -> None:
    page = "<html><head><title>Sign in</title></head><body>portal</body></html>"
    loopback.script(CHAT, text_reply(page, 200, "text/html"))
    async with client_for(loopback) as client:
        error, events = await failure(client)
    assert error.message == ("testprov answered HTTP 200 with an HTML page titled 'Sign in' "
                             "instead of a chat reply; check base_url")
    assert not error.retryable and events == []


# ---- as a person meets them: `chatterm` in a subprocess --------------------------------------


def ask_measured(tmp_path: Path, *args: str) -> tuple[Any, float]:
    rss_file = tmp_path / "rss"
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    result = subprocess.run(
        [sys.executable, "-S", "-c", PEAK_RSS_LAUNCHER, str(rss_file), sys.executable, "-m",
         "chatterm", "ask", *args, "hi"], env=env, cwd=REPO_ROOT, capture_output=True,
        stdin=subprocess.DEVNULL, timeout=120)
    return (checked(result.returncode, result.stdout, result.stderr),
            int(rss_file.read_text()) / 1024)


@pytest.mark.e2e
@pytest.mark.parametrize(("mode", "headers"), [("stream", SSE), ("no-stream", JSON)])
def test_gzip_bombs_keep_ask_memory_bounded(loopback: LoopbackServer, tmp_path: Path,
                                            mode: str, headers: dict[str, str]) -> None:
    configure(loopback.url)
    loopback.script(CHAT, bomb_reply(1024, headers))  # ~250 bytes, 1 GiB decoded
    out, peak_mb = ask_measured(tmp_path, *(["--no-stream"] if mode == "no-stream" else []))
    # Before the caps: 2.1 GB. A plain `ask` is ~35 MB. Streamed, the decoded NULs are
    # never kept (an over-long SSE line is dropped); not streamed, the 32 MiB that fit the
    # cap are held twice while they are read as JSON (bytes, then text).
    limit = 100 if mode == "stream" else 150
    assert peak_mb < limit, f"peak RSS {peak_mb:.0f} MB"
    assert out.code == 1 and len(out.lines) == 1
    assert "MiB" in out.last and "cap" in out.last


@pytest.mark.e2e
def test_a_gzip_bomb_as_the_model_list_keeps_models_refresh_bounded(
        loopback: LoopbackServer, tmp_path: Path) -> None:
    configure(loopback.url)
    loopback.script("models", bomb_reply(1024, JSON))
    rss_file = tmp_path / "rss"
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    result = subprocess.run(
        [sys.executable, "-S", "-c", PEAK_RSS_LAUNCHER, str(rss_file), sys.executable, "-m",
         "chatterm", "models", "--refresh"], env=env, cwd=REPO_ROOT, capture_output=True,
        stdin=subprocess.DEVNULL, timeout=120)
    out = checked(result.returncode, result.stdout, result.stderr)
    peak_mb = int(rss_file.read_text()) / 1024
    assert peak_mb < 100, f"peak RSS {peak_mb:.0f} MB"  # before: 2.1 GB
    assert out.code == 1
    assert out.lines == [f"chatterm: could not refresh the model list: loop: the model list "
                         f"from {loopback.url}/models is larger than 8 MiB, chatterm's cap for "
                         "it; showing no cached list"]


@pytest.mark.e2e
def test_a_too_big_non_streamed_reply_is_printed_and_saved_up_to_the_cap(
        loopback: LoopbackServer) -> None:
    configure(loopback.url)
    body = gzip_repeat(b"z" * MiB, 48, CONTENT_HEAD, b'"},"finish_reason":"stop"}]}')
    loopback.script(CHAT, raw_reply(body, {**JSON, "Content-Encoding": "gzip"}))
    out = ask("--no-stream", "hi")
    kept = JSON_LIMIT - len(CONTENT_HEAD)
    assert out.code == 1 and out.stdout == b"z" * kept + b"\n"
    assert out.lines == [f"chatterm: error: loop: the answer is larger than 32 MiB, chatterm's "
                         f"cap for one reply; kept the first {kept:,} characters of the reply "
                         "(the partial reply was kept, marked interrupted)"]
    _, reply = saved_exchange()
    assert reply["state"] == "interrupted" and len(reply["content"]) == kept


@pytest.mark.e2e
def test_a_200_web_page_in_ask_is_one_line_that_claims_nothing_was_kept(
        loopback: LoopbackServer) -> None:
    configure(loopback.url)
    loopback.script(CHAT, text_reply("<html><title>Login</title></html>", 200, "text/html"))
    out = ask()
    assert out.code == 1
    assert out.lines == ["chatterm: error: loop answered HTTP 200 with an HTML page titled "
                         "'Login' instead of a chat reply; check base_url"]


@pytest.mark.e2e
def test_a_200_that_holds_no_event_never_claims_a_partial_reply_was_kept(
        loopback: LoopbackServer) -> None:
    configure(loopback.url)
    loopback.script(CHAT, text_reply("hello from a proxy\n", 200, "text/plain"))
    out = ask()
    assert out.code == 1 and out.stdout == b""
    assert out.lines == ["chatterm: error: the stream ended before the reply was complete (no "
                         "reply text arrived, marked interrupted)"]


@pytest.mark.e2e
def test_a_config_header_name_http_cannot_send_is_refused_before_sending(
        loopback: LoopbackServer) -> None:
    configure(loopback.url)
    path = Path(os.environ["CHATTERM_CONFIG"])
    path.write_text(path.read_text() + 'headers = { "X Team" = "blue" }\n')
    out = ask()
    assert out.code == 2 and loopback.requests == []
    assert out.lines == [f"chatterm: error: {path}: providers.loop.headers holds a name HTTP "
                         "cannot send: 'X Team' is not a valid HTTP header name (only letters, "
                         "digits and !#$%&'*+-.^_`|~ are allowed: no spaces, colons or accents)"]


@pytest.mark.e2e
def test_models_refresh_against_a_server_that_is_not_running_fails_at_once() -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"
    configure(url, max_retries=3)
    result = run_cli("models", "--refresh", "--json")
    out = checked(result.returncode, result.stdout, result.stderr)
    assert out.code == 1
    assert out.lines == [
        f"chatterm: could not refresh the model list: cannot reach loop at {url}: connection "
        "refused; no server is running at that address (is it started, and is the port "
        "right?); showing no cached list"]
    assert json.loads(out.stdout) == []
