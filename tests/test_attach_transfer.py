"""Attachments in export files (chatterm.transfer_blobs): the bytes go out as base64 and
come back byte for byte, checked against their sha256; a file without attachments is
version 2 exactly as before."""

from __future__ import annotations

import base64
import json

import pytest
from attach_samples import png

from chatterm.attach_files import load_bytes
from chatterm.attachments import AttachmentLimits
from chatterm.conversation import Conversation, Message, Role
from chatterm.errors import ImportFormatError
from chatterm.transfer import export_json, export_markdown, parse_export, parse_import

IMAGE = png(12, 7, padding=50)


def _conversation() -> tuple[Conversation, dict[str, bytes]]:
    limits = AttachmentLimits()
    image = load_bytes(IMAGE, "shot.png", limits)
    notes = load_bytes(b"# notes\n", "notes.md", limits)
    conv = Conversation(provider="p", model="m", title="t")
    first = Message(role=Role.USER, content="look", conversation_id=conv.id,
                    attachments=[image.meta, notes.meta])
    reply = Message(role=Role.ASSISTANT, content="ok", conversation_id=conv.id,
                    parent_id=first.id)
    again = Message(role=Role.USER, content="again", conversation_id=conv.id,
                    parent_id=reply.id, attachments=[image.meta])
    conv.messages = [first, reply, again]
    conv.current_id = again.id
    return conv, {image.meta.sha256: image.data, notes.meta.sha256: notes.data}


def test_an_export_carries_each_distinct_attachment_once_and_round_trips() -> None:
    conv, blobs = _conversation()
    document = json.loads(export_json(conv, blobs))
    assert document["version"] == 3
    assert document["messages"][0]["attachments"][0] == {
        "name": "shot.png", "mime": "image/png", "size": len(IMAGE),
        "sha256": conv.messages[0].attachments[0].sha256, "width": 12, "height": 7}
    assert [entry["mime"] for entry in document["attachments"]] == ["image/png",
                                                                   "text/markdown"]
    assert base64.b64decode(document["attachments"][0]["data"]) == IMAGE
    back, read = parse_export(export_json(conv, blobs).encode())
    assert back.messages == conv.messages
    assert {blob.meta.sha256: blob.data for blob in read} == blobs


def test_a_file_without_attachments_is_version_2_as_before() -> None:
    conv = Conversation(provider="p", model="m")
    conv.messages = [Message(role=Role.USER, content="hi", conversation_id=conv.id)]
    document = json.loads(export_json(conv, {}))
    assert document["version"] == 2 and "attachments" not in document
    assert "attachments" not in document["messages"][0]


def _tampered(change) -> bytes:
    conv, blobs = _conversation()
    document = json.loads(export_json(conv, blobs))
    change(document)
    return json.dumps(document).encode()


@pytest.mark.parametrize(("change", "says"), [
    (lambda d: d["attachments"][0].update(
        data=base64.b64encode(IMAGE[:-1] + b"!").decode()), "do not match its sha256"),
    (lambda d: d["attachments"][0].update(data="not base64!"), "'data' is not valid base64"),
    (lambda d: d.pop("attachments"), "the file does not carry the bytes of attachment "
                                     "shot.png"),
    (lambda d: d["messages"][0]["attachments"][0].update(sha256="XYZ"),
     "'sha256' must be 64 lowercase hex digits"),
    (lambda d: d["messages"][0]["attachments"][0].update(size=-1),
     "'size' must be an integer of 0 or more"),
    (lambda d: d["messages"][0].update(attachments="shot.png"), "'attachments' must be a list"),
])
def test_a_damaged_attachment_is_one_line(change, says) -> None:
    with pytest.raises(ImportFormatError) as caught:
        parse_import(_tampered(change))
    assert says in caught.value.message and "\n" not in caught.value.message


def test_the_markdown_export_names_the_attachments() -> None:
    conv, _ = _conversation()
    text = export_markdown(conv)
    assert f"- Attached: `shot.png` (image/png, 12×7, {len(IMAGE)} B)" in text
    assert "- Attached: `notes.md` (text/markdown, 8 B)" in text
    assert "iVBOR" not in text  # names, never the bytes
