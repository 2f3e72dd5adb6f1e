"""Export formats, import validation, exact round trips and atomic file writes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chatterm import transfer
from chatterm.conversation import (
    Conversation,
    Message,
    MessageState,
    Params,
    Role,
    ToolCall,
    Usage,
)
from chatterm.errors import ImportFormatError, UsageError
from chatterm.store import Store
from chatterm.transfer import export_json, export_markdown, parse_import


def rich_conversation() -> Conversation:
    conv = Conversation(provider="mistral", model="magistral-medium", title="Crème & 日本語",
                        system_prompt="Answer briefly.",
                        params=Params(temperature=0.3, top_p=0.95, max_tokens=512,
                                      stop=["###"], seed=42, safe_prompt=True),
                        created_at=1700000000.123456, updated_at=1700000100.5)
    conv.messages = [
        Message(role=Role.SYSTEM, content="Answer briefly.", created_at=1700000000.2),
        Message(role=Role.USER, content="Hostile \x1b]52;c;aGk=\x07 and \x9b31m C1, "
                "nul \x00, emoji 🎉, line\u2028sep", created_at=1700000001.0),
        Message(role=Role.ASSISTANT, content="Calling a tool", provider="mistral",
                model="magistral-medium", finish_reason="tool_calls", reasoning="Let me think",
                usage=Usage(prompt_tokens=10, completion_tokens=20, total_tokens=30,
                            reasoning_tokens=5, cost=0.00042,
                            raw={"meta": {"usage": {"credits_used": 12}}}),
                tool_calls=[ToolCall(id="call_1", name="weather",
                                     arguments='{"city": "Zürich"}')],
                created_at=1700000002.0),
        Message(role=Role.TOOL, content='{"temp": 3}', tool_call_id="call_1",
                created_at=1700000003.0),
        Message(role=Role.ASSISTANT, content="It is cold ```code```", refusal="",
                state=MessageState.INTERRUPTED, error="connection dropped",
                provider="mistral", model="magistral-medium", created_at=1700000004.0),
        Message(role=Role.ASSISTANT, content="", refusal="I can't help with that",
                state=MessageState.ERROR, created_at=1700000005.0),
    ]
    for previous, message in zip(conv.messages, conv.messages[1:], strict=False):
        message.parent_id = previous.id
    for message in conv.messages:
        message.conversation_id = conv.id
    return conv


def test_export_json_is_the_documented_format() -> None:
    conv = rich_conversation()
    text = export_json(conv)
    data = json.loads(text)
    assert data["format"] == "chatterm" and data["version"] == 2
    for field in ("id", "title", "created_at", "updated_at", "provider", "model",
                  "system_prompt", "params", "messages"):
        assert field in data
    assert data["params"]["stop"] == ["###"]
    assert len(data["messages"]) == len(conv.messages)
    fields = set(data["messages"][2])
    assert fields >= {"id", "parent_id", "role", "content", "created_at", "state", "provider",
                      "model", "finish_reason", "usage", "reasoning", "refusal", "tool_calls",
                      "error", "tool_call_id"}
    assert data["messages"][2]["usage"]["cost"] == 0.00042
    assert data["messages"][2]["tool_calls"][0]["arguments"] == '{"city": "Zürich"}'
    # Readable for humans, harmless on a terminal: no raw ESC, BEL, C1 or separators.
    assert "日本語" in text and "🎉" in text
    for raw in ("\x1b", "\x07", "\x9b", "\x00", "\u2028"):
        assert raw not in text
    assert "\\u009b" in text and "\\u001b" in text
    assert text.endswith("\n")


def test_round_trip_through_two_stores_is_byte_identical(tmp_path: Path) -> None:
    original = rich_conversation()
    with Store.open(tmp_path / "a.db") as first:
        first.create_conversation(original)
        exported = export_json(first.get_tree(original.id))
    assert export_json(original) == exported
    imported = parse_import(exported.encode("utf-8"))
    with Store.open(tmp_path / "b.db") as second:
        second.import_conversation(imported)
        again = export_json(second.get_tree(original.id))
        assert second.search("cold")  # imported text is searchable
    assert again == exported
    assert parse_import(again.encode()) == imported


def test_import_of_a_streaming_message_marks_it_interrupted(tmp_path: Path) -> None:
    conv = rich_conversation()
    conv.messages[-1].state = MessageState.STREAMING
    imported = parse_import(export_json(conv).encode())
    with Store.open(tmp_path / "c.db") as store:
        store.import_conversation(imported)
        assert store.get_conversation(conv.id).messages[-1].state is \
            MessageState.INTERRUPTED


def test_export_markdown_reads_well() -> None:
    text = export_markdown(rich_conversation())
    assert text.startswith("# Crème & 日本語\n")
    assert "- Model: magistral-medium (mistral)" in text
    assert "## System prompt\n\nAnswer briefly." in text
    assert "## User" in text
    assert "## Assistant · magistral-medium (mistral)" in text
    assert "<details><summary>Reasoning</summary>\n\nLet me think\n\n</details>" in text
    # The result under its call (tests/test_tool_show.py has a whole exchange).
    assert ('→ **`weather`** (call `call_1`)\n\n```json\n{\n  "city": "Zürich"\n}\n```\n\n'
            '← **`weather`**\n\n```text\n{"temp": 3}\n```') in text
    assert "## Tool result" not in text
    assert "*Reply interrupted: connection dropped*" in text
    assert "> **Refused:** I can't help with that" in text
    assert "*30 tokens, cost 0.00042*" in text
    assert "2023-11-14" in text


def test_markdown_fences_outgrow_backticks_in_arguments() -> None:
    conv = Conversation(provider="p", model="m")
    conv.messages = [Message(role=Role.ASSISTANT, tool_calls=[
        ToolCall(id="c", name="run", arguments="```\nnested\n```")])]
    assert "````json\n```\nnested\n```\n````" in export_markdown(conv)


def valid_document() -> dict:
    return json.loads(export_json(rich_conversation()))


def one_line_error(data: bytes) -> str:
    with pytest.raises(ImportFormatError) as caught:
        parse_import(data)
    message = str(caught.value)
    assert message and "\n" not in message
    return message


def test_invalid_utf8_names_the_byte_offset() -> None:
    data = b'{"format": "chatterm", "title": "caf\xc3 broken"}'
    message = one_line_error(data)
    assert "UTF-8" in message and f"byte offset {data.index(0xC3)}" in message


def test_broken_json_names_line_and_column() -> None:
    text = export_json(rich_conversation())
    broken = text.replace('"provider": "mistral",', '"provider": "mistral"', 1)
    message = one_line_error(broken.encode())
    line = next(i for i, row in enumerate(broken.splitlines(), 1) if '"provider"' in row)
    assert f"line {line + 1}, column" in message and "broken JSON" in message
    assert "broken JSON" in one_line_error(b"")
    assert "broken JSON" in one_line_error(b"[" * 100_000)


@pytest.mark.parametrize(("mutate", "expected"), [
    (lambda d: [d], "top level is a list"),
    (lambda d: {**d, "format": "other"}, "not a chatterm export"),
    (lambda d: {k: v for k, v in d.items() if k != "format"}, "not a chatterm export"),
    (lambda d: {**d, "version": 4}, "unsupported export version 4"),
    (lambda d: {**d, "version": True}, "unsupported export version"),
    (lambda d: {k: v for k, v in d.items() if k != "id"}, "'id' is missing"),
    (lambda d: {**d, "id": ""}, "'id' is empty"),
    (lambda d: {**d, "model": 5}, "'model' must be a string"),
    (lambda d: {**d, "created_at": "yesterday"}, "'created_at' must be a number"),
    (lambda d: {**d, "created_at": 10**400}, "'created_at' must be a number"),
    (lambda d: {**d, "messages": {}}, "'messages' is missing or not a list"),
    (lambda d: {**d, "params": {"temperature": "hot"}}, "'temperature' must be a number"),
    (lambda d: {**d, "params": {"stop": "###"}}, "'stop' must be a list of strings"),
    (lambda d: {**d, "params": {"max_tokens": 1.5}}, "'max_tokens' must be an integer"),
    (lambda d: {**d, "title": "\ud800"}, "unpaired"),
], ids=lambda value: value if isinstance(value, str) else "")
def test_wrong_shapes_are_named(mutate, expected) -> None:
    document = mutate(valid_document())
    assert expected in one_line_error(json.dumps(document).encode())


@pytest.mark.parametrize(("field", "value", "expected"), [
    ("role", "robot", "role 'robot' is not one of system, user, assistant, tool"),
    ("state", "done", "state 'done' is not one of"),
    ("created_at", None, "'created_at' must be a number"),
    ("content", ["x"], "'content' must be a string or null"),
    ("usage", "lots", "'usage' must be an object or null"),
    ("tool_calls", {"id": 1}, "'tool_calls' must be a list"),
    ("id", 7, "'id' must be a string"),
])
def test_bad_messages_are_named_by_number(field, value, expected) -> None:
    document = valid_document()
    document["messages"][3][field] = value
    message = one_line_error(json.dumps(document).encode())
    assert message.startswith("message 4")
    assert expected in message


def test_non_finite_numbers_and_duplicate_ids_are_refused() -> None:
    text = export_json(rich_conversation()).replace("1700000001.0", "NaN", 1)
    assert "NaN is not a JSON number" in one_line_error(text.encode())
    document = valid_document()
    document["messages"][1]["id"] = document["messages"][0]["id"]
    assert "used twice" in one_line_error(json.dumps(document).encode())


def test_byte_order_mark_and_minimal_documents_are_accepted() -> None:
    minimal = {"format": "chatterm", "version": 1, "id": "x1", "provider": "p", "model": "m",
               "created_at": 1, "messages": [{"id": "m1", "role": "user", "created_at": 2}]}
    conv = parse_import(b"\xef\xbb\xbf" + json.dumps(minimal).encode())
    assert conv.id == "x1" and conv.messages[0].content == ""
    assert conv.messages[0].state is MessageState.COMPLETE


def big_conversation(n: int, bad_at: int | None = None) -> dict:
    conv = Conversation(provider="p", model="m", title="big")
    conv.messages = [Message(role=Role.USER, content=f"line {i}", created_at=1.0 + i)
                     for i in range(n)]
    document = json.loads(export_json(conv))
    if bad_at is not None:
        document["messages"][bad_at - 1]["role"] = "narrator"
    return document


def test_a_file_whose_500th_message_is_bad_imports_nothing(tmp_path: Path) -> None:
    data = json.dumps(big_conversation(800, bad_at=500)).encode()
    with Store.open(tmp_path / "c.db") as store:
        with pytest.raises(ImportFormatError, match=r"^message 500 "):
            store.import_conversation(parse_import(data))
        assert store.list_conversations() == []


def test_a_store_conflict_at_the_500th_message_imports_nothing(tmp_path: Path) -> None:
    with Store.open(tmp_path / "c.db") as store:
        existing = Conversation(provider="p", model="m", title="existing")
        existing.messages = [Message(role=Role.USER, content="mine")]
        store.create_conversation(existing)
        document = big_conversation(800)
        document["messages"][499]["id"] = existing.messages[0].id
        with pytest.raises(UsageError, match="already exists"):
            store.import_conversation(parse_import(json.dumps(document).encode()))
        assert [s.title for s in store.list_conversations()] == ["existing"]
        assert store.search("line") == []
        with store.raw_connection() as conn:
            assert conn.execute("SELECT count(*) FROM messages").fetchone()[0] == 1


def test_export_helpers_are_importable_without_a_store() -> None:
    assert transfer.FORMAT_VERSION == 2
