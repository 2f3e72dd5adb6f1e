"""The async HTTP client: one chat request, streamed or not, with retries and clear errors.

httpx is imported on the first request, not when this module is imported, so code that
only builds a ChatClient (or never sends anything) does not pay for it.

Retry policy: 429 (honouring Retry-After, capped), 5xx and connection failures are
retried before the first byte of a reply, with exponential backoff and jitter, up to
`provider.max_retries`; a `Retrying` event is yielded before each wait. Nothing is
retried once a 200 has arrived, and 4xx answers are never retried.

The backoff base delay is `ChatClient(..., backoff_base=...)`, else the environment
variable CHATTERM_BACKOFF_BASE (seconds; meant for tests that run the CLI), else
BACKOFF_BASE.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import os
import random
import socket
import ssl
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from chatterm import __version__
from chatterm.api import safe_json
from chatterm.api.assemble import StreamAssembler, assemble_response
from chatterm.api.body import (
    ACCEPT_ENCODING,
    ERROR_LIMIT,
    JSON_LIMIT,
    MODELS_LIMIT,
    STREAM_LIMIT,
    BodyError,
    BodyTooLarge,
    iter_body,
    read_body,
    size_text,
)
from chatterm.api.payload import build_payload
from chatterm.api.server_errors import clean, error_from_response, html_summary
from chatterm.api.sse import SSEDecoder
from chatterm.api.types import (
    ApiError,
    AssembledReply,
    ChatRequest,
    ClientEvent,
    Delta,
    Finished,
    Retrying,
    Started,
)
from chatterm.providers import ProviderConfig, header_name_problem
from chatterm.redact import remember

if TYPE_CHECKING:
    import httpx

BACKOFF_BASE = 1.0  # seconds before the first retry; doubles each time
BACKOFF_MAX = 30.0
RETRY_AFTER_CAP = 60.0  # a server asking for longer is not waited for longer
MAX_REDIRECTS = 5
ERROR_BODY_LIMIT = ERROR_LIMIT  # an error page is summarised, never read in full

_REDIRECTS = {301, 302, 303, 307, 308}
_DNS_WORDS = ("name or service not known", "nodename nor servname", "name resolution",
              "getaddrinfo failed", "no address associated", "host not found")


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return max(0.0, seconds) if seconds == seconds else None  # NaN guard
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def preload() -> None:
    """Import what the first request needs, so an app can pay for it while it is idle."""
    import anyio._backends._asyncio  # noqa: F401  (httpx picks its backend lazily)
    import h11  # noqa: F401
    import httpcore._async.http11  # noqa: F401
    import httpx  # noqa: F401


def _origin(url: httpx.URL) -> tuple[str, str, int | None]:
    default = {"http": 80, "https": 443}.get(url.scheme)
    return (url.scheme, url.host, url.port or default)


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def _joined(deltas: list[Delta]) -> Delta:
    """One Delta for the events of one read, joined once (not `+=` per event)."""
    if len(deltas) == 1:
        return deltas[0]
    return Delta(content="".join(d.content for d in deltas),
                 reasoning="".join(d.reasoning for d in deltas),
                 refusal="".join(d.refusal for d in deltas),
                 chunks=sum(d.chunks for d in deltas))


def _has_text(delta: Delta) -> bool:
    return bool(delta.content or delta.reasoning or delta.refusal)


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
        retry_after_cap: float = RETRY_AFTER_CAP,
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
        if backoff_base is None:
            env = os.environ.get("CHATTERM_BACKOFF_BASE")
            try:
                backoff_base = float(env) if env else BACKOFF_BASE
            except ValueError:
                backoff_base = BACKOFF_BASE
        self.backoff_base = max(0.0, backoff_base)
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

    def _backoff(self, attempt: int) -> float:
        delay = min(BACKOFF_MAX, self.backoff_base * 2 ** (attempt - 1))
        return delay * (0.5 + self._rng.random())  # jitter: 0.5x to 1.5x

    def _transport_error(self, exc: Exception) -> ApiError:
        """An error raised before any answer arrived, naming the provider and its URL."""
        import httpx

        p = self.provider
        where = f"cannot reach {p.name} at {self.shown_url}"
        chain = _chain(exc)
        text = " ".join(str(e) for e in chain).lower()
        retryable = True
        if isinstance(exc, httpx.ConnectTimeout):
            reason = f"connection timed out after {p.connect_timeout:g} s"
        elif isinstance(exc, httpx.PoolTimeout):
            reason = f"no connection available after {p.connect_timeout:g} s"
        elif isinstance(exc, httpx.ReadTimeout):
            where = f"{p.name} at {self.shown_url} did not answer"
            reason = f"nothing arrived for {p.read_timeout:g} s"
            retryable = False  # the request may be running; do not pay for it twice
        elif any(isinstance(e, socket.gaierror) for e in chain) or any(
            w in text for w in _DNS_WORDS
        ):
            reason = "the host name could not be resolved"
            retryable = False
        elif any(isinstance(e, ConnectionRefusedError) for e in chain) or "refused" in text:
            # Nothing listens there: waiting a second or two will not start the server.
            reason = ("connection refused; no server is running at that address "
                      "(is it started, and is the port right?)")
            retryable = False
        elif any(isinstance(e, ssl.SSLError) for e in chain):
            reason = f"TLS failed ({exc})"
            retryable = False
        elif isinstance(exc, httpx.UnsupportedProtocol):
            reason = "base_url must start with http:// or https://"
            retryable = False
        elif isinstance(exc, httpx.LocalProtocolError):
            where = f"chatterm could not send the request to {p.name} at {self.shown_url}"
            reason = str(exc) or type(exc).__name__
            retryable = False
        elif isinstance(exc, httpx.RemoteProtocolError) and "without sending" not in text:
            # An answer came but is not HTTP as h11 accepts it: sending again will not fix it.
            where = f"{p.name} at {self.shown_url} sent an answer that is not valid HTTP"
            if "buffer too long" in text:
                reason = "its status line and headers are larger than 100 KiB"
            else:
                reason = str(exc)
            retryable = False
        elif isinstance(exc, httpx.RemoteProtocolError):
            reason = "the server closed the connection before an answer"
        elif isinstance(exc, httpx.ConnectError):
            reason = f"connection failed ({exc})"
        else:
            reason = f"the connection failed before an answer ({type(exc).__name__}: {exc})"
        return self._error(f"{where}: {reason}", retryable=retryable)

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
        for _ in range(MAX_REDIRECTS + 1):
            request = client.build_request(method, target, json=body, headers=self._headers(accept))
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
    ) -> AsyncIterator[Retrying | httpx.Response]:
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
                retry_after = parse_retry_after(response.headers.get("retry-after"))
            if not error.retryable or attempt >= max_retries:
                if attempt:
                    error = self._error(
                        f"{error.message} (gave up after {attempt} "
                        f"{'retry' if attempt == 1 else 'retries'})",
                        status=error.status, code=error.code, url=error.url,
                        unknown_model=error.unknown_model,
                    )
                raise error
            attempt += 1
            if retry_after is not None:
                delay = min(retry_after, self.retry_after_cap)
            else:
                delay = self._backoff(attempt)
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
    ) -> AsyncIterator[Retrying | httpx.Response]:
        async with contextlib.aclosing(self._attempts(method, url, body, accept)) as attempts:
            async for item in attempts:
                yield item

    # ---- public API -----------------------------------------------------------------

    async def stream(self, request: ChatRequest) -> AsyncIterator[ClientEvent]:
        """Started, then Delta events, then Finished; Retrying events may come first.

        Raises ApiError on failure; `.partial` holds whatever streamed before it.
        A stream that ends cleanly but without finish_reason or [DONE] is not an
        error: Finished carries a reply whose state is interrupted. A consumer that
        stops early should close the generator (contextlib.aclosing) or cancel its
        task, which closes the connection.
        """
        payload = build_payload(self.provider, request)  # may refuse before any request
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
                async for event in self._read_stream(response, request.prefix):
                    yield event
            else:
                async for event in self._read_whole(response, request.prefix):
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

    async def _read_stream(
        self, response: httpx.Response, prefix: str | None
    ) -> AsyncIterator[ClientEvent]:
        import httpx

        p = self.provider
        decoder = SSEDecoder()
        assembler = StreamAssembler(prefix)
        reply = assembler.reply
        warned = 0

        def feed(events: list[Any]) -> Delta:
            nonlocal warned
            out: list[Delta] = []
            for event in events:
                if assembler.done:
                    break  # nothing after [DONE] counts
                out.append(assembler.feed_event(event))
            reply.warnings.extend(decoder.warnings[warned:])
            warned = len(decoder.warnings)
            return _joined(out) if out else Delta()

        from chatterm.api.paced import paced_reads

        pacing = contextlib.ExitStack()
        paced = False
        body = iter_body(response, STREAM_LIMIT)
        try:
            async for data in body:
                delta = feed(decoder.feed(data))
                if _has_text(delta):
                    yield delta
                    if self.read_interval and not paced:
                        # From the first text on, reads can wait: see chatterm.api.paced.
                        pacing.enter_context(paced_reads(self.read_interval))
                        paced = True
                if assembler.done:
                    break
            else:
                delta = feed(decoder.close())
                if _has_text(delta):
                    yield delta
            delta = assembler.finish()  # half a surrogate pair left over: U+FFFD
            if _has_text(delta):
                yield delta
        except BodyTooLarge as exc:
            raise self._error(
                f"{p.name}: the reply passed {size_text(exc.limit)} of data, chatterm's cap "
                "for one streamed reply; stopped reading it",
                partial=reply, url=str(response.url),
            ) from None
        except BodyError as exc:
            raise self._error(f"{p.name}: {exc.message}", partial=reply,
                              url=str(response.url)) from None
        except ApiError as exc:
            raise self._error(f"{p.name}: {exc.message}", status=exc.status, code=exc.code,
                              partial=exc.partial, url=str(response.url)) from None
        except httpx.ReadTimeout:
            raise self._error(
                f"{p.name}: nothing arrived for {p.read_timeout:g} s; the reply is incomplete",
                partial=reply, url=str(response.url),
            ) from None
        except httpx.TransportError as exc:
            raise self._error(
                f"{p.name}: the connection dropped mid-reply ({type(exc).__name__}: {exc})",
                partial=reply, url=str(response.url),
            ) from None
        finally:
            pacing.close()
            await body.aclose()
        yield Finished(reply)

    async def _read_whole(
        self, response: httpx.Response, prefix: str | None
    ) -> AsyncIterator[ClientEvent]:
        import httpx

        p = self.provider
        try:
            raw = await read_body(response, JSON_LIMIT)
        except BodyTooLarge as exc:
            raise self._too_large(exc, prefix) from None
        except BodyError as exc:
            raise self._error(f"{p.name}: {exc.message}", partial=AssembledReply()) from None
        except httpx.ReadTimeout:
            raise self._error(f"{p.name}: nothing arrived for {p.read_timeout:g} s; "
                              "no reply", partial=AssembledReply()) from None
        except httpx.TransportError as exc:
            raise self._error(f"{p.name}: the connection dropped before the reply was "
                              f"complete ({type(exc).__name__}: {exc})",
                              partial=AssembledReply()) from None
        try:
            data = safe_json.loads(raw)
        except ValueError as exc:
            reason = str(exc) if isinstance(exc, safe_json.JSONTooDeep) else "not JSON"
            raise self._error(
                f"{p.name}: the answer is {reason}: {raw[:200].decode('utf-8', 'replace')}"
            ) from None
        try:
            reply = assemble_response(data, prefix)
        except ApiError as exc:
            raise self._error(f"{p.name}: {exc.message}", status=exc.status, code=exc.code,
                              partial=exc.partial) from None
        added = reply.content[len(prefix or ""):] if prefix else reply.content
        delta = Delta(content=added, reasoning=reply.reasoning, refusal=reply.refusal)
        if _has_text(delta):
            yield delta
        yield Finished(reply)

    def _too_large(self, exc: BodyTooLarge, prefix: str | None) -> ApiError:
        """A non-streamed answer over the cap: keep the part of the reply that fits."""
        import codecs

        # Not final: a character cut in half at the cap is dropped, not turned into U+FFFD.
        text = codecs.getincrementaldecoder("utf-8")("replace").decode(exc.data)
        if isinstance(exc.data, bytearray):
            exc.data.clear()  # the frames of the traceback still hold it; free it anyway
        data = safe_json.loads_truncated(text)
        del text
        reply = AssembledReply(content=prefix or "")
        if isinstance(data, dict):
            with contextlib.suppress(ApiError):
                reply = assemble_response(data, prefix)
        kept = len(reply.content) - len(prefix or "")
        what = (f"kept the first {kept:,} characters of the reply" if kept
                else "nothing of the reply could be kept")
        return self._error(
            f"{self.provider.name}: the answer is larger than {size_text(exc.limit)}, "
            f"chatterm's cap for one reply; {what}", partial=reply,
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
