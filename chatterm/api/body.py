"""Reading a response body with bounded memory: our own decoding, and a cap on its size.

httpx decodes `Content-Encoding` one network read at a time, and a read of a few hundred
bytes of `gzip, gzip, gzip` is a gigabyte once decoded, in one call that Ctrl+C cannot
interrupt. So the client reads the raw bytes (`aiter_raw`) and decodes them here, in
pieces of at most PIECE bytes, stopping at the cap of the kind of body being read:

- a streamed reply: STREAM_LIMIT of decoded event-stream bytes,
- a non-streamed reply: JSON_LIMIT,
- the model list: MODELS_LIMIT,
- an error body: ERROR_LIMIT (it only feeds a one-line message).

A body over its cap raises BodyTooLarge, after every piece that fits was handed out, so
a reply keeps its text so far. A body labelled with an encoding it is not in (or one we
never asked for) raises BodyDecodeError. The event loop gets a turn every YIELD_EVERY
decoded bytes, so a body that decodes fast from a tiny input still lets Ctrl+C and Esc in.
"""

from __future__ import annotations

import asyncio
import contextlib
import zlib
from collections.abc import AsyncGenerator, Generator, Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import httpx

MiB = 1024 * 1024
STREAM_LIMIT = 128 * MiB
JSON_LIMIT = 32 * MiB  # parsing holds ~3 copies: 32 MiB costs ~100 MB at the peak
MODELS_LIMIT = 8 * MiB
ERROR_LIMIT = 256 * 1024
PIECE = 256 * 1024
YIELD_EVERY = 4 * MiB
MAX_LAYERS = 4  # `gzip, gzip, gzip` is legal; more than this is an attack, not a server

ACCEPT_ENCODING = "gzip, deflate"  # what we can decode with bounded memory

_GZIP_MAGIC = b"\x1f\x8b"


def size_text(size: int) -> str:
    if size >= MiB and size % MiB == 0:
        return f"{size // MiB} MiB"
    return f"{size // 1024} KiB"


class BodyError(Exception):
    """A body that could not be read whole; `data` holds the decoded bytes that fit."""

    def __init__(self, message: str, data: bytes | bytearray = b"") -> None:
        super().__init__(message)
        self.message = message
        self.data = data


class BodyTooLarge(BodyError):
    def __init__(self, limit: int, data: bytes | bytearray = b"") -> None:
        super().__init__(f"the answer is larger than {size_text(limit)}", data)
        self.limit = limit


class BodyDecodeError(BodyError):
    pass


class _Inflate:
    """One gzip or deflate layer, handing out at most PIECE bytes per step."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.gzip = name in ("gzip", "x-gzip")
        self._wbits = 16 + zlib.MAX_WBITS if self.gzip else zlib.MAX_WBITS
        self._obj = zlib.decompressobj(self._wbits)
        self._started = False
        self._finished = False  # the stream ended; what follows is not ours

    def feed(self, data: bytes) -> Iterator[bytes]:
        while data and not self._finished:
            if self._obj.eof:
                if self.gzip and data.startswith(_GZIP_MAGIC):
                    self._obj = zlib.decompressobj(self._wbits)  # another gzip member
                else:
                    self._finished = True  # trailing bytes after the stream: ignored
                    return
            data = yield from self._inflate(data)

    def _inflate(self, data: bytes) -> Generator[bytes, None, bytes]:
        """Decode `data` fully (in pieces); returns whatever follows the end of the stream."""
        pending = data
        while True:
            try:
                out = self._obj.decompress(pending, PIECE)
            except zlib.error as exc:
                if self.name == "deflate" and not self._started:
                    # Servers send "deflate" both zlib-wrapped (the standard) and raw.
                    self._started = True
                    self._wbits = -zlib.MAX_WBITS
                    self._obj = zlib.decompressobj(self._wbits)
                    continue
                raise BodyDecodeError(
                    f"the answer is labelled Content-Encoding: {self.name} but is not "
                    f"{self.name} data ({exc})"
                ) from None
            self._started = True
            if out:
                yield out
            if self._obj.eof:
                return self._obj.unused_data
            pending = self._obj.unconsumed_tail
            # A full piece may leave output inside zlib even when all input was taken.
            if not pending and len(out) < PIECE:
                return b""

    def flush(self) -> Iterator[bytes]:
        if not self._finished and not self._obj.eof:
            rest = self._obj.flush()
            if rest:
                yield rest


class ContentDecoder:
    """Decodes a body's Content-Encoding (applied in the order listed) in bounded pieces."""

    def __init__(self, header: str | None) -> None:
        names = [n.strip().lower() for n in (header or "").split(",")]
        names = [n for n in names if n and n != "identity"]
        for name in names:
            if name not in ("gzip", "x-gzip", "deflate"):
                raise BodyDecodeError(
                    f"the answer uses Content-Encoding: {name}, which chatterm did not ask "
                    f"for and does not decode"
                )
        if len(names) > MAX_LAYERS:
            raise BodyDecodeError(
                f"the answer is encoded {len(names)} times over (Content-Encoding: "
                f"{', '.join(names[:6])}{', …' if len(names) > 6 else ''}); not decoding it"
            )
        self._layers = [_Inflate(name) for name in reversed(names)]

    def feed(self, data: bytes) -> Iterator[bytes]:
        return self._through(0, data)

    def flush(self) -> Iterator[bytes]:
        for index, layer in enumerate(self._layers):
            for out in layer.flush():
                yield from self._through(index + 1, out)

    def _through(self, index: int, data: bytes) -> Iterator[bytes]:
        if index == len(self._layers):
            if data:
                yield data
            return
        for out in self._layers[index].feed(data):
            yield from self._through(index + 1, out)


async def iter_body(response: httpx.Response, limit: int) -> AsyncGenerator[bytes, None]:
    """The decoded body in pieces; BodyTooLarge once `limit` bytes have been handed out."""
    decoder = ContentDecoder(response.headers.get("content-encoding"))
    total = 0
    since_turn = 0

    async def pieces() -> AsyncGenerator[bytes, None]:
        async for raw in response.aiter_raw():
            for piece in decoder.feed(raw):
                yield piece
        for piece in decoder.flush():
            yield piece

    async with contextlib.aclosing(pieces()) as decoded:
        async for piece in decoded:
            if total + len(piece) > limit:
                if limit > total:
                    yield piece[: limit - total]
                raise BodyTooLarge(limit)
            total += len(piece)
            yield piece
            since_turn += len(piece)
            if since_turn >= YIELD_EVERY:
                since_turn = 0
                await asyncio.sleep(0)  # let a cancellation (Ctrl+C, Esc) in


async def read_body(response: httpx.Response, limit: int) -> bytearray:
    """The whole decoded body, at most `limit` bytes; BodyError carries what was read.

    A bytearray, not bytes: copying a body of tens of MiB would double the peak.
    """
    data = bytearray()
    try:
        async with contextlib.aclosing(iter_body(response, limit)) as pieces:
            async for piece in pieces:
                data += piece
    except BodyError as exc:
        exc.data = data
        raise
    return data
