"""A body with images is encoded off the loop, data URLs spliced in: the very bytes httpx's
`json=` would send, and sent with a Content-Length in pieces."""

from __future__ import annotations

import base64
import json
import os

import pytest
from loopback import LoopbackServer, sse_reply

from chatterm.api.big_json import encode_with_data_urls

URL = "data:image/png;base64," + base64.b64encode(os.urandom(300_000)).decode()


def _httpx_bytes(body: object) -> bytes:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"),
                      allow_nan=False).encode("utf-8")


@pytest.mark.parametrize("url", [
    URL, "data:image/png;base64,AAAA",            # long, and too short to swap
    URL[:-10] + '"' + URL[-9:],                   # a quote: must be escaped, not spliced
    URL[:-10] + "\x01" + URL[-9:], URL[:-10] + "é" + URL[-9:],
    "https://example.com/" + "a" * 70_000,        # not a data URL
])
def test_the_bytes_are_what_httpx_would_send(url: str) -> None:
    body = {"model": "m", "stream": True, "messages": [
        {"role": "system", "content": "é \"quoted\" \u2028"},
        {"role": "user", "content": [{"type": "text", "text": "look\n"},
                                     {"type": "image_url", "image_url": {"url": url}},
                                     {"type": "image_url", "image_url": {"url": URL}}]}]}
    before = json.dumps(body)
    assert encode_with_data_urls(body) == _httpx_bytes(body)
    assert json.dumps(body) == before  # the caller's dicts are left as they were


async def test_the_request_carries_a_content_length_and_the_whole_body(
        loopback: LoopbackServer, isolated_env) -> None:
    from chatterm.api.client import ChatClient
    from chatterm.api.types import ChatRequest
    from chatterm.conversation import Params
    from chatterm.providers import ProviderConfig

    loopback.script("chat/completions", sse_reply(["ok"]))
    messages = [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": URL}}]}]
    client = ChatClient(ProviderConfig(name="t", base_url=loopback.url), "k")
    try:
        async for _event in client.stream(ChatRequest(model="m", messages=messages,
                                                      params=Params(), stream=True)):
            pass
    finally:
        await client.aclose()
    request = loopback.requests[0]
    assert request.headers["content-length"] == str(len(request.body))
    assert "transfer-encoding" not in request.headers
    assert request.json["messages"] == messages
