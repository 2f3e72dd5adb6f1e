"""fetch_models against a real HTTP server on 127.0.0.1: live merge, cache, offline fallback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from chatterm.catalog import ModelInfo, read_cache, write_cache
from chatterm.errors import ChattermError
from chatterm.model_list import fetch_models
from chatterm.providers import ProviderConfig, builtin_providers

REPO_ROOT = Path(__file__).resolve().parent.parent


@dataclass
class ModelsServer:
    """Answers GET /v1/models with whatever the test set; records request headers."""

    status: int = 200
    body: bytes = b"{}"
    seen_headers: list[dict[str, str]] = field(default_factory=list)
    url: str = ""


@pytest.fixture
def models_server() -> Iterator[ModelsServer]:
    state = ModelsServer()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.seen_headers.append({k.lower(): v for k, v in self.headers.items()})
            status, body = (state.status, state.body) if self.path == "/v1/models" else (
                404, b'{"error": {"message": "no such path"}}')
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


class HttpxLister:
    """Stands in for ChatClient.list_models: a real httpx GET, failures as ChattermError."""

    def __init__(self, provider: ProviderConfig, api_key: str | None) -> None:
        self.provider = provider
        self.api_key = api_key
        self.client = httpx.AsyncClient(timeout=5)

    async def list_models(self) -> Any:
        url = f"{self.provider.base_url}/models"
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        try:
            response = await self.client.get(url, headers=headers)
        except httpx.HTTPError as exc:
            raise ChattermError(f"{self.provider.name}: cannot reach {url}: "
                                f"{type(exc).__name__}") from None
        if response.status_code != 200:
            raise ChattermError(f"{self.provider.name}: HTTP {response.status_code} from {url}")
        return response.json()

    async def aclose(self) -> None:
        await self.client.aclose()


def aimlapi_at(url: str) -> ProviderConfig:
    provider = builtin_providers()["aimlapi"]
    provider.base_url = url
    return provider


LIVE = {"object": "list", "data": [
    {"id": "gpt-4o", "type": "chat-completion",
     "info": {"name": "GPT-4o", "contextLength": 128000}},
    {"id": "brand/new-chat", "type": "chat-completion", "info": {"developer": "Brand"}},
    {"id": "brand/new-image", "type": "image"},
]}


def serve(server: ModelsServer, payload: Any, status: int = 200) -> None:
    server.status = status
    server.body = json.dumps(payload).encode()


async def test_refresh_merges_and_caches(models_server: ModelsServer) -> None:
    serve(models_server, LIVE)
    provider = aimlapi_at(models_server.url)
    before = time.time()
    listing = await fetch_models(provider, "sk-test-key", refresh=True,
                                 client_factory=HttpxLister)
    assert listing.note is None
    assert listing.fetched_at is not None and listing.fetched_at >= before
    assert models_server.seen_headers[0]["authorization"] == "Bearer sk-test-key"
    by_id = {m.id: m for m in listing.models}
    assert by_id["gpt-4o"].source == "both" and by_id["gpt-4o"].context_length == 128000
    assert by_id["brand/new-chat"].source == "live" and by_id["brand/new-chat"].vendor == "Brand"
    assert "brand/new-image" not in by_id
    assert by_id["o1"].missing_live and by_id["o1"].source == "catalog"
    assert len(listing.models) == 82 + 1

    cached = read_cache("aimlapi", base_url=models_server.url)
    assert cached is not None
    assert cached[0] == listing.fetched_at
    assert {m.id for m in cached[1]} == {"gpt-4o", "brand/new-chat", "brand/new-image"}
    # The key is never written to the cache.
    cache_text = next((Path(os.environ["CHATTERM_CACHE_DIR"])).glob("*.json")).read_text()
    assert "sk-test-key" not in cache_text

    # Later, without --refresh: the same merged view comes from the cache.
    again = await fetch_models(provider, None, refresh=False, client_factory=HttpxLister)
    assert again.note is None
    assert again.fetched_at == listing.fetched_at
    assert [m.to_dict() for m in again.models] == [m.to_dict() for m in listing.models]
    assert len(models_server.seen_headers) == 1  # no request without --refresh


async def test_server_error_falls_back_to_catalog_and_cache(models_server: ModelsServer) -> None:
    provider = aimlapi_at(models_server.url)
    write_cache("aimlapi", [ModelInfo("cached/only", "Cached", "aimlapi", source="live")],
                base_url=provider.base_url, fetched_at=time.time() - 2 * 3600 - 60)
    serve(models_server, {"error": {"message": "boom"}}, status=500)
    listing = await fetch_models(provider, "k", refresh=True, client_factory=HttpxLister)
    assert listing.note is not None
    assert listing.note.startswith(
        "offline: showing the built-in catalog and the list cached 2 h ago (error: ")
    assert "HTTP 500" in listing.note
    assert "\n" not in listing.note
    ids = {m.id for m in listing.models}
    assert "cached/only" in ids and "gpt-4o" in ids
    # The failed refresh left the old cache alone.
    cached = read_cache("aimlapi")
    assert cached is not None and [m.id for m in cached[1]] == ["cached/only"]


async def test_connection_refused_without_cache() -> None:
    # A port nobody listens on: bind one, then close it.
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    provider = aimlapi_at(f"http://127.0.0.1:{port}/v1")
    listing = await fetch_models(provider, "k", refresh=True, client_factory=HttpxLister)
    assert listing.note is not None
    assert listing.note.startswith("offline: showing the built-in catalog (error: aimlapi: "
                                   "cannot reach")
    assert len(listing.models) == 82
    assert not any(m.missing_live for m in listing.models)
    assert listing.fetched_at is None


async def test_unreadable_answer_is_reported(models_server: ModelsServer) -> None:
    serve(models_server, {"unexpected": True})
    provider = ProviderConfig(name="local", base_url=models_server.url)
    listing = await fetch_models(provider, None, refresh=True, client_factory=HttpxLister)
    assert listing.models == []
    assert listing.note == ("offline: no model list to show (error: the model list is not in "
                            "a known format (no 'data' list))")
    assert "authorization" not in models_server.seen_headers[0]


async def test_answer_that_is_not_json(models_server: ModelsServer) -> None:
    models_server.body = b"<html>maintenance</html>"
    provider = aimlapi_at(models_server.url)
    listing = await fetch_models(provider, "k", refresh=True, client_factory=HttpxLister)
    assert listing.note == ("offline: showing the built-in catalog (error: the answer from "
                            f"{models_server.url}/models is not JSON)")
    assert len(listing.models) == 82


async def test_mistral_provider_refresh(models_server: ModelsServer) -> None:
    serve(models_server, {"object": "list", "data": [
        {"id": "mistral-small-latest", "owned_by": "mistralai",
         "capabilities": {"completion_chat": True}},
        {"id": "mistral-embed", "owned_by": "mistralai",
         "capabilities": {"completion_chat": False}},
    ]})
    provider = builtin_providers()["mistral"]
    provider.base_url = models_server.url
    listing = await fetch_models(provider, "k", refresh=True, client_factory=HttpxLister)
    assert [(m.id, m.vendor, m.source) for m in listing.models] == [
        ("mistral-small-latest", "Mistral-AI", "live")]


async def test_without_refresh_or_cache() -> None:
    providers = builtin_providers()
    listing = await fetch_models(providers["aimlapi"], None, refresh=False)
    assert listing.note is None and listing.fetched_at is None
    assert len(listing.models) == 82
    assert all(m.source == "catalog" and not m.missing_live for m in listing.models)

    empty = await fetch_models(providers["openai"], None, refresh=False)
    assert empty.models == []
    assert empty.note == "no model list for provider 'openai' yet; use --refresh to ask the server"


async def test_real_chat_client(models_server: ModelsServer) -> None:
    """The default path: chatterm.api.client.ChatClient."""
    serve(models_server, LIVE)
    listing = await fetch_models(aimlapi_at(models_server.url), "sk-real", refresh=True)
    assert listing.note is None
    assert models_server.seen_headers[0]["authorization"] == "Bearer sk-real"
    assert {m.id for m in listing.models if m.source == "live"} == {"brand/new-chat"}


async def test_real_client_with_loopback(loopback: Any) -> None:
    from loopback import json_reply

    loopback.script("/v1/models", [
        json_reply(LIVE),
        json_reply({"error": {"message": "Invalid API key provided", "type": "auth"}}, 401),
        json_reply({"object": "list", "data": [{"id": "x"}]}, 200),
    ])
    provider = aimlapi_at(loopback.url)
    fresh = await fetch_models(provider, "sk-loop-secret", refresh=True)
    assert fresh.note is None
    assert loopback.requests[0].headers["authorization"] == "Bearer sk-loop-secret"

    # A 401 is not retried; the cached list and the server's own words are shown.
    failed = await fetch_models(provider, "sk-loop-secret", refresh=True)
    assert len(loopback.requests) == 2
    assert failed.note is not None
    assert failed.note.startswith(
        "offline: showing the built-in catalog and the list cached just now (error: ")
    assert "Invalid API key provided" in failed.note
    assert "sk-loop-secret" not in failed.note
    assert {m.id for m in failed.models if m.source == "live"} == {"brand/new-chat"}


async def test_real_client_connection_refused() -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    provider = aimlapi_at(f"http://127.0.0.1:{port}/v1")
    provider.max_retries = 0
    listing = await fetch_models(provider, "k", refresh=True)
    assert listing.note is not None
    assert listing.note.startswith("offline: showing the built-in catalog (error: ")
    assert f"127.0.0.1:{port}" in listing.note
    assert len(listing.models) == 82


def test_listing_from_catalog_never_imports_httpx(tmp_path: Path) -> None:
    code = (
        "import asyncio, sys\n"
        "from chatterm.model_list import fetch_models\n"
        "from chatterm.providers import builtin_providers\n"
        "listing = asyncio.run(fetch_models(builtin_providers()['aimlapi'], None,"
        " refresh=False))\n"
        "assert len(listing.models) == 82\n"
        "bad = [m for m in ('httpx', 'textual') if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT), CHATTERM_CACHE_DIR=str(tmp_path / "c"))
    subprocess.run([sys.executable, "-c", code], env=env, check=True, cwd=tmp_path)
    assert not (tmp_path / "c").exists()
