"""Scrub anything that looks like a secret before text is shown, logged or saved."""

from __future__ import annotations

import re

_PATTERNS = [
    # "Bearer <token>" in echoed headers or error bodies.
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]{8,}"),
    # Provider-style keys: sk-..., sk-proj-..., key-..., pk-..., xai-..., gsk_...
    re.compile(r"\b(?:sk|pk|rk|key|xai|gsk|api)[-_][A-Za-z0-9_-]{12,}"),
    # `api_key=...` / `"api_key": "..."` / `apikey: ...`
    re.compile(r"(?i)((?<![A-Za-z0-9])(?:api[_-]?key|token|secret|password)[\"']?\s*[:=]\s*[\"']?)[^\s\"',;]{6,}"),
    # Long opaque runs mixing letters and digits are keys far more often than prose; 40+
    # keeps chatterm's own 32-character conversation ids readable.
    re.compile(r"\b(?=[A-Za-z0-9_-]*\d)(?=[A-Za-z0-9_-]*[A-Za-z])[A-Za-z0-9_-]{40,}\b"),
]

MASK = "[REDACTED]"


def _replace(match: re.Match[str]) -> str:
    if match.lastindex:
        return match.group(1) + MASK
    return MASK


def redact(text: str, secrets: list[str] | None = None) -> str:
    """Replace known `secrets` and key-shaped strings in `text` with a mask."""
    for secret in secrets or []:
        if secret and len(secret) >= 4:
            text = text.replace(secret, MASK)
    for pattern in _PATTERNS:
        text = pattern.sub(_replace, text)
    return text


def mask_key(key: str) -> str:
    """Enough of a key to recognise it, never enough to use it."""
    if len(key) <= 8:
        return "…" * min(len(key), 3)
    return f"{key[:3]}…{key[-4:]}"
