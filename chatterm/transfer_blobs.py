"""Attachments in export files: what the messages say about them, and their bytes.

A message's `attachments` list (name, mime, size, sha256, width, height) is written as
Message.to_dict has it, in `show --json` and in exports alike. An export made with the
bytes (`chatterm export --format json`) also carries a top-level `attachments` list, one
entry per distinct content:

    {"sha256": lowercase hex, "mime": str, "size": int, "data": base64 of the bytes}

A document with any attachment is version 3 (one without stays version 2, byte for byte
what earlier chatterms wrote, so older files and readers keep working). On import every
entry's bytes are decoded and checked against its sha256 and size; a mismatch, bad
base64, or a message naming bytes the file does not carry (a `show --json` output is not
an export) is one line, and nothing is imported.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Mapping
from typing import Any

from chatterm.attachments import Attachment, PendingAttachment
from chatterm.conversation import Conversation
from chatterm.errors import ImportFormatError

VERSION_WITH_ATTACHMENTS = 3
_SHA256 = re.compile(r"[0-9a-f]{64}")


def wanted(conv: Conversation) -> dict[str, Attachment]:
    """Every distinct attachment of `conv`'s messages, by sha256, in first-use order."""
    found: dict[str, Attachment] = {}
    for message in conv.messages:
        for attachment in message.attachments:
            found.setdefault(attachment.sha256, attachment)
    return found


def blob_entries(conv: Conversation, data: Mapping[str, bytes]) -> list[dict[str, Any]]:
    """The top-level `attachments` list of an export: `data` holds the bytes by sha256."""
    return [{"sha256": sha256, "mime": meta.mime, "size": meta.size,
             "data": base64.b64encode(data[sha256]).decode("ascii")}
            for sha256, meta in wanted(conv).items()]


def check_message_attachments(where: str, message: dict[str, Any]) -> None:
    """The `attachments` of one message in a file: a list of well-formed entries."""
    items = message.get("attachments")
    if items is None:
        return
    if not isinstance(items, list):
        raise ImportFormatError(f"{where}: 'attachments' must be a list")
    for index, item in enumerate(items, start=1):
        at = f"{where} attachment {index}"
        if not isinstance(item, dict):
            raise ImportFormatError(f"{at} is not an object")
        for field in ("name", "mime"):
            if not isinstance(item.get(field), str) or not item[field]:
                raise ImportFormatError(f"{at}: '{field}' must be a non-empty string")
        _check_sha(at, item.get("sha256"))
        for field, required in (("size", True), ("width", False), ("height", False)):
            value = item.get(field)
            if value is None and not required:
                continue
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ImportFormatError(f"{at}: '{field}' must be an integer of 0 or more")


def _check_sha(at: str, value: Any) -> None:
    if not isinstance(value, str) or not _SHA256.fullmatch(value):
        raise ImportFormatError(f"{at}: 'sha256' must be 64 lowercase hex digits")


def read_blobs(document: dict[str, Any], conv: Conversation) -> list[PendingAttachment]:
    """The file's bytes for every attachment its messages name, each checked against its
    sha256 and size; one missing is an ImportFormatError."""
    entries = document.get("attachments", [])
    if not isinstance(entries, list):
        raise ImportFormatError("export: 'attachments' must be a list")
    names = wanted(conv)
    blobs: dict[str, PendingAttachment] = {}
    for index, entry in enumerate(entries, start=1):
        at = f"export attachment {index}"
        if not isinstance(entry, dict):
            raise ImportFormatError(f"{at} is not an object")
        sha256 = entry.get("sha256")
        _check_sha(at, sha256)
        assert isinstance(sha256, str)
        meta = names.get(sha256)
        if meta is None or sha256 in blobs:
            continue  # bytes no message uses (or given twice): not worth a refusal
        raw = entry.get("data")
        if not isinstance(raw, str):
            raise ImportFormatError(f"{at}: 'data' must be a base64 string")
        try:
            data = base64.b64decode(raw, validate=True)
        except (binascii.Error, ValueError):
            raise ImportFormatError(f"{at} ({meta.name}): 'data' is not valid base64") \
                from None
        if hashlib.sha256(data).hexdigest() != sha256 or len(data) != meta.size:
            raise ImportFormatError(
                f"{at} ({meta.name}): its bytes do not match its sha256 {sha256[:12]} "
                f"(or its size): the file was changed or damaged; nothing was imported")
        blobs[sha256] = PendingAttachment(meta=meta, data=data)
    for sha256, meta in names.items():
        if sha256 not in blobs:
            raise ImportFormatError(
                f"the file does not carry the bytes of attachment {meta.name} "
                f"({sha256[:12]}): export it with `chatterm export --format json` "
                "(a `show --json` listing names attachments without their bytes)")
    return list(blobs.values())
