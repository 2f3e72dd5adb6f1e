"""Export format version 2: whole trees out and back in, version 1 files, bad trees."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from chatterm_env import run_cli
from test_store_tree import branched

from chatterm.errors import ImportFormatError
from chatterm.store import Store
from chatterm.transfer import export_json, export_markdown, parse_import

V1_FIXTURE = Path(__file__).parent / "fixtures" / "export-v1.json"


def saved_tree() -> tuple[str, dict[str, Any]]:
    """The branched conversation of test_store_tree, saved in the test's data dir, on
    its b1 branch (not the newest one)."""
    with Store.open(Path(os.environ["CHATTERM_DATA_DIR"]) / "chatterm.db") as store:
        conv, m = branched(store)
        store.set_current(conv.id, m["a3"].id)
    return conv.id, m


def test_a_tree_round_trips_exactly_through_two_stores(tmp_path: Path) -> None:
    conv_id, m = saved_tree()
    with Store.open(Path(os.environ["CHATTERM_DATA_DIR"]) / "chatterm.db") as store:
        exported = export_json(store.get_tree(conv_id))
        branch = [x.id for x in store.get_conversation(conv_id).messages]
    data = json.loads(exported)
    assert data["version"] == 2 and data["current_id"] == m["a3"].id
    assert len(data["messages"]) == 9
    imported = parse_import(exported.encode())
    with Store.open(tmp_path / "other.db") as other:
        other.import_conversation(imported)
        assert export_json(other.get_tree(conv_id)) == exported
        assert [x.id for x in other.get_conversation(conv_id).messages] == branch
        assert other.shape(conv_id).version(m["b1"].id) == (2, 2)


def test_version_1_files_made_by_the_previous_build_still_import(tmp_path: Path) -> None:
    raw = json.loads(V1_FIXTURE.read_text(encoding="utf-8"))
    assert raw["version"] == 1 and "current_id" not in raw
    conv = parse_import(V1_FIXTURE.read_bytes())
    assert [x.id for x in conv.messages] == [x["id"] for x in raw["messages"]]
    assert [x.parent_id for x in conv.messages] == [None] + [x["id"] for x in
                                                             raw["messages"][:-1]]
    assert conv.current_id == raw["messages"][-1]["id"]
    for message, original in zip(conv.messages, raw["messages"], strict=True):
        assert {k: v for k, v in message.to_dict().items() if k != "parent_id"} == {
            k: v for k, v in original.items() if k != "parent_id"}
    with Store.open(tmp_path / "c.db") as store:
        store.import_conversation(conv)
        again = json.loads(export_json(store.get_tree(conv.id)))
    assert again["version"] == 2 and again["current_id"] == raw["messages"][-1]["id"]


def minimal(messages: list[dict[str, Any]], **extra: Any) -> bytes:
    document = {"format": "chatterm", "version": 2, "id": "c1", "provider": "p", "model": "m",
                "created_at": 1.0, "messages": messages, **extra}
    return json.dumps(document).encode()


def msg(mid: str, parent: str | None) -> dict[str, Any]:
    return {"id": mid, "parent_id": parent, "role": "user", "content": mid, "created_at": 1.0}


@pytest.mark.parametrize(("messages", "extra", "expected"), [
    ([msg("a", None), msg("b", "ghost")], {},
     "message 2 (id b): its parent ghost is not in the file"),
    ([msg("a", "b"), msg("b", "a")], {}, "message 1 (id a): its parents form a cycle"),
    ([msg("a", "a")], {}, "message 1 (id a): its parents form a cycle"),
    ([msg("b", "a"), msg("a", None)], {},
     "message 1 (id b): its parent a comes after it (parents must come first)"),
    ([msg("a", None), msg("a", None)], {}, "message 2: id 'a' is used twice"),
    ([msg("a", None)], {"current_id": "zz"},
     "export: 'current_id' is not the id of one of its messages"),
    ([msg("a", None)], {"current_id": 5}, "export: 'current_id' must be a string or null"),
])
def test_a_file_that_is_not_a_tree_is_one_clear_line(messages: list[dict[str, Any]],
                                                     extra: dict[str, Any],
                                                     expected: str) -> None:
    with pytest.raises(ImportFormatError) as caught:
        parse_import(minimal(messages, **extra))
    assert str(caught.value).startswith(expected)
    assert "\n" not in str(caught.value)


def test_markdown_is_the_current_branch_whichever_is_given() -> None:
    conv_id, _ = saved_tree()
    with Store.open(Path(os.environ["CHATTERM_DATA_DIR"]) / "chatterm.db") as store:
        from_tree = export_markdown(store.get_tree(conv_id))
        from_branch = export_markdown(store.get_conversation(conv_id))
    assert from_tree == from_branch
    assert "third answer" in from_tree and "another first answer" in from_tree
    assert "second question" not in from_tree and "edited answer" not in from_tree


@pytest.mark.e2e
def test_the_cli_shows_exports_and_imports_the_whole_tree(tmp_path: Path) -> None:
    conv_id, m = saved_tree()
    shown = run_cli("show", conv_id[:6], "--json")
    exported = run_cli("export", conv_id, "--format", "json")
    assert shown.returncode == exported.returncode == 0, (shown.stderr, exported.stderr)
    assert shown.stdout == exported.stdout
    data = json.loads(shown.stdout)
    assert data["current_id"] == m["a3"].id and len(data["messages"]) == 9
    markdown = run_cli("export", conv_id, "--format", "markdown").stdout.decode()
    assert "third answer" in markdown and "edited answer" not in markdown

    other = {"CHATTERM_DATA_DIR": str(tmp_path / "elsewhere")}
    (tmp_path / "tree.json").write_bytes(exported.stdout)
    assert run_cli("import", str(tmp_path / "tree.json"), env=other).returncode == 0
    again = run_cli("show", conv_id, "--json", env=other)
    assert again.stdout == exported.stdout

    (tmp_path / "bad.json").write_bytes(minimal([msg("a", "b"), msg("b", "a")]))
    bad = run_cli("import", str(tmp_path / "bad.json"), env=other)
    assert bad.returncode != 0
    assert bad.stderr.decode().count("\n") == 1 and b"form a cycle" in bad.stderr
    assert b"Traceback" not in bad.stderr
    assert len(json.loads(run_cli("list", "--json", env=other).stdout)) == 1


def test_a_copy_under_new_ids_keeps_the_tree_and_its_current_branch(tmp_path: Path) -> None:
    from chatterm.transfer import with_new_ids

    conv_id, m = saved_tree()
    with Store.open(Path(os.environ["CHATTERM_DATA_DIR"]) / "chatterm.db") as store:
        tree = store.get_tree(conv_id)
        copy = with_new_ids(tree)
        store.import_conversation(copy)
        renamed = dict(zip([x.id for x in tree.messages], [x.id for x in copy.messages],
                           strict=True))
        assert not set(renamed) & set(renamed.values())
        again = store.get_tree(copy.id)
        assert again.current_id == renamed[m["a3"].id]
        assert [(x.id, x.parent_id) for x in again.messages] == [
            (renamed[x.id], renamed.get(x.parent_id) if x.parent_id else None)
            for x in tree.messages]
