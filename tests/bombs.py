"""Compressed bodies that decode to far more than they weigh (for tests and bench/).

Compressing hundreds of MiB takes seconds, so `gzip_repeat` compresses one unit once and
repeats its deflate block: after a full flush the compressor starts from a clean state,
so every later copy of the same unit compresses to the same bytes, and a gzip member is
those blocks between a header and a trailer (CRC-32 and length of the decoded data).
"""

from __future__ import annotations

import functools
import struct
import zlib

MiB = 1024 * 1024
_GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"  # deflate, no name, no time


def _block(compressor: zlib._Compress, data: bytes) -> bytes:
    return compressor.compress(data) + compressor.flush(zlib.Z_FULL_FLUSH)


@functools.lru_cache(maxsize=8)
def gzip_repeat(unit: bytes, count: int, prefix: bytes = b"", suffix: bytes = b"",
                layers: int = 1) -> bytes:
    """gzip of prefix + unit * count + suffix, gzipped `layers` times in all."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    head = _block(compressor, prefix) if prefix else b""
    body = _block(compressor, unit)
    again = _block(compressor, unit)
    assert body == again, "the repeated block must not depend on what came before"
    tail = compressor.compress(suffix) + compressor.flush()
    crc = zlib.crc32(prefix)
    for _ in range(count):
        crc = zlib.crc32(unit, crc)
    crc = zlib.crc32(suffix, crc)
    size = (len(prefix) + len(unit) * count + len(suffix)) & 0xFFFFFFFF
    data = _GZIP_HEADER + head + body * count + tail + struct.pack("<II", crc, size)
    for _ in range(layers - 1):
        outer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
        data = outer.compress(data) + outer.flush()
    return data


def zero_bomb(mib: int, layers: int = 3, prefix: bytes = b"") -> bytes:
    """`mib` MiB of NUL bytes (after `prefix`), `layers` times gzipped: a few KiB."""
    return gzip_repeat(bytes(MiB), mib, prefix, layers=layers)


def gzip_encoding(layers: int) -> str:
    return ", ".join(["gzip"] * layers)
