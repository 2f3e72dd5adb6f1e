"""Image files made by hand for attachment tests: real headers, any size (no PIL)."""

from __future__ import annotations

import struct
import zlib


def png(width: int = 3, height: int = 2, padding: int = 0) -> bytes:
    """A PNG signature and IHDR chunk, then `padding` bytes of an ancillary chunk."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data)))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    body = chunk(b"IHDR", ihdr)
    if padding:
        body += chunk(b"tEXt", b"x" * padding)
    return b"\x89PNG\r\n\x1a\n" + body + chunk(b"IEND", b"")


def gif(width: int = 5, height: int = 4) -> bytes:
    return b"GIF89a" + struct.pack("<HH", width, height) + b"\x00\x00\x00" + b";"


def jpeg(width: int = 640, height: int = 480, exif: int = 100) -> bytes:
    """SOI, an APP1 segment of `exif` bytes (skipped by the reader), SOF0, EOI."""
    app1 = b"\xff\xe1" + struct.pack(">H", exif + 2) + b"E" * exif
    sof0 = b"\xff\xc0" + struct.pack(">HBHHB", 11, 8, height, width, 1) + b"\x01\x11\x00"
    return b"\xff\xd8" + app1 + sof0 + b"\xff\xd9"


def webp(kind: str = "VP8X", width: int = 300, height: int = 200) -> bytes:
    if kind == "VP8X":
        data = b"\x00\x00\x00\x00" + (width - 1).to_bytes(3, "little") \
            + (height - 1).to_bytes(3, "little")
    elif kind == "VP8L":
        bits = (width - 1) | ((height - 1) << 14)
        data = b"\x2f" + bits.to_bytes(4, "little") + b"\x00" * 5
    else:  # "VP8 ": a lossy key frame
        data = b"\x00\x00\x00" + b"\x9d\x01\x2a" + struct.pack("<HH", width, height) \
            + b"\x00" * 4
        kind = "VP8 "
    chunk = kind.encode() + struct.pack("<I", len(data)) + data
    return b"RIFF" + struct.pack("<I", 4 + len(chunk)) + b"WEBP" + chunk
