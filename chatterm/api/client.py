"""The async HTTP client: one chat request, streamed or not, with retries and clear errors.

httpx is imported on the first request, not when this module is imported, so code that
only builds a ChatClient (or never sends anything) does not pay for it.

Retries follow chatterm.api.retry (what is retried, backoff, Retry-After); a `Retrying`
event is yielded before each wait. Connection failures are put into words by
chatterm.api.connect_errors, replies read by chatterm.api.reading.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncGenerator, AsyncIterator
from typing import TYPE_CHECKING, Any

from chatterm import __version__
from chatterm.api import connect_errors, reading, retry, safe_json, tool_ids
from chatterm.api.body import (
    ACCEPT_ENCODING,
    ERROR_LIMIT,
    MODELS_LIMIT,
    BodyError,
    BodyTooLarge,
    read_body,
    size_text,
)
from chatterm.api.payload import build_payload
from chatterm.api.server_errors import clean, error_from_response, html_summary
from chatterm.api.types import (
    ApiError,
    ChatRequest,
    ClientEvent,
    Retrying,
    Started,
)
from chatterm.providers import ProviderConfig, header_name_problem
from chatterm.redact import remember

if TYPE_CHECKING:
    import httpx

MAX_REDIRECTS = 5
ERROR_BODY_LIMIT = ERROR_LIMIT  # an error page is summarised, never read in full

_REDIRECTS = {301, 302, 303, 307, 308}


def preload() -> None:
    """Import what the first request needs, so an app can pay for it while it is idle."""
    import anyio._backends._asyncio  # noqa: F401  (httpx picks its backend lazily)
    import h11  # noqa: F401
    import httpcore._async.http11  # noqa: F401
    import httpx  # noqa: F401


def _origin(url: httpx.URL) -> tuple[str, str, int | None]:
    default = {"http": 80, "https": 443}.get(url.scheme)
    return (url.scheme, url.host, url.port or default)


def _sendable_in_header(value: str) -> bool:
    """Printable ASCII (and tabs) only: what every HTTP stack accepts in a header value."""
    return all(ch == "\t" or " " <= ch <= "~" for ch in value)


class ChatClient:
    """One provider, one key. Use as an async context manager or call aclose()."""

    def __init__(
        self,
        provider: ProviderConfig,
        api_key: str | None = None,
        *,
        transport: Any = None,
        backoff_base: float | None = None,
        retry_after_cap: float = retry.RETRY_AFTER_CAP,
        rng: random.Random | None = None,
        read_interval: float = 0.0,
    ) -> None:
        self.provider = provider
        # Seconds between socket reads of a streaming reply (see chatterm.api.paced).
        self.read_interval = max(0.0, read_interval)
        self._api_key = api_key or None
        # Every diagnostic this process shows or saves from now on hides them.
        remember(*self._secrets())
        self._transport = transport
        self.backoff_base = retry.backoff_base(backoff_base)
        self.retry_after_cap = retry_after_cap
        self._rng = rng or random.Random()
        self._http: httpx.AsyncClient | None = None

    # ---- lifecycle ------------------------------------------------------------------

    async def __aenter__(self) -> ChatClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._http is not None:
            http, self._http = self._http, None
            await http.aclose()

    def _client(self) -> httpx.AsyncClient:
        if self._http is None:
            import httpx

            p = self.provider
            self._http = httpx.AsyncClient(
                # read = the longest silence between two bytes, not a total deadline.
                timeout=httpx.Timeout(connect=p.connect_timeout, read=p.read_timeout,
                                      write=p.read_timeout, pool=p.connect_timeout),
                # Redirects are followed by hand so the key never leaves its origin.
                follow_redirects=False,
                # A plain-http provider never opens TLS (redirects stay on its origin),
                # so skip loading the CA bundle, which costs ~60 ms per client.
                verify=not p.base_url.lower().startswith("http://"),
                transport=self._transport,
            )
            if self.read_interval and self._transport is None:
                from chatterm.api import paced

                paced.install(self._http)
        return self._http

    # ---- helpers --------------------------------------------------------------------

    def _url(self, path: str) -> str:
        return self.provider.base_url.rstrip("/") + "/" + path

    @property
    def shown_url(self) -> str:
        return self.provider.shown_url

    def _headers(self, accept: str) -> dict[str, str]:
        headers = {"Accept": accept, "Accept-Encoding": ACCEPT_ENCODING,
                   "User-Agent": f"chatterm/{__version__}"}
        if self._api_key:
            if not _sendable_in_header(self._api_key):
                # httpx/h11 would fail with the value quoted in the message; say it here.
                raise self._error(
                    f"the API key for {self.provider.name} holds a character that cannot "
                    "be sent in an HTTP header (a stray space, accent or line break?)"
                )
            headers["Authorization"] = f"Bearer {self._api_key}"
        for name, value in self.provider.headers.items():
            problem = header_name_problem(name)
            if problem:
                raise self._error(f"header of {self.provider.name}: {problem}")
            if not _sendable_in_header(value):
                raise self._error(
                    f"header {name!r} of {self.provider.name} holds a character that cannot "
                    "be sent in an HTTP header"
                )
            headers[name] = value
        return headers

    def _secrets(self) -> list[str]:
        return [s for s in (self._api_key, *self.provider.secret_values) if s]

    def _error(self, message: str, **kwargs: Any) -> ApiError:
        kwargs.setdefault("provider", self.provider.name)
        kwargs.setdefault("url", self.shown_url)
        return ApiError(clean(message, self._secrets()), **kwargs)

    def _transport_error(self, exc: Exception) -> ApiError:
        """An error raised before any answer arrived, naming the provider and its URL."""
        message, retryable = connect_errors.describe(exc, self.provider, self.shown_url)
        return self._error(message, retryable=retryable)

    # ---- sending, redirects, retries -------------------------------------------------


    async def _send(self, method: str, url: str, body: Any, accept: str) -> httpx.Response:
        """Send, following same-origin redirects only."""
        import httpx

        client = self._client()
        try:
            target = httpx.URL(url)
        except httpx.InvalidURL as exc:
            raise self._error(f"{self.provider.name}: invalid base_url ({exc})") from None
        start = _origin(target)
        content = await _off_loop_json(body)
        for _ in range(MAX_REDIRECTS + 1):
            if content is None:
                request = client.build_request(method, target, json=body,
                                               headers=self._headers(accept))
            else:
                # In pieces: asyncio's transport (before 3.12) shifts its whole write
                # buffer after each partial send, ~50 ms per 13 MB on the event loop.
                request = client.build_request(
                    method, target, content=_pieces(content),
                    headers={**self._headers(accept), "Content-Type": "application/json",
                             "Content-Length": str(len(content))})
            response = await client.send(request, stream=True)
            location = response.headers.get("location")
            if response.status_code not in _REDIRECTS or not location:
                return response
            await response.aclose()
            new = target.join(location)
            if _origin(new) != start:
                raise self._error(
                    f"{self.provider.name} redirected to another origin "
                    f"({new.scheme}://{new.host}{f':{new.port}' if new.port else ''}); not "
                    f"following it so the API key stays with {start[0]}://{start[1]} - "
                    "check base_url",
                    status=response.status_code,
                )
            if response.status_code == 303 and method != "GET":
                # 303 means "GET something else": the chat request would be lost.
                raise self._error(
                    f"{self.provider.name} answered {method} {target.path} with "
                    f"303 See Other ({new.path}); check base_url",
                    status=303,
                )
            target = new
        raise self._error(f"{self.provider.name}: too many redirects from {url}")

    async def _attempts(
        self, method: str, url: str, body: Any, accept: str
    ) -> AsyncGenerator[Retrying | httpx.Response, None]:
        """Yields a Retrying per retry, then the 2xx response (open; caller closes it)."""
        import httpx

        max_retries = max(0, self.provider.max_retries)
        attempt = 0
        while True:
            retry_after: float | None = None
            try:
                response = await self._send(method, url, body, accept)
            except ApiError:
                raise
            except httpx.TransportError as exc:
                error = self._transport_error(exc)
            else:
                if response.status_code < 300:
                    yield response
                    return
                try:
                    raw, unreadable = await self._read_limited(response)
                finally:
                    await response.aclose()
                error = error_from_response(
                    response.status_code, raw, response.headers.get("content-type"),
                    self.provider.name, url, secrets=self._secrets(),
                )
                if unreadable and not raw:
                    error.message = clean(f"{error.message} ({unreadable})", self._secrets())
                retry_after = retry.parse_retry_after(response.headers.get("retry-after"))
            if not error.retryable or attempt >= max_retries:
                if attempt:
                    error = self._error(
                        retry.gave_up(error.message, attempt),
                        status=error.status, code=error.code, url=error.url,
                        unknown_model=error.unknown_model,
                    )
                raise error
            attempt += 1
            delay = retry.retry_delay(attempt, retry_after, base=self.backoff_base,
                                      cap=self.retry_after_cap, rng=self._rng)
            yield Retrying(attempt=attempt, max_retries=max_retries, delay=delay,
                           reason=error.message)
            await asyncio.sleep(delay)

    async def _read_limited(self, response: httpx.Response) -> tuple[bytes, str | None]:
        """(the first ERROR_LIMIT decoded bytes, why the body could not be decoded)."""
        import httpx

        try:
            return bytes(await read_body(response, ERROR_LIMIT)), None
        except BodyTooLarge as exc:
            return bytes(exc.data), None  # the start of an error page says what it is about
        except BodyError as exc:
            # The status still says what happened (and whether to retry); the body is moot.
            return bytes(exc.data), f"its body could not be read: {exc.message}"
        except httpx.TransportError:
            return b"", None  # the status says enough

    async def _open(
        self, method: str, url: str, body: Any, accept: str
    ) -> AsyncGenerator[Retrying | httpx.Response, None]:
        async with contextlib.aclosing(self._attempts(method, url, body, accept)) as attempts:
            async for item in attempts:
                yield item

    # ---- public API -----------------------------------------------------------------

    async def stream(self, request: ChatRequest) -> AsyncGenerator[ClientEvent, None]:
        """Started, then Delta events, then Finished; Retrying events may come first.

        Raises ApiError on failure; `.partial` holds whatever streamed before it.
        A stream that ends cleanly but without finish_reason or [DONE] is not an
        error: Finished carries a reply whose state is interrupted. A consumer that
        stops early should close the generator (contextlib.aclosing) or cancel its
        task, which closes the connection.
        """
        payload = build_payload(self.provider, request)  # may refuse before any request
        if self.provider.kind == "mistral":
            # Mistral refuses tool-call ids that are not 9 letters or digits; the ids
            # are mapped for the request only, the store keeps the originals.
            payload["messages"] = tool_ids.for_mistral(payload["messages"])
        url = self._url("chat/completions")
        accept = "text/event-stream" if request.stream else "application/json"
        response: httpx.Response | None = None
        async for item in self._open("POST", url, payload, accept):
            if isinstance(item, Retrying):
                yield item
            else:
                response = item
        assert response is not None
        try:
            content_type = response.headers.get("content-type", "").lower()
            if "html" in content_type:
                await self._refuse_html(response)
            yield Started()
            if "event-stream" in content_type or (request.stream and "json" not in content_type):
                events = reading.read_stream(response, request.prefix, self.provider,
                                             self._error, self.read_interval)
            else:
                events = reading.read_whole(response, request.prefix, self.provider,
                                            self._error)
            async for event in events:
                yield event
        finally:
            await response.aclose()

    async def _refuse_html(self, response: httpx.Response) -> None:
        """A 200 web page (a login portal, a proxy, a wrong base_url) is not a reply."""
        raw, _ = await self._read_limited(response)
        page = html_summary(raw.decode("utf-8", "replace"), "an HTML page")
        raise self._error(
            f"{self.provider.name} answered HTTP {response.status_code} with {page} instead "
            "of a chat reply; check base_url",
            status=response.status_code,
        )

    async def list_models(self) -> Any:
        """Parsed JSON of GET {base_url}/models; ApiError when that fails."""
        import httpx

        p = self.provider
        url = self._url("models")
        response: httpx.Response | None = None
        async for item in self._open("GET", url, None, "application/json"):
            if not isinstance(item, Retrying):
                response = item
        assert response is not None
        try:
            raw = await read_body(response, MODELS_LIMIT)
        except BodyTooLarge as exc:
            raise self._error(f"{p.name}: the model list from {url} is larger than "
                              f"{size_text(exc.limit)}, chatterm's cap for it") from None
        except BodyError as exc:
            raise self._error(f"{p.name}: GET {url}: {exc.message}") from None
        except httpx.ReadTimeout:
            raise self._error(f"{p.name}: nothing arrived for {p.read_timeout:g} s from "
                              f"{url}") from None
        except httpx.TransportError as exc:
            raise self._error(f"{p.name}: the connection dropped while listing models "
                              f"({type(exc).__name__}: {exc})") from None
        finally:
            await response.aclose()
        try:
            return safe_json.loads(raw)
        except ValueError as exc:
            reason = f" ({exc})" if isinstance(exc, safe_json.JSONTooDeep) else ""
            raise self._error(f"{p.name}: GET {url} did not answer with JSON{reason}",
                              status=response.status_code) from None


async def _off_loop_json(body: Any) -> bytes | None:
    """A body carrying images (content parts: megabytes of base64) encoded on a thread,
    as httpx's `json=` would encode it, so the event loop never spends tens of
    milliseconds on it; None for every other body (httpx encodes those as before)."""
    messages = body.get("messages") if isinstance(body, dict) else None
    if not isinstance(messages, list) or not any(
            isinstance(m, dict) and isinstance(m.get("content"), list) for m in messages):
        return None
    import asyncio

    from chatterm.api.big_json import encode_with_data_urls

    return await asyncio.to_thread(encode_with_data_urls, body)


async def _pieces(data: bytes, size: int = 256 * 1024) -> AsyncIterator[bytes]:
    """`data` in pieces of `size` bytes: each written (and drained) in turn."""
    for start in range(0, len(data), size):
        yield data[start:start + size]
