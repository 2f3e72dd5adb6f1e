"""Tool-call ids as Mistral accepts them: exactly 9 letters or digits.

Mistral's API refuses a history whose tool calls (or tool results) carry other ids, and
OpenAI-style ids (`call_Ab12...`, 24+ characters) are what a conversation holds once an
OpenAI-compatible model has called a tool. So for `kind = "mistral"` providers the
client rewrites the ids of the request it sends, and only those: the store keeps the
ids as they came, and another provider gets them unchanged (switching models in the
middle of a conversation keeps working both ways).

The mapping is a pure function of the ids in the request: an id that is already valid
is kept; any other is hashed (SHA-256, as base62, 9 characters), so the same history
always maps the same way and every `tool_call_id` meets the `tool_calls[].id` it
answers. Within one request it is collision-free: a hash that another id already took
(valid or mapped) is drawn again with a counter, in the order the ids first appear.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

VALID = re.compile(r"[A-Za-z0-9]{9}")
_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
LENGTH = 9


def _hashed(original: str, attempt: int) -> str:
    seed = original if attempt == 0 else f"{original}\x00{attempt}"
    number = int.from_bytes(hashlib.sha256(seed.encode("utf-8", "replace")).digest(), "big")
    digits = []
    for _ in range(LENGTH):
        number, digit = divmod(number, len(_ALPHABET))
        digits.append(_ALPHABET[digit])
    return "".join(digits)


def _ids_in(messages: list[dict[str, Any]]) -> list[str]:
    """Every tool-call id the messages hold, in order of first appearance."""
    found: dict[str, None] = {}
    for message in messages:
        for call in message.get("tool_calls") or ():
            if isinstance(call, dict) and isinstance(call.get("id"), str):
                found.setdefault(call["id"], None)
        if isinstance(message.get("tool_call_id"), str):
            found.setdefault(message["tool_call_id"], None)
    return list(found)


def mapping(ids: list[str]) -> dict[str, str]:
    """Original id -> the 9-character id sent, for every id given (valid ones to
    themselves); no two originals share a sent id."""
    taken = {original for original in ids if VALID.fullmatch(original)}
    mapped = {original: original for original in taken}
    for original in ids:
        if original in mapped:
            continue
        attempt = 0
        while (candidate := _hashed(original, attempt)) in taken:
            attempt += 1
        taken.add(candidate)
        mapped[original] = candidate
    return mapped


def for_mistral(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """`messages` (wire shape) with every tool-call id Mistral would refuse replaced;
    the list given is not changed (it may be the caller's history)."""
    ids = _ids_in(messages)
    if all(VALID.fullmatch(original) for original in ids):
        return messages
    mapped = mapping(ids)
    sent = []
    for message in messages:
        copy = dict(message)
        calls = message.get("tool_calls")
        if isinstance(calls, list):
            copy["tool_calls"] = [
                {**call, "id": mapped[call["id"]]}
                if isinstance(call, dict) and isinstance(call.get("id"), str) else call
                for call in calls]
        if isinstance(message.get("tool_call_id"), str):
            copy["tool_call_id"] = mapped[message["tool_call_id"]]
        sent.append(copy)
    return sent
