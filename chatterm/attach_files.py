"""Reading a file (or stdin's bytes) into an attachment: what it is, checked against the
limits, hashed. Core code: no Textual, no image library.

What can be attached:
- an image: PNG, JPEG, WebP or GIF, known by its first bytes (never by its extension, so a
  screenshot saved as `shot.txt` is still an image); its width and height are read from
  the header without decoding the picture, so a 10 MB image costs a read and a hash;
- a text file: valid UTF-8 (a byte-order mark is fine) with no NUL byte. Other encodings
  are refused rather than guessed: a wrong guess would send the model mojibake. Its mime
  type comes from the extension (text/markdown, application/json, text/x-python, else
  text/plain): it only labels the file, the text is sent the same way whatever it is.

Anything else, an empty file, a folder, a file over its limit: one AttachmentError line
naming the file (and for a limit, the config key that sets it). Sizes are checked from
`stat` (or the length of the bytes) before anything is hashed or decoded.
"""

from __future__ import annotations

import codecs
import hashlib
import os
import stat
from pathlib import Path

from chatterm.attachments import Attachment, AttachmentError, AttachmentLimits, PendingAttachment

WORKS = "PNG, JPEG, WebP and GIF images, and UTF-8 text files can be attached"

# Mime types of text files by extension (lowercase, with the dot); others: text/plain.
TEXT_MIMES: dict[str, str] = {
    ".md": "text/markdown",
    ".markdown": "text/markdown",
    ".json": "application/json",
    ".py": "text/x-python",
}

# Enough of the start of a file to know its kind (the longest magic is WebP's 12 bytes).
SNIFF_BYTES = 16


def size_text(size: int) -> str:
    """`size` bytes for a person: 512 B, 3.4 KB, 20 MB (powers of 1024, as the limits)."""
    if size < 1024:
        return f"{size} B"
    for unit in ("KB", "MB", "GB"):
        size_f = size / 1024
        if size_f < 1024 or unit == "GB":
            text = f"{size_f:.1f}".removesuffix(".0")
            return f"{text} {unit}"
        size = int(size_f)
    raise AssertionError("unreachable")  # pragma: no cover


def describe(attachment: Attachment) -> str:
    """"image/png, 640×480, 1.2 MB": what `show`, exports and placeholders say of one."""
    parts = [attachment.mime]
    if attachment.width and attachment.height:
        parts.append(f"{attachment.width}×{attachment.height}")
    parts.append(size_text(attachment.size))
    return ", ".join(parts)


def check_count(count: int, limits: AttachmentLimits) -> None:
    """Refuse a message with more attachments than `max_count`."""
    if count > limits.max_count:
        raise AttachmentError(
            f"{count} attachments: a message can carry up to {limits.max_count} "
            "(attachments.max_count)")


def load_file(path: str | os.PathLike[str], limits: AttachmentLimits) -> PendingAttachment:
    """The file at `path` as an attachment named by its base name."""
    where = Path(path).expanduser()
    shown = str(path)
    try:
        info = where.stat()
    except FileNotFoundError:
        raise AttachmentError(f"{shown}: no such file") from None
    except OSError as error:
        raise AttachmentError(f"{shown}: cannot read it ({error.strerror or error})") from None
    if stat.S_ISDIR(info.st_mode):
        raise AttachmentError(f"{shown}: is a folder, not a file")
    name = where.name or shown
    try:
        with where.open("rb") as handle:
            if stat.S_ISREG(info.st_mode):
                head = handle.read(SNIFF_BYTES)
                kind = _kind_of(head)
                if kind is None:
                    # What it is before how big: a 30 MB binary is "not text", not "a
                    # text file too big" (qa14 F2), which raising the limit would not cure.
                    _check_text(head, shown, complete=False)
                _check_size(shown, info.st_size, kind, limits)
                data = head + handle.read()
            else:
                # A pipe or device (`-a <(cmd)`, /dev/stdin): no size to stat, so read at
                # most one byte past the larger limit and judge the length.
                data = handle.read(max(limits.max_image_bytes, limits.max_text_bytes) + 1)
    except OSError as error:
        raise AttachmentError(f"{shown}: cannot read it ({error.strerror or error})") from None
    return _pending(data, name, shown, limits)


def load_bytes(data: bytes, name: str, limits: AttachmentLimits) -> PendingAttachment:
    """`data` (stdin's bytes, a paste) as an attachment called `name`."""
    return _pending(data, name, name, limits)


def _pending(data: bytes, name: str, shown: str, limits: AttachmentLimits) -> PendingAttachment:
    kind = _kind_of(data[:SNIFF_BYTES])
    if kind is None:
        _check_text(data[:SNIFF_BYTES], shown, complete=False)
    _check_size(shown, len(data), kind, limits)
    if not data:
        raise AttachmentError(f"{shown}: the file is empty, nothing to attach")
    if kind is not None:
        width, height = image_size(data, kind)
        mime = kind
    else:
        _check_text(data, shown)
        mime = TEXT_MIMES.get(Path(name).suffix.lower(), "text/plain")
        width = height = None
    meta = Attachment(name=name, mime=mime, size=len(data),
                      sha256=hashlib.sha256(data).hexdigest(), width=width, height=height)
    return PendingAttachment(meta=meta, data=data)


def _kind_of(head: bytes) -> str | None:
    """The image mime type the first bytes announce, or None (maybe text)."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    return None


def _check_size(shown: str, size: int, kind: str | None, limits: AttachmentLimits) -> None:
    if kind is not None:
        limit, key, what = limits.max_image_bytes, "max_image_bytes", "an image"
    else:
        limit, key, what = limits.max_text_bytes, "max_text_bytes", "a text file"
    if size > limit:
        raise AttachmentError(f"{shown} is {size_text(size)}; {what} can be up to "
                              f"{size_text(limit)} (attachments.{key})")


def _check_text(data: bytes, shown: str, *, complete: bool = True) -> None:
    """Refuse what is not UTF-8 text; `complete=False`: `data` is the file's start, which
    may end inside a character."""
    # NUL never appears in text a person wrote; it marks a binary file that happens to
    # decode (UTF-16, an object file of ASCII), which the model could not read anyway.
    if b"\x00" in data:
        raise AttachmentError(f"{shown}: not an image or a text file (it holds NUL bytes); "
                              f"{WORKS}")
    try:
        codecs.getincrementaldecoder("utf-8")().decode(data, final=complete)
    except UnicodeDecodeError as error:
        raise AttachmentError(f"{shown}: not an image or UTF-8 text (byte {error.start} is "
                              f"not UTF-8); {WORKS}") from None


def attachment_text(data: bytes) -> str:
    """A text attachment's bytes as the text sent (a leading byte-order mark dropped)."""
    return data.decode("utf-8", "replace").removeprefix("\ufeff")


# ---- image headers: width and height, no decoding -------------------------------------


def image_size(data: bytes, mime: str) -> tuple[int | None, int | None]:
    """(width, height) from the header, or (None, None) when it cannot be read there: the
    image is still sent (the model's server is the judge of a picture), just unmeasured."""
    try:
        size = _READERS[mime](data)
    except (IndexError, ValueError):
        return None, None
    if size is None or size[0] <= 0 or size[1] <= 0:
        return None, None
    return size


def _u16be(data: bytes, at: int) -> int:
    return int.from_bytes(data[at:at + 2], "big") if len(data) >= at + 2 else _short()


def _u32be(data: bytes, at: int) -> int:
    return int.from_bytes(data[at:at + 4], "big") if len(data) >= at + 4 else _short()


def _le(data: bytes, at: int, count: int) -> int:
    return int.from_bytes(data[at:at + count], "little") if len(data) >= at + count \
        else _short()


def _short() -> int:
    raise ValueError("the header is cut short")


def _png(data: bytes) -> tuple[int, int] | None:
    # The first chunk is IHDR: width and height, 4 bytes each, big-endian.
    if data[12:16] != b"IHDR":
        return None
    return _u32be(data, 16), _u32be(data, 20)


def _gif(data: bytes) -> tuple[int, int] | None:
    # The logical screen: width and height, 2 bytes each, little-endian.
    return _le(data, 6, 2), _le(data, 8, 2)


def _webp(data: bytes) -> tuple[int, int] | None:
    chunk = data[12:16]
    if chunk == b"VP8X":  # extended: the canvas size minus one, 3 bytes each
        return _le(data, 24, 3) + 1, _le(data, 27, 3) + 1
    if chunk == b"VP8L":  # lossless: a 0x2f byte, then 14 bits each (minus one)
        if data[20:21] != b"\x2f":
            return None
        bits = _le(data, 21, 4)
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8 ":  # lossy: a key frame's start code, then 14 bits each
        if data[23:26] != b"\x9d\x01\x2a":
            return None
        return _le(data, 26, 2) & 0x3FFF, _le(data, 28, 2) & 0x3FFF
    return None


# JPEG start-of-frame markers (baseline, progressive, lossless...): not DHT, JPG, DAC.
_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


def _jpeg(data: bytes) -> tuple[int, int] | None:
    # Walk the segments (each says its length) to the frame header; the metadata before
    # it (EXIF, ICC) is skipped, not read, so a big photo is as quick as a small one.
    at = 2
    while at + 4 <= len(data):
        if data[at] != 0xFF:
            return None
        marker = data[at + 1]
        if marker == 0xFF:  # fill bytes before a marker
            at += 1
            continue
        if marker in (0x01, *range(0xD0, 0xD8)):  # markers with no length
            at += 2
            continue
        if marker in (0xD9, 0xDA):  # end of image, or the scan: no frame header before
            return None
        length = _u16be(data, at + 2)
        if marker in _SOF:
            return _u16be(data, at + 7), _u16be(data, at + 5)
        at += 2 + length
    return None


_READERS = {"image/png": _png, "image/gif": _gif, "image/webp": _webp, "image/jpeg": _jpeg}
