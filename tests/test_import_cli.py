"""`chatterm import FILE` for other programs' history, as a person runs it: detection of
every format, one transaction, idempotent re-import, --dry-run, damaged files, and the
source databases left exactly as they were."""

from __future__ import annotations

import json
import os
import shutil
import zipfile
from pathlib import Path
from typing import Any

import pytest
from chatterm_env import run_cli

pytestmark = pytest.mark.e2e

FIXTURES = Path(__file__).parent / "fixtures"
SOURCES = {
    "chatgpt": ("chatgpt/conversations.json", 3, 11, "a ChatGPT export"),
    "claude": ("claude/conversations.json", 2, 6, "a Claude export"),
    "elia": ("elia.sqlite", 2, 6, "Elia's database"),
    "llm": ("llm-logs.db", 4, 12, "llm's logs database"),
    "llm-old": ("llm-logs-old.db", 4, 12, "llm's logs database"),
}


def ok(result: Any) -> Any:
    assert result.returncode == 0, result.stderr.decode()
    return result


def listed() -> list[dict[str, Any]]:
    return json.loads(ok(run_cli("list", "--json")).stdout)  # type: ignore[no-any-return]


def shown(conversation_id: str) -> dict[str, Any]:
    return json.loads(ok(run_cli("show", conversation_id, "--json")).stdout)  # type: ignore[no-any-return]


def database() -> Path:
    return Path(os.environ["CHATTERM_DATA_DIR"]) / "chatterm.db"


@pytest.mark.parametrize("kind", SOURCES)
def test_each_format_imports_in_one_go_and_a_second_time_adds_nothing(
        kind: str, tmp_path: Path) -> None:
    name, count, messages, label = SOURCES[kind]
    folder = tmp_path / "source"
    folder.mkdir()
    source = folder / Path(name).name
    shutil.copyfile(FIXTURES / name, source)
    os.utime(source, (1_600_000_000, 1_600_000_000))
    before = source.read_bytes()

    first = ok(run_cli("import", str(source)))
    ids = first.stdout.decode().split()
    assert len(ids) == count
    assert first.stderr.decode() == (f"imported {count} conversations ({messages} messages) "
                                     f"from {label}" + ("; 1 empty one skipped"
                                                        if kind == "claude" else "") + "\n")
    assert {c["id"] for c in listed()} == set(ids)

    again = ok(run_cli("import", str(source)))
    assert again.stdout == b""
    assert f"imported nothing new from {label}; {count} already imported" in \
        again.stderr.decode()
    assert len(listed()) == count
    # The source is read, never written: not a byte, not its time.
    assert source.read_bytes() == before
    assert source.stat().st_mtime == 1_600_000_000
    assert [p.name for p in folder.iterdir()] == [source.name]  # no -journal, -wal, -shm


def test_a_wal_mode_database_is_read_without_leaving_files_beside_it(tmp_path: Path) -> None:
    import sqlite3

    folder = tmp_path / "source"
    folder.mkdir()
    source = folder / "logs.db"
    shutil.copyfile(FIXTURES / "llm-logs.db", source)
    with sqlite3.connect(source) as conn:  # llm run with WAL on, then closed
        assert conn.execute("PRAGMA journal_mode = wal").fetchone() == ("wal",)
    conn.close()
    os.utime(source, (1_600_000_000, 1_600_000_000))
    before = source.read_bytes()
    done = ok(run_cli("import", str(source)))
    assert len(done.stdout.split()) == 4
    assert [p.name for p in folder.iterdir()] == ["logs.db"]  # no -wal, no -shm
    assert source.read_bytes() == before and source.stat().st_mtime == 1_600_000_000


def test_a_chatgpt_export_keeps_its_tree_and_opens_on_its_current_branch(
        tmp_path: Path) -> None:
    ids = ok(run_cli("import", str(FIXTURES / "chatgpt/conversations.json"))).stdout.split()
    tree = shown(ids[0].decode())
    assert tree["title"] == "Regex help"
    by_id = {m["id"]: m for m in tree["messages"]}
    assert len(by_id) == 7  # both versions of a reply, both versions of a prompt
    path, at = [], tree["current_id"]
    while at is not None:
        path.append(by_id[at]["content"])
        at = by_id[at]["parent_id"]
    assert path[::-1][2] == 'Count the words in "héllo wörld" with Python.'
    assert path[0].endswith("There are **2** words.")
    text = ok(run_cli("show", ids[0].decode())).stdout.decode()
    assert "There are **2** words." in text and "And in JavaScript?" not in text
    assert "chatgpt/gpt-4o" in text  # each reply keeps the model that wrote it
    # Importing it again is a no-op, not a copy: a chatterm export of it still imports
    # as a copy (its own, unchanged rule).
    exported = tmp_path / "regex.json"
    ok(run_cli("export", ids[0].decode(), "--format", "json", "-o", str(exported)))
    copy = ok(run_cli("import", str(exported)))
    assert "already saved; imported a copy" in copy.stderr.decode()


def test_the_export_zip_itself_imports(tmp_path: Path) -> None:
    archive = tmp_path / "chatgpt-export.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zipped:
        zipped.writestr("user.json", '{"id": "user-1"}')
        zipped.writestr("chat.html", "<html></html>")
        zipped.write(FIXTURES / "chatgpt/conversations.json", "conversations.json")
        zipped.writestr("message_feedback.json", "[]")
    done = ok(run_cli("import", str(archive)))
    assert len(done.stdout.split()) == 3
    assert "from a ChatGPT export" in done.stderr.decode()
    refused = run_cli("import", "--as-new", str(archive))
    assert refused.returncode == 2
    assert refused.stderr.decode() == (f"chatterm: error: --as-new is for chatterm exports; "
                                       f"{archive} is a ChatGPT export, whose ids come from "
                                       "the file, so importing it again adds nothing\n")


def test_a_split_export_zip_and_an_unpacked_export_folder_import(tmp_path: Path) -> None:
    """Large ChatGPT exports (2026) hold conversations-000.json, -001.json, …"""
    conversations = json.loads((FIXTURES / "chatgpt/conversations.json").read_text())
    archive = tmp_path / "split.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("export/conversations-000.json", json.dumps(conversations[:2]))
        # The files overlap by one conversation: it is imported once.
        zipped.writestr("export/conversations-001.json", json.dumps(conversations[1:]))
        zipped.writestr("export/deeper/conversations.json", "not read")
    done = ok(run_cli("import", "--dry-run", str(archive)))
    assert len(done.stdout.splitlines()) == 3
    folder = tmp_path / "unpacked"
    (folder / "export").mkdir(parents=True)
    (folder / "export/conversations.json").write_text(json.dumps(conversations))
    (folder / "export/user.json").write_text("{}")
    done = ok(run_cli("import", str(folder)))
    assert len(done.stdout.split()) == 3 and "from a ChatGPT export" in done.stderr.decode()
    empty = tmp_path / "empty"
    empty.mkdir()
    failed = run_cli("import", str(empty))
    assert failed.returncode == 1 and "a folder without conversations.json; expected a " \
        "chatterm export" in failed.stderr.decode()


def test_dry_run_says_what_it_would_import_and_writes_nothing() -> None:
    source = FIXTURES / "chatgpt/conversations.json"
    dry = ok(run_cli("import", "--dry-run", str(source)))
    lines = dry.stdout.decode().splitlines()
    assert lines[0].endswith("  7 messages, 3 branches  Regex help")
    assert lines[1].endswith("  2 messages  Bilder & 日本語")
    assert dry.stderr.decode() == ("would import 3 conversations (11 messages) from a "
                                   "ChatGPT export; nothing was written\n")
    assert not database().exists()  # not even an empty database

    ok(run_cli("import", str(FIXTURES / "elia.sqlite")))
    size = database().stat().st_size
    dry = ok(run_cli("import", "--dry-run", str(FIXTURES / "elia.sqlite")))
    assert dry.stdout == b""
    assert "would import nothing new from Elia's database; 2 already imported" in \
        dry.stderr.decode()
    assert database().stat().st_size == size and len(listed()) == 2


@pytest.mark.parametrize(("content", "expected"), [
    (b"Just some notes, not an export.\n",
     "notes.txt: not a file chatterm can import; expected a chatterm export (JSON), a "
     "ChatGPT or Claude data export (conversations.json or the export's .zip), Elia's "
     "elia.sqlite or llm's logs.db"),
    (b'[{"mapping": {}, "id": "c1"}, ', "notes.txt: the file is broken JSON at line 1, "
                                        "column 31: Expecting value"),
    (b'{"hello": "world"}', "notes.txt: the file is JSON in no format chatterm knows; "
                            "expected a chatterm export (JSON), a ChatGPT or Claude data "
                            "export (conversations.json or the export's .zip), Elia's "
                            "elia.sqlite or llm's logs.db"),
    (b"PK\x03\x04\x14\x00not really a zip", "notes.txt: the .zip is damaged (File is not a zip "
                                           "file); expected a ChatGPT or Claude data export"),
])
def test_a_file_in_no_format_gets_one_line_naming_what_was_expected(
        tmp_path: Path, content: bytes, expected: str) -> None:
    ok(run_cli("import", str(FIXTURES / "elia.sqlite")))  # saved before: must survive
    notes = tmp_path / "notes.txt"
    notes.write_bytes(content)
    failed = run_cli("import", str(notes))
    assert failed.returncode == 1
    err = failed.stderr.decode()
    assert err.startswith(f"chatterm: error: {tmp_path}/{expected}"), err
    assert err.count("\n") == 1
    assert "Traceback" not in err
    assert len(listed()) == 2


def test_a_damaged_export_imports_nothing_not_even_its_good_conversations(
        tmp_path: Path) -> None:
    export = json.loads((FIXTURES / "chatgpt/conversations.json").read_text())
    export[2]["mapping"] = "lost"  # the third conversation is damaged
    broken = tmp_path / "conversations.json"
    broken.write_text(json.dumps(export))
    failed = run_cli("import", str(broken))
    assert failed.returncode == 1
    assert failed.stderr.decode() == (f"chatterm: error: {broken}: ChatGPT export: "
                                      "conversation 3: 'mapping' must be an object\n")
    assert not database().exists() or listed() == []
    # Cut short (a download that stopped): a line with where it broke.
    cut = tmp_path / "cut.json"
    cut.write_bytes((FIXTURES / "claude/conversations.json").read_bytes()[:900])
    failed = run_cli("import", str(cut))
    assert failed.returncode == 1 and "is broken JSON at line" in failed.stderr.decode()
    assert not database().exists() or listed() == []


def test_a_damaged_database_and_another_programs_database(tmp_path: Path) -> None:
    damaged = tmp_path / "elia.sqlite"
    data = bytearray((FIXTURES / "elia.sqlite").read_bytes())
    data[100:4096] = b"\xff" * (4096 - 100)  # the schema page overwritten
    damaged.write_bytes(bytes(data))
    failed = run_cli("import", str(damaged))
    assert failed.returncode == 1
    err = failed.stderr.decode()
    assert err == (f"chatterm: error: {damaged}: a damaged SQLite database (database disk "
                   "image is malformed); expected Elia's elia.sqlite or llm's logs.db\n"), err
    assert damaged.read_bytes() == bytes(data)

    import sqlite3

    other = tmp_path / "recipes.db"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE recipes (id INTEGER, name TEXT)")
    conn.close()
    failed = run_cli("import", str(other))
    assert failed.returncode == 1
    assert "an SQLite database chatterm cannot import (it holds recipes); expected" in \
        failed.stderr.decode()
    assert not database().exists() or listed() == []


def test_a_chatgpt_export_on_stdin_imports_and_a_database_on_stdin_is_refused() -> None:
    piped = ok(run_cli("import", "-",
                       input=(FIXTURES / "chatgpt/conversations.json").read_bytes()))
    assert len(piped.stdout.split()) == 3
    refused = run_cli("import", "-", input=(FIXTURES / "elia.sqlite").read_bytes())
    assert refused.returncode == 1
    assert refused.stderr.decode() == ("chatterm: error: stdin: a database is read from its "
                                       "file, not from stdin: give its path\n")


def test_a_chatterm_export_goes_through_the_same_command_dry_run_included(
        tmp_path: Path) -> None:
    [first, *_] = ok(run_cli("import", str(FIXTURES / "claude/conversations.json"))
                     ).stdout.decode().split()
    exported = tmp_path / "menu.json"
    ok(run_cli("export", first, "--format", "json", "-o", str(exported)))
    dry = ok(run_cli("import", "--dry-run", str(exported)))
    # The copy will not have the file's id (that one is taken): the line says so.
    assert dry.stdout.decode() == "(new id)  4 messages, 2 branches  Café menu in 日本語\n"
    assert dry.stderr.decode() == (f"would import 1 conversation as a copy under new ids, "
                                   f"{first[:8]} being saved already; nothing was written\n")
    assert len(listed()) == 2
    copy = ok(run_cli("import", str(exported)))
    [copy_id] = copy.stdout.decode().split()
    assert copy_id != first and len(listed()) == 3
    # The copy keeps the tree and its current branch.
    original, copied = shown(first), shown(copy_id)
    assert len(copied["messages"]) == len(original["messages"]) == 4
    by_id = {m["id"]: m["content"] for m in copied["messages"]}
    assert by_id[copied["current_id"]] == "Danke!\n\n[attached: photo.jpg]"


def test_a_folder_is_read_at_its_top_and_one_level_below_and_two_exports_are_refused(
        tmp_path: Path) -> None:
    """`chatterm import ~/Downloads` must not import every export any depth under it."""
    conversations = (FIXTURES / "chatgpt/conversations.json").read_text()
    folder = tmp_path / "downloads"
    (folder / "old/unpacked/export").mkdir(parents=True)
    (folder / "old/unpacked/export/conversations.json").write_text(conversations)
    refused = run_cli("import", "--dry-run", str(folder))
    assert refused.returncode == 1
    assert refused.stderr.decode() == (f"chatterm: error: {folder}: a folder without "
                                       "conversations.json; expected a chatterm export "
                                       "(JSON), a ChatGPT or Claude data export "
                                       "(conversations.json or the export's .zip), Elia's "
                                       "elia.sqlite or llm's logs.db\n")
    (folder / "chatgpt").mkdir()
    (folder / "chatgpt/conversations.json").write_text(conversations)
    dry = ok(run_cli("import", "--dry-run", str(folder)))
    assert len(dry.stdout.splitlines()) == 3
    (folder / "claude").mkdir()
    shutil.copy(FIXTURES / "claude/conversations.json", folder / "claude")
    two = run_cli("import", str(folder))
    assert two.returncode == 1 and two.stdout == b""
    assert two.stderr.decode() == (f"chatterm: error: {folder}: the folder holds 2 exports "
                                   "(chatgpt/, claude/); import one of them\n")
    assert not database().exists()
    # The folder's own file is the export; the ones below it are not looked at.
    shutil.copy(FIXTURES / "claude/conversations.json", folder)
    done = ok(run_cli("import", str(folder)))
    assert len(done.stdout.split()) == 2 and "from a Claude export" in done.stderr.decode()


def test_a_chatterm_export_s_dry_run_counts_its_branches_and_names_the_id_it_keeps(
        tmp_path: Path) -> None:
    [regex, *_] = ok(run_cli("import", str(FIXTURES / "chatgpt/conversations.json"))
                     ).stdout.decode().split()
    exported = tmp_path / "regex.json"
    ok(run_cli("export", regex, "--format", "json", "-o", str(exported)))
    dry = ok(run_cli("import", "--dry-run", str(exported)))
    assert dry.stdout.decode() == "(new id)  7 messages, 3 branches  Regex help\n"
    ok(run_cli("delete", regex, "--yes"))
    # Its ids free again, it would be imported as it is, under the file's id.
    dry = ok(run_cli("import", "--dry-run", str(exported)))
    assert dry.stdout.decode() == f"{regex[:8]}  7 messages, 3 branches  Regex help\n"
    assert dry.stderr.decode() == "would import 1 conversation; nothing was written\n"
    dry = ok(run_cli("import", "--dry-run", "--as-new", str(exported)))
    assert dry.stdout.decode() == "(new id)  7 messages, 3 branches  Regex help\n"
    assert dry.stderr.decode() == ("would import 1 conversation as a copy under new ids; "
                                   "nothing was written\n")
    [kept] = ok(run_cli("import", str(exported))).stdout.decode().split()
    assert kept == regex
