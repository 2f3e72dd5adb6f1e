"""A tool exchange through export (format 2) and import: exact round trips as real
`chatterm export` / `import` subprocesses, and the one check import adds for tool
results (a result must answer a call of the reply above it)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from chatterm_env import run_cli
from tool_exchange import CALL_PARIS, CALL_TOKYO, CALL_WIKI, tool_exchange

from chatterm.errors import ImportFormatError
from chatterm.transfer import export_json, parse_import


def ok(result: Any) -> str:
    assert result.returncode == 0, result.stderr.decode()
    return str(result.stdout.decode())


@pytest.mark.e2e
def test_a_tool_exchange_exports_and_imports_back_exactly(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    conv = tool_exchange()
    exported = tmp_path / "exchange.json"
    ok(run_cli("export", conv.id, "--format", "json", "-o", str(exported)))
    document = json.loads(exported.read_text(encoding="utf-8"))
    by_role = [(m["role"], m.get("tool_call_id"), m.get("provider"), m.get("model"),
                m.get("finish_reason")) for m in document["messages"]]
    assert by_role == [
        ("user", None, None, None, None),
        ("assistant", None, "test", "test-model", "tool_calls"),
        ("tool", CALL_TOKYO, "time", "get_current_time", "ok"),
        ("tool", CALL_PARIS, "time", "get_current_time", "declined"),
        ("tool", CALL_WIKI, "wiki", "lookup", "error"),
        ("assistant", None, "test", "test-model", "stop")]
    assert [c["id"] for c in document["messages"][1]["tool_calls"]] == [
        CALL_TOKYO, CALL_PARIS, CALL_WIKI]
    assert document["messages"][4]["error"] == "wiki: the server stopped (exit code 1)"

    # Into an empty data dir: the same ids, so the export of the import is the same file.
    monkeypatch.setenv("CHATTERM_DATA_DIR", str(tmp_path / "elsewhere"))
    assert ok(run_cli("import", str(exported))).strip() == conv.id
    again = ok(run_cli("show", conv.id, "--json"))
    assert json.loads(again) == document
    assert again == exported.read_text(encoding="utf-8")
    # A copy under new ids keeps the calls' ids and what answers them.
    copy_id = ok(run_cli("import", str(exported))).strip()
    copy = json.loads(ok(run_cli("show", copy_id, "--json")))
    assert [m.get("tool_call_id") for m in copy["messages"]] == [
        m.get("tool_call_id") for m in document["messages"]]


def _document() -> dict[str, Any]:
    conv = tool_exchange()
    return json.loads(export_json(conv))


def _refused(document: dict[str, Any]) -> str:
    with pytest.raises(ImportFormatError) as caught:
        parse_import(json.dumps(document).encode())
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_a_tool_result_answering_no_call_above_it_is_one_line() -> None:
    document = _document()
    document["messages"][3]["tool_call_id"] = "call_nobody_made"
    assert _refused(document) == (
        f"message 4 (id {document['messages'][3]['id']}): a tool result whose "
        "'tool_call_id' matches none of the tool calls of the reply above it")

    # A result hung below the prompt instead of the reply that made the call.
    document = _document()
    document["messages"][2]["parent_id"] = document["messages"][0]["id"]
    assert _refused(document).startswith("message 3 ")

    # A call of an earlier reply does not count: each result answers the reply above it.
    document = _document()
    last = document["messages"][-1]
    document["messages"].append({**document["messages"][2], "id": "late0result",
                                 "parent_id": last["id"]})
    assert _refused(document).startswith("message 7 (id late0result)")


def test_lenient_where_files_may_lack_ids_and_version_1_lines_are_checked_in_order() -> None:
    document = _document()
    for message in document["messages"]:
        if message["role"] == "tool":
            message["tool_call_id"] = None  # hand-made, or from a tool that kept none
    assert len(parse_import(json.dumps(document).encode()).messages) == 6

    # Version 1 was a straight line, whatever parent_id said: checked in file order.
    document = _document()
    document["version"] = 1
    for message in document["messages"]:
        message["parent_id"] = None
    assert len(parse_import(json.dumps(document).encode()).messages) == 6
    document["messages"][2], document["messages"][0] = (document["messages"][0],
                                                        document["messages"][2])
    assert _refused(document).startswith("message 1 ")
