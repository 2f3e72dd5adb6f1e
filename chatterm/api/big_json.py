"""A request body holding images, encoded to JSON without holding the GIL for long.

A 10 MB image is a 13 MB `data:` URL; `json.dumps` scans such a string in one C call of
~30 ms that holds the GIL, so even on a thread the event loop (the app's frames) stalls
that long. A data URL is base64 behind a `data:TYPE;base64,` head: nothing in it needs a
JSON escape. So each long one is swapped for a short placeholder, the rest is encoded,
and the URLs' bytes are spliced in where their placeholders are: the same bytes httpx's
`json=` would send (compact separators, UTF-8), in a few short calls.
"""

from __future__ import annotations

import json
import re
import secrets
from typing import Any

# Only these are spliced in unescaped: a data URL's head, then base64 alone (checked with
# bytes.translate, one fast C pass: a regex or str.isprintable takes ~30 ms on 13 MB).
_HEAD = re.compile(r"data:[A-Za-z0-9.+/-]+;base64,")
_BASE64 = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="
# Below this a URL is encoded with the rest: swapping it would save nothing.
_LONG = 64 * 1024


def encode_with_data_urls(body: dict[str, Any]) -> bytes:
    token = secrets.token_hex(8)
    urls: list[bytes] = []
    messages = [_swapped(message, urls, token) for message in body.get("messages", [])]
    text = json.dumps({**body, "messages": messages}, ensure_ascii=False,
                      separators=(",", ":"), allow_nan=False)
    if not urls:
        return text.encode("utf-8")
    pieces = text.split(f"@@{token}@@")
    assert len(pieces) == len(urls) + 1  # the token is random: it is only where we put it
    out = [pieces[0].encode("utf-8")]
    for url, piece in zip(urls, pieces[1:], strict=True):
        out.append(url)
        out.append(piece.encode("utf-8"))
    return b"".join(out)


def _swapped(message: Any, urls: list[bytes], token: str) -> Any:
    """`message` with each long data URL in its content parts replaced by a placeholder
    (copies: the caller's dicts are left as they were)."""
    content = message.get("content") if isinstance(message, dict) else None
    if not isinstance(content, list):
        return message
    parts = []
    for part in content:
        image = part.get("image_url") if isinstance(part, dict) else None
        url = image.get("url") if isinstance(image, dict) else None
        raw = _safe_bytes(url)
        if raw is not None and isinstance(image, dict):
            urls.append(raw)
            part = {**part, "image_url": {**image, "url": f"@@{token}@@"}}
        parts.append(part)
    return {**message, "content": parts}


def _safe_bytes(url: Any) -> bytes | None:
    """A long data URL's bytes when nothing in it needs a JSON escape, else None."""
    if not isinstance(url, str) or len(url) < _LONG:
        return None
    head = _HEAD.match(url, 0, 200)
    if head is None or not url.isascii():
        return None
    raw = url.encode("ascii")
    return None if raw[head.end():].translate(None, _BASE64) else raw
