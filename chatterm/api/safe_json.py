"""Parsing JSON that a server sent: never a RecursionError, never unbounded nesting.

`json.loads` recurses once per nesting level, so a line of 1,000 `[` raises
RecursionError (or less, when the caller's stack is already deep, as in the app), which
is not a ValueError and escaped every `except ValueError` around it. `loads` turns that,
and any document nested deeper than MAX_DEPTH, into `JSONTooDeep`, a ValueError, so each
caller's usual "not valid JSON" path handles it. Real chat, error and model-list bodies
are nested less than 10 levels; the limit leaves room and keeps every later walk over
the value (error messages, usage, the model cache) shallow.

`loads_truncated` reads a document that was cut off (a body over its size cap): it closes
the open string and containers so that what arrived can still be used.
"""

from __future__ import annotations

import json
import re
from typing import Any

MAX_DEPTH = 64
_TRUNCATED_TOKEN_LIMIT = 1_000_000  # past this many tokens a cut document is not worth it

# A complete string, a string cut off at the end of the text, or a structural character.
_TOKEN = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*(?:(")|\\?\Z)|[\[\]{},]', re.DOTALL)
# An escape cut in half at the very end (`\u12`), or a high surrogate whose low half is lost.
_CUT_ESCAPE = re.compile(r"\\u(?:[0-9a-fA-F]{0,3}|[dD][89abAB][0-9a-fA-F]{2})\Z")
_CLOSE = {"[": "]", "{": "}"}


class JSONTooDeep(ValueError):
    """The document nests deeper than MAX_DEPTH (or deeper than Python can parse)."""


def loads(data: str | bytes | bytearray, *, max_depth: int = MAX_DEPTH) -> Any:
    """json.loads for untrusted input: ValueError for anything malformed or too deep."""
    try:
        value = json.loads(data)
    except RecursionError:
        raise JSONTooDeep(f"JSON nested too deeply (more than {max_depth} levels)") from None
    # Cheap test first: a document with few brackets cannot be deep.
    if isinstance(data, str):
        brackets = data.count("[") + data.count("{")
    else:
        brackets = data.count(b"[") + data.count(b"{")
    if brackets > max_depth:
        _check_depth(value, max_depth)
    return value


def _check_depth(value: Any, max_depth: int) -> None:
    # Iterative on purpose: the point is not to recurse over hostile input.
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > max_depth:
            raise JSONTooDeep(f"JSON nested too deeply (more than {max_depth} levels)")
        stack.extend((child, depth + 1) for child in children)


def _scan(text: str) -> tuple[list[str], int | None, bool] | None:
    """(open containers, position of the last comma, ends inside a string) for `text`."""
    stack: list[str] = []
    last_comma: int | None = None
    in_string = False
    for count, match in enumerate(_TOKEN.finditer(text)):
        if count > _TRUNCATED_TOKEN_LIMIT:
            return None
        first = match.group()[0]
        if first == '"':
            # Escapes are consumed in pairs, so only a cut string lacks its closing quote.
            in_string = match.group(1) is None
        elif first in _CLOSE:
            stack.append(first)
        elif first == ",":
            last_comma = match.start()
        elif stack:
            stack.pop()
    return stack, last_comma, in_string


def loads_truncated(text: str, *, max_depth: int = MAX_DEPTH) -> Any | None:
    """The value of a JSON document cut off anywhere, its open parts closed; None if hopeless.

    First the cut string (if any) and every open container are closed where the text
    ends; if that is not valid JSON (the cut fell in a key, a number or after a colon),
    the text is cut back to its last comma and closed there.
    """
    scanned = _scan(text)
    if scanned is None:
        return None
    stack, last_comma, in_string = scanned
    attempts = []
    if in_string:
        body = text[:-1] if text.endswith("\\") and _odd_backslashes(text) else text
        # Twice: `\ud83d\u` loses its cut escape, then the high surrogate left alone.
        body = _CUT_ESCAPE.sub("", _CUT_ESCAPE.sub("", body))
        attempts.append(body + '"' + _closers(stack))
    else:
        closers = _closers(stack)
        attempts.append(text + closers if closers else text)  # no copy of a big text
    if last_comma is not None:
        rescanned = _scan(text[:last_comma])
        if rescanned is not None:
            attempts.append(text[:last_comma] + _closers(rescanned[0]))
    for attempt in attempts:
        try:
            return loads(attempt, max_depth=max_depth)
        except ValueError:
            continue
    return None


def _odd_backslashes(text: str) -> bool:
    return (len(text) - len(text.rstrip("\\"))) % 2 == 1


def _closers(stack: list[str]) -> str:
    return "".join(_CLOSE[opening] for opening in reversed(stack))
