"""Scrub anything that looks like a secret before text is shown, logged or saved.

Two kinds of secret are caught:
- the secrets this process knows (the API keys it resolved, header values, a URL's
  user:password), registered with `remember()`; they are matched case-insensitively and
  with invisible characters (NUL, zero-width, bidi controls) inserted anywhere, because a
  server or proxy that echoes a key may upper-case it or mangle it that way;
- strings shaped like keys (`sk-…`, `Bearer …`, `api_key=…`, long opaque runs); with
  `strict=True`, for what a server sent (an error body, which holds none of chatterm's
  conversation ids to keep readable), shorter ones too: 32+ hex digits (the AI/ML API's
  keys), 24+ letters and digits (Mistral's), `Basic …`, `access_token=…`.

This is the one redactor, and `mask_key` the one key masker: everything that hides a
secret from a person uses them.

`redact()` is meant for diagnostics (errors, warnings, notes, usage records), never for
model text, which is kept as the model wrote it.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable
from typing import Any

_PATTERNS = [
    # "Bearer <token>" in echoed headers or error bodies.
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]{8,}"),
    # Provider-style keys: sk-..., sk-proj-..., key-..., pk-..., xai-..., gsk_... (any case:
    # an echo may upper-case them).
    re.compile(r"(?i)\b(?:sk|pk|rk|key|xai|gsk|api)[-_][A-Za-z0-9_-]{12,}"),
    # `api_key=...` / `"api_key": "..."` / `apikey: ...`
    re.compile(r"(?i)((?<![A-Za-z0-9])(?:api[_-]?key|token|secret|password)[\"']?\s*[:=]\s*[\"']?)[^\s\"',;]{6,}"),
    # Long opaque runs mixing letters and digits are keys far more often than prose; 40+
    # keeps chatterm's own 32-character conversation ids readable.
    re.compile(r"\b(?=[A-Za-z0-9_-]*\d)(?=[A-Za-z0-9_-]*[A-Za-z])[A-Za-z0-9_-]{40,}\b"),
]

MASK = "[REDACTED]"


def _mask_mixed(match: re.Match[str]) -> str:
    # Long runs mixing letters and digits are keys far more often than words; a model id's
    # segments are short and split by "-" or "/", so they survive.
    token = match.group(0)
    mixed = any(c.isdigit() for c in token) and any(c.isalpha() for c in token)
    return MASK if mixed else token


_STRICT_PATTERNS: list[tuple[re.Pattern[str], Callable[[re.Match[str]], str] | None]] = [
    (re.compile(r"(?i)\b((?:bearer|basic)\s+)[A-Za-z0-9._~+/=*-]{6,}"), None),
    (re.compile(r"\b((?:sk|pk|rk)-)[A-Za-z0-9_*.-]{6,}"), None),
    (re.compile(r"(?i)\b((?:api[_-]?key|access[_-]?token|token|secret|password|authorization)"
                r"\s*[=:]\s*[\"']?)[^\s\"',;&]{6,}"), None),
    (re.compile(r"\b[0-9a-fA-F]{32,}\b"), None),
    (re.compile(r"[A-Za-z0-9]{24,}"), _mask_mixed),
]

# Characters that take no room on screen: a key with one of them inserted looks the same
# to a person and must be caught the same. Dropped from diagnostics before matching.
_INVISIBLE_CLASS = "\x00\u00ad\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff"
_INVISIBLE = re.compile(f"[{_INVISIBLE_CLASS}]")
# Between the characters of a known secret, any control or invisible character may sit.
_FILLER = f"[\x00-\x08\x0b-\x1f\x7f-\x9f{_INVISIBLE_CLASS[1:]}]*"

_known: set[str] = set()


def remember(*secrets: str | None) -> None:
    """Register secrets this process holds, so every later `redact()` hides them."""
    for secret in secrets:
        # Shorter values (a header such as `X-Env: prod`) are no credential, and masking
        # them everywhere would mangle ordinary words in messages.
        if secret and len(secret.strip()) >= 6:
            _known.add(secret.strip())


@functools.lru_cache(maxsize=64)
def _secret_pattern(secret: str) -> re.Pattern[str]:
    return re.compile(_FILLER.join(re.escape(ch) for ch in secret), re.IGNORECASE)


def _replace(match: re.Match[str]) -> str:
    if match.lastindex:
        return match.group(1) + MASK
    return MASK


def redact(text: str, secrets: Iterable[str | None] | None = None, *,
           strict: bool = False) -> str:
    """Replace known secrets (remembered or given) and key-shaped strings with a mask;
    `strict` for text a server sent (see above)."""
    candidates = _known.union(s for s in secrets or [] if s and len(s) >= 4)
    # Longest first, so a key that contains another secret is masked whole.
    for secret in sorted(candidates, key=len, reverse=True):
        text = _secret_pattern(secret).sub(MASK, text)
    text = _INVISIBLE.sub("", text)
    for pattern in _PATTERNS:
        text = pattern.sub(_replace, text)
    if strict:
        for pattern, replace in _STRICT_PATTERNS:
            text = pattern.sub(replace or _replace, text)
    return text


def redact_tree(value: Any, depth: int = 0) -> Any:
    """`redact` applied to every string (keys and values) of parsed JSON from a server."""
    if depth > 16:
        return MASK  # nothing legitimate nests this deep in a usage record
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {redact(str(k)): redact_tree(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return [redact_tree(v, depth + 1) for v in value]
    return value


def mask_key(key: str) -> str:
    """Enough of a key to recognise it, never enough to use it.

    At most the last 4 characters, and never more than a sixth of the key: a short key
    shows one or two characters, a very short one none.
    """
    key = key.strip()
    shown = min(4, len(key) // 6)
    return "…" + key[-shown:] if shown else "…"
