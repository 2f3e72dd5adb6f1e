"""Checking an export file's document before anything is built from it: one line per fault.

Every field's type, every id's form, that the messages form a tree (format version
2), and that each tool result naming a call answers a call of the reply above it: each
ImportFormatError names the message and the field, so a bad file is one clear line and
nothing is imported.
"""

from __future__ import annotations

import math
import re
from typing import Any

from chatterm.conversation import MessageState, Role
from chatterm.errors import ImportFormatError
from chatterm.transfer_blobs import check_message_attachments

FORMAT_NAME = "chatterm"
FORMAT_VERSION = 2
# Versions parse_import reads: 1 was a straight line without `current_id`; 3 is 2 with
# attachments (chatterm.transfer_blobs).
READABLE_VERSIONS = (1, 2, 3)

# What an id may hold: ids are printed in lists, prompts and errors, and passed on command
# lines, so no controls, spaces or quotes, and no leading '-' (it would read as an option).
_ID = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.:-]{0,127}")


def _kind(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "true/false",
            type(None): "null"}.get(type(value), "a number")


def _fail(where: str, field: str, expected: str, value: Any) -> ImportFormatError:
    return ImportFormatError(f"{where}: '{field}' must be {expected}, not {_kind(value)}")


def _check_text(where: str, data: dict[str, Any], field: str, *, required: bool = False,
                nullable: bool = False, non_empty: bool = False) -> None:
    if field not in data:
        if required:
            raise ImportFormatError(f"{where}: '{field}' is missing")
        return
    value = data[field]
    if value is None and nullable:
        return
    if not isinstance(value, str):
        raise _fail(where, field, "a string" + (" or null" if nullable else ""), value)
    if non_empty and not value:
        raise ImportFormatError(f"{where}: '{field}' is empty")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ImportFormatError(
            f"{where}: '{field}' holds an unpaired \\u surrogate escape") from None


def _check_id(where: str, data: dict[str, Any], field: str, *,
              required: bool = False) -> None:
    _check_text(where, data, field, required=required, nullable=not required,
                non_empty=required)
    value = data.get(field)
    if isinstance(value, str) and not _ID.fullmatch(value):
        # The id itself is not quoted: it may hold the very escape sequences refused here.
        raise ImportFormatError(
            f"{where}: '{field}' is not a valid id (1 to 128 letters, digits, '_', '.', "
            "':' or '-', not starting with '.', ':' or '-')")


def _is_number(value: Any) -> bool:
    if not isinstance(value, int | float) or isinstance(value, bool):
        return False
    try:
        return math.isfinite(float(value))
    except OverflowError:
        return False  # an integer too big to be a time or a temperature


def _check_number(where: str, data: dict[str, Any], field: str, *, required: bool = False,
                  integer: bool = False) -> None:
    if field not in data:
        if required:
            raise ImportFormatError(f"{where}: '{field}' is missing")
        return
    value = data[field]
    if value is None and not required:
        return
    ok = _is_number(value) and (not integer or isinstance(value, int))
    if not ok:
        raise _fail(where, field, "an integer" if integer else "a number", value)


def check_document(doc: Any) -> None:
    """Raise ImportFormatError for the first thing wrong with an export document."""
    where = "export"
    if not isinstance(doc, dict):
        raise ImportFormatError(f"not a chatterm export: the top level is {_kind(doc)}, "
                                "not an object")
    if doc.get("format") != FORMAT_NAME:
        raise ImportFormatError("not a chatterm export: 'format' is not \"chatterm\"")
    version = doc.get("version")
    if version not in READABLE_VERSIONS or isinstance(version, bool):
        raise ImportFormatError(
            f"unsupported export version {version!r} (this chatterm reads versions "
            f"{', '.join(map(str, READABLE_VERSIONS))})")
    _check_id(where, doc, "id", required=True)
    for field in ("provider", "model"):
        _check_text(where, doc, field, required=True)
    for field in ("title", "system_prompt"):
        _check_text(where, doc, field)
    _check_number(where, doc, "created_at", required=True)
    _check_number(where, doc, "updated_at")
    _check_params(doc.get("params"))
    messages = doc.get("messages")
    if not isinstance(messages, list):
        raise ImportFormatError("export: 'messages' is missing or not a list")
    seen: set[str] = set()
    for number, message in enumerate(messages, start=1):
        _check_message(number, message, seen)
    if version == 1:
        # A straight line: parse_import chains it, whatever parent_id says.
        _check_tool_results(messages, {message["id"]: messages[number - 1]["id"]
                                       for number, message in enumerate(messages) if number})
        return
    _check_id(where, doc, "current_id")
    if doc.get("current_id") is not None and doc["current_id"] not in seen:
        raise ImportFormatError("export: 'current_id' is not the id of one of its messages")
    _check_tree(messages)
    _check_tool_results(messages, {message["id"]: message.get("parent_id")
                                   for message in messages})


def _check_tool_results(messages: list[dict[str, Any]],
                        parents: dict[str, str | None]) -> None:
    """A tool message naming a call (`tool_call_id`) answers one of the calls of the
    reply above it (the results of one reply are chained below it): a result answering
    no call would make every later request of the chat fail (providers refuse it), so
    the file is refused with one line. A result naming no call (null) is let in: files
    made by hand or by other tools may lack it, and nothing is lost by reading it."""
    by_id = {message["id"]: message for message in messages}
    for number, message in enumerate(messages, start=1):
        call_id = message.get("tool_call_id")
        if message.get("role") != Role.TOOL.value or call_id is None:
            continue
        above: str | None = parents.get(message["id"])
        hops = 0
        # Up through the other results of the same reply (bounded: a file may loop).
        while above is not None and above in by_id and \
                by_id[above].get("role") == Role.TOOL.value and hops <= len(messages):
            above, hops = parents.get(above), hops + 1
        reply = by_id.get(above) if above is not None else None
        calls = reply.get("tool_calls") if reply and reply.get(
            "role") == Role.ASSISTANT.value else None
        if not any(isinstance(call, dict) and call.get("id") == call_id
                   for call in calls or ()):
            raise ImportFormatError(
                f"message {number} (id {message['id']}): a tool result whose "
                "'tool_call_id' matches none of the tool calls of the reply above it")


def _check_tree(messages: list[dict[str, Any]]) -> None:
    """Parents before children, every parent there, no cycle: one line for the first
    message that breaks it."""
    index = {message["id"]: number for number, message in enumerate(messages, start=1)}
    for number, message in enumerate(messages, start=1):
        parent = message.get("parent_id")
        if parent is None or index.get(parent, number) < number:
            continue
        where = f"message {number} (id {message['id']})"
        if parent not in index:
            raise ImportFormatError(f"{where}: its parent {parent} is not in the file")
        # The parent comes later: a cycle if following parents leads back here.
        step, hops = parent, 0
        while step is not None and step in index and hops <= len(messages):
            if step == message["id"]:
                raise ImportFormatError(f"{where}: its parents form a cycle")
            step = messages[index[step] - 1].get("parent_id")
            hops += 1
        raise ImportFormatError(
            f"{where}: its parent {parent} comes after it (parents must come first)")


def _check_params(params: Any) -> None:
    if params is None:
        return
    where = "export params"
    if not isinstance(params, dict):
        raise _fail("export", "params", "an object", params)
    for field in ("temperature", "top_p"):
        _check_number(where, params, field)
    for field in ("max_tokens", "seed"):
        _check_number(where, params, field, integer=True)
    stop = params.get("stop")
    if stop is not None and not (isinstance(stop, list) and all(isinstance(s, str)
                                                                for s in stop)):
        raise _fail(where, "stop", "a list of strings", stop)
    if "safe_prompt" in params and not isinstance(params["safe_prompt"], bool):
        raise _fail(where, "safe_prompt", "true or false", params["safe_prompt"])


def _check_message(number: int, message: Any, seen: set[str]) -> None:
    where = f"message {number}"
    if not isinstance(message, dict):
        raise ImportFormatError(f"{where} is {_kind(message)}, not an object")
    _check_id(where, message, "id", required=True)
    if message["id"] in seen:
        raise ImportFormatError(f"{where}: id {message['id']!r} is used twice")
    seen.add(message["id"])
    where = f"message {number} (id {message['id']})"
    role = message.get("role")
    if role not in {r.value for r in Role}:
        raise ImportFormatError(
            f"{where}: role {role!r} is not one of system, user, assistant, tool")
    state = message.get("state", MessageState.COMPLETE.value)
    if state not in {s.value for s in MessageState}:
        raise ImportFormatError(
            f"{where}: state {state!r} is not one of complete, streaming, interrupted, error")
    _check_number(where, message, "created_at", required=True)
    for field in ("content", "reasoning", "refusal"):
        _check_text(where, message, field, nullable=True)
    for field in ("parent_id", "conversation_id"):
        _check_id(where, message, field)
    for field in ("provider", "model", "finish_reason", "error", "tool_call_id"):
        _check_text(where, message, field, nullable=True)
    usage = message.get("usage")
    if usage is not None:
        if not isinstance(usage, dict):
            raise _fail(where, "usage", "an object or null", usage)
        for field in ("prompt_tokens", "completion_tokens", "total_tokens",
                      "reasoning_tokens", "cost"):
            _check_number(f"{where} usage", usage, field)
        if usage.get("raw") is not None and not isinstance(usage["raw"], dict):
            raise _fail(f"{where} usage", "raw", "an object", usage["raw"])
    calls = message.get("tool_calls")
    if calls is not None:
        if not isinstance(calls, list):
            raise _fail(where, "tool_calls", "a list", calls)
        for index, call in enumerate(calls, start=1):
            if not isinstance(call, dict):
                raise ImportFormatError(f"{where}: tool call {index} is not an object")
            for field in ("id", "name", "arguments"):
                _check_text(f"{where} tool call {index}", call, field, nullable=True)
    check_message_attachments(where, message)
