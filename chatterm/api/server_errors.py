"""Turn whatever a server sends on failure into one readable, key-free line.

Servers disagree on the shape of an error body (OpenAI, the AI/ML API, Mistral, FastAPI,
proxies that answer in HTML), so each shape is recognised here and reduced to
`ApiError(message, status=..., code=...)`.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterable
from http import HTTPStatus
from typing import Any

from chatterm.api import safe_json
from chatterm.api.types import ApiError
from chatterm.redact import redact

MAX_MESSAGE = 300
_WHITESPACE = re.compile(r"\s+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_TITLE = re.compile(r"<title[^>]*>(.*?)</title\s*>", re.IGNORECASE | re.DOTALL)
_TAG = re.compile(r"<[^>]+>")

_UNKNOWN_MODEL = re.compile(
    r"(?i)("
    r"model[^.;]{0,120}\b(does not|doesn'?t|do not) exist"
    r"|model[^.;]{0,120}\bnot (found|exist|available|supported)"
    r"|no such model|unknown model|invalid model|model[_ ]not[_ ]found"
    r"|is not a valid model|model[^.;]{0,40}\bis invalid"
    r")"
)
_UNKNOWN_MODEL_CODES = {"model_not_found", "invalid_model", "unknown_model"}


# ---- text hygiene -------------------------------------------------------------------


def one_line(text: str, limit: int = MAX_MESSAGE) -> str:
    """Collapse whitespace and control characters so a message fits on one line."""
    text = _CONTROL.sub(" ", text)
    text = _WHITESPACE.sub(" ", text).strip()
    if len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    return text


def clean(text: str, secrets: Iterable[str | None] = (), limit: int = MAX_MESSAGE) -> str:
    # Redact before truncating so a key cut in half cannot slip through.
    return one_line(redact(text, secrets, strict=True), limit)


def status_text(status: int) -> str:
    try:
        return f"HTTP {status} {HTTPStatus(status).phrase}"
    except ValueError:
        return f"HTTP {status}"


def mentions_unknown_model(message: str, code: str | None = None) -> bool:
    if code and code.lower() in _UNKNOWN_MODEL_CODES:
        return True
    return bool(_UNKNOWN_MODEL.search(message))


# ---- body shapes --------------------------------------------------------------------


def _as_text(value: Any) -> str:
    """A server's `message` may be a string, a list of strings or a nested object."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "; ".join(t for t in (_as_text(v) for v in value) if t)
    if isinstance(value, dict):
        if "detail" in value:
            return _fastapi_detail(value["detail"])
        for key in ("message", "msg", "error", "detail"):
            if key in value:
                return _as_text(value[key])
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _fastapi_detail(detail: Any) -> str:
    if not isinstance(detail, list):
        return _as_text(detail)
    parts = []
    for item in detail[:3]:
        if isinstance(item, dict):
            loc = item.get("loc")
            where = ".".join(str(p) for p in loc) if isinstance(loc, list) else ""
            msg = _as_text(item.get("msg") or item.get("message"))
            parts.append(f"{where}: {msg}" if where else msg)
        else:
            parts.append(_as_text(item))
    if len(detail) > 3:
        parts.append(f"(+{len(detail) - 3} more)")
    return "; ".join(parts)


def _code_of(value: Any) -> str | None:
    if value is None or isinstance(value, bool):
        return None
    return str(value)


def describe_error_object(obj: Any) -> tuple[str, str | None, int | None]:
    """(message, code, status) from an error body or an in-stream error payload.

    Accepts the whole body: {"error": {...}}, {"error": "text"}, a flat
    {"message", "statusCode"}, Mistral's {"object": "error"} or FastAPI's {"detail"}.
    """
    if not isinstance(obj, dict):
        return _as_text(obj), None, None
    err = obj.get("error")
    if isinstance(err, dict):
        message = _as_text(err.get("message") or err.get("msg") or err.get("detail"))
        if not message:
            message = json.dumps(err, ensure_ascii=False)
        code = _code_of(err.get("code") or err.get("type"))
        status = err.get("status_code") or err.get("status")
        if not isinstance(status, int) and isinstance(err.get("code"), int):
            status = err["code"]
        return message, code, status if isinstance(status, int) else None
    if "detail" in obj and "message" not in obj:
        return _fastapi_detail(obj["detail"]), None, None
    message = _as_text(obj.get("message"))
    if not message and isinstance(err, str):
        message = err
    code = _code_of(obj.get("code") or obj.get("type"))
    status = obj.get("statusCode") or obj.get("status_code")
    if not message:
        message = json.dumps(obj, ensure_ascii=False)
    return message, code, status if isinstance(status, int) else None


def _is_aimlapi_flat(obj: Any) -> bool:
    return isinstance(obj, dict) and "statusCode" in obj and "message" in obj


def html_summary(text: str, what: str = "an HTML error page") -> str:
    match = _TITLE.search(text)
    if match:
        title = one_line(html.unescape(_TAG.sub("", match.group(1))), 120)
        if title:
            return f"{what} titled {title!r}"
    return what


def looks_html(text: str, content_type: str) -> bool:
    if "html" in content_type.lower():
        return True
    head = text.lstrip()[:100].lower()
    return head.startswith(("<!doctype html", "<html", "<head", "<body"))


def error_from_response(
    status: int,
    body: bytes,
    content_type: str | None,
    provider: str,
    url: str,
    *,
    secrets: Iterable[str | None] = (),
) -> ApiError:
    """One ApiError for a non-2xx answer, carrying the server's own words."""
    secrets = list(secrets)
    content_type = content_type or ""
    text = body.decode("utf-8", errors="replace")
    head = f"{provider}: {status_text(status)}" if provider else status_text(status)
    code: str | None = None
    server_message = ""
    parsed: Any = None
    stripped = text.strip()
    if stripped[:1] in ("{", "["):
        try:
            parsed = safe_json.loads(stripped)
        except ValueError:  # not JSON, or nested too deep to be an error message
            parsed = None

    if parsed is not None:
        server_message, code, _ = describe_error_object(parsed)
        if status == 403 and _is_aimlapi_flat(parsed):
            head = f"{provider}: out of credits ({status_text(status)})"
        message = f"{head}: {server_message}"
    elif looks_html(text, content_type):
        message = f"{head} ({html_summary(text)})"
    elif stripped:
        first = next(line for line in stripped.splitlines() if line.strip())
        server_message = first
        message = f"{head}: {first}"
    else:
        message = f"{head} (empty response)"

    message = clean(message, secrets)
    return ApiError(
        message,
        status=status,
        provider=provider,
        url=url,
        code=code,
        retryable=status == 429 or status >= 500,
        unknown_model=mentions_unknown_model(server_message, code) and status != 429,
    )


def error_from_stream(
    payload: Any, *, secrets: Iterable[str | None] = ()
) -> tuple[str, str | None, int | None]:
    """(one-line message, code, status) for an error that arrived inside a 200 stream."""
    message, code, status = describe_error_object(payload)
    detail = f"{message} ({code})" if code and code not in message else message
    return clean(f"the server reported an error mid-reply: {detail}", secrets), code, status
