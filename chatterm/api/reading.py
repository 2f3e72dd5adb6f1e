"""Reading a chat reply off an open 2xx response: streamed (SSE) or sent at once (JSON).

Both yield the same events (Delta, then Finished) and raise ApiError carrying whatever
was read before a failure (`partial`), so the engine keeps it.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

from chatterm.api import safe_json
from chatterm.api.assemble import StreamAssembler, assemble_response
from chatterm.api.body import (
    JSON_LIMIT,
    STREAM_LIMIT,
    BodyError,
    BodyTooLarge,
    iter_body,
    read_body,
    size_text,
)
from chatterm.api.sse import SSEDecoder
from chatterm.api.types import ApiError, AssembledReply, ClientEvent, Delta, Finished

if TYPE_CHECKING:
    import httpx

    from chatterm.providers import ProviderConfig

# The client's error maker: a message (and ApiError fields) to an ApiError that names
# the provider and hides its secrets.
ErrorFactory = Callable[..., ApiError]


def _joined(deltas: list[Delta]) -> Delta:
    """One Delta for the events of one read, joined once (not `+=` per event)."""
    if len(deltas) == 1:
        return deltas[0]
    return Delta(content="".join(d.content for d in deltas),
                 reasoning="".join(d.reasoning for d in deltas),
                 refusal="".join(d.refusal for d in deltas),
                 tool_arguments=[part for d in deltas for part in d.tool_arguments],
                 chunks=sum(d.chunks for d in deltas))


def _has_text(delta: Delta) -> bool:
    return bool(delta.content or delta.reasoning or delta.refusal or delta.tool_arguments)


async def read_stream(
    response: httpx.Response, prefix: str | None, p: ProviderConfig, error: ErrorFactory,
    read_interval: float = 0.0,
) -> AsyncIterator[ClientEvent]:
    """Delta events as an SSE reply arrives, then Finished; ApiError (with `.partial`)
    when it breaks off. From the first text on, reads are paced by `read_interval`."""
    import httpx

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
                if read_interval and not paced:
                    # From the first text on, reads can wait: see chatterm.api.paced.
                    pacing.enter_context(paced_reads(read_interval))
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
        raise error(
            f"{p.name}: the reply passed {size_text(exc.limit)} of data, chatterm's cap "
            "for one streamed reply; stopped reading it",
            partial=reply, url=str(response.url),
        ) from None
    except BodyError as exc:
        raise error(f"{p.name}: {exc.message}", partial=reply,
                          url=str(response.url)) from None
    except ApiError as exc:
        raise error(f"{p.name}: {exc.message}", status=exc.status, code=exc.code,
                          partial=exc.partial, url=str(response.url)) from None
    except httpx.ReadTimeout:
        raise error(
            f"{p.name}: nothing arrived for {p.read_timeout:g} s; the reply is incomplete",
            partial=reply, url=str(response.url),
        ) from None
    except httpx.TransportError as exc:
        raise error(
            f"{p.name}: the connection dropped mid-reply ({type(exc).__name__}: {exc})",
            partial=reply, url=str(response.url),
        ) from None
    finally:
        pacing.close()
        await body.aclose()
    yield Finished(reply)

async def read_whole(
    response: httpx.Response, prefix: str | None, p: ProviderConfig, error: ErrorFactory,
) -> AsyncIterator[ClientEvent]:
    """One Delta and Finished for a reply sent at once (JSON, not a stream)."""
    import httpx

    try:
        raw = await read_body(response, JSON_LIMIT)
    except BodyTooLarge as exc:
        raise _too_large(exc, prefix, p, error) from None
    except BodyError as exc:
        raise error(f"{p.name}: {exc.message}", partial=AssembledReply()) from None
    except httpx.ReadTimeout:
        raise error(f"{p.name}: nothing arrived for {p.read_timeout:g} s; "
                          "no reply", partial=AssembledReply()) from None
    except httpx.TransportError as exc:
        raise error(f"{p.name}: the connection dropped before the reply was "
                          f"complete ({type(exc).__name__}: {exc})",
                          partial=AssembledReply()) from None
    try:
        data = safe_json.loads(raw)
    except ValueError as exc:
        reason = str(exc) if isinstance(exc, safe_json.JSONTooDeep) else "not JSON"
        raise error(
            f"{p.name}: the answer is {reason}: {raw[:200].decode('utf-8', 'replace')}"
        ) from None
    try:
        reply = assemble_response(data, prefix)
    except ApiError as exc:
        raise error(f"{p.name}: {exc.message}", status=exc.status, code=exc.code,
                          partial=exc.partial) from None
    added = reply.content[len(prefix or ""):] if prefix else reply.content
    delta = Delta(content=added, reasoning=reply.reasoning, refusal=reply.refusal)
    if _has_text(delta):
        yield delta
    yield Finished(reply)

def _too_large(exc: BodyTooLarge, prefix: str | None, p: ProviderConfig,
               error: ErrorFactory) -> ApiError:
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
    return error(
        f"{p.name}: the answer is larger than {size_text(exc.limit)}, "
        f"chatterm's cap for one reply; {what}", partial=reply,
    )
