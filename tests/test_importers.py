"""The importers (chatterm/importers) on files the real programs made (Elia, llm) and on
exports built from the publicly documented formats (ChatGPT, Claude): trees, current
branches, models, times, what is skipped and how non-text content reads."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from chatterm import tree
from chatterm.conversation import Conversation, MessageState, Role
from chatterm.errors import ImportFormatError
from chatterm.importers import Defaults, detect
from chatterm.importers.common import stable_id

FIXTURES = Path(__file__).parent / "fixtures"
DEFAULTS = Defaults(provider="aimlapi", model="gpt-4o")


def read(name: str | Path) -> list[Conversation]:
    return detect(str(FIXTURES / name)).read(DEFAULTS)


def path_of(conv: Conversation) -> list[str]:
    """The contents along the current branch, root to leaf."""
    shape = tree.Shape(tree.Node(m.id, m.parent_id, i, m.created_at)
                       for i, m in enumerate(conv.messages))
    by_id = {m.id: m for m in conv.messages}
    assert conv.current_id is not None
    return [by_id[mid].content for mid in shape.path_to(conv.current_id)]


def versions(conv: Conversation, content: str) -> int:
    """How many versions the message holding `content` has (itself included)."""
    [message] = [m for m in conv.messages if m.content == content]
    return sum(1 for m in conv.messages if m.parent_id == message.parent_id)


def test_chatgpt_keeps_every_branch_and_makes_current_node_the_current_one() -> None:
    regex, _, _ = read("chatgpt/conversations.json")
    assert regex.title == "Regex help"
    assert (regex.provider, regex.model) == ("aimlapi", "gpt-4o")  # continues with yours
    # Both versions of the first reply, both versions of the second prompt.
    assert versions(regex, "Wrap it in word boundaries: `\\bword\\b`.") == 2
    assert versions(regex, "And in JavaScript?") == 2
    assert len(regex.messages) == 7
    current = path_of(regex)
    assert current[:3] == ["How do I match a whole word with a regex?",
                           "Wrap it in word boundaries: `\\bword\\b`.",
                           'Count the words in "héllo wörld" with Python.']
    # The code sent to the interpreter, its output and the answer are one reply.
    assert current[3] == ('```python\nimport re\nlen(re.findall(r"\\b\\w+\\b", "héllo wörld"))'
                          '\n```\n\nOutput:\n\n```\n2\n```\n\nThere are **2** words.')
    assert len(current) == 4
    # The hidden system node and the custom instructions are no messages; the instructions
    # are the system prompt.
    assert {m.role for m in regex.messages} == {Role.USER, Role.ASSISTANT}
    assert regex.system_prompt == "I write Python for a living.\n\nAnswer briefly."
    models = {m.content: m.model for m in regex.messages if m.role is Role.ASSISTANT}
    assert models["Use `\\b` on both sides."] == "gpt-4"
    assert models["The same: `/\\bword\\b/`."] == "gpt-4o"
    assert all(m.provider == "chatgpt" for m in regex.messages if m.role is Role.ASSISTANT)
    assert regex.created_at == 1717000000.0 and regex.updated_at == 1717000900.5
    assert regex.messages[0].created_at == 1717000010.0


def test_chatgpt_non_text_parts_become_readable_text() -> None:
    _, pictures, report = read("chatgpt/conversations.json")
    prompt, answer = pictures.messages
    assert prompt.content == ("[image 1024×768]\n\nWas ist auf dem Bild? Antworte auf 日本語."
                              "\n\n[attached: straße.png]")
    # Thinking is the reply's reasoning; the recap, the search call and the raw browsing
    # results are left out; the quote from the page is a block quote with its source.
    assert answer.reasoning == "**Looking at the picture**\n\nA street sign in Köln."
    assert answer.content == ("> Kölner Straßenschilder sind blau-weiß.\n>\n"
                              "> — [Straßenschilder in Köln](https://www.example.org/koeln)"
                              "\n\nケルンの青い道路標識です。")
    assert "search(" not in answer.content and "Thought for" not in answer.content
    assert answer.model == "o3-mini"
    # No title: the first prompt's words; a reply ChatGPT stopped is interrupted.
    assert report.title == "Summarise the attached report, please."
    assert report.messages[0].content.endswith("[attached: Q3 report.pdf]")
    assert report.messages[1].state is MessageState.INTERRUPTED


def test_claude_keeps_branches_thinking_tools_and_attachments() -> None:
    menu, cats, empty = read("claude/conversations.json")
    assert menu.title == "Café menu in 日本語"
    assert versions(menu, "コーヒー – 3ユーロ\nケーキ – 4ユーロ") == 2  # a retried reply
    assert path_of(menu) == [
        "Translate this café menu into Japanese.\n\nAttached menü.txt:\n\n"
        "```\nKaffee – 3 €\nKuchen – 4 €\n```",
        "コーヒー – 3ユーロ\nケーキ – 4ユーロ",
        "Danke!\n\n[attached: photo.jpg]"]
    [first] = [m for m in menu.messages if m.content.startswith("コーヒー –")]
    assert first.reasoning == "Two items; keep the prices."
    assert (first.provider, first.model) == ("claude.ai", "claude")  # the export names none
    [retried] = [m for m in menu.messages if m.content.startswith("*Used")]
    assert retried.content == ('*Used web_search*\n\n```json\n{\n  "query": "ケーキ 翻訳"\n}\n```'
                               "\n\n*Result from web_search*\n\nコーヒー:3ユーロ、ケーキ:4ユーロ。")
    assert "a very long page" not in retried.content
    # An older export: `text` only, no parent links: one line in order.
    assert [m.content for m in cats.messages] == ["What's a good name for a cat?",
                                                  "Mochi, Miso or Pixel."]
    assert cats.messages[1].parent_id == cats.messages[0].id
    assert cats.current_id == cats.messages[1].id
    assert cats.title == "What's a good name for a cat?"  # the export's name was empty
    assert empty.messages == []


def test_elia_database_made_by_elia() -> None:
    tabs, umlauts = read("elia.sqlite")
    assert [(m.role, m.content) for m in tabs.messages] == [
        (Role.USER, "Tabs or spaces?"), (Role.ASSISTANT, "Tabs or spaces? Spaces, four of them."),
        (Role.USER, "Why?"), (Role.ASSISTANT, "Because PEP 8 says so.")]
    assert [m.parent_id for m in tabs.messages[1:]] == [m.id for m in tabs.messages[:-1]]
    assert tabs.current_id == tabs.messages[-1].id
    assert tabs.system_prompt == "You are a helpful assistant named Elia."
    assert {m.model for m in tabs.messages if m.role is Role.ASSISTANT} == {"loop-gpt"}
    assert tabs.title == "Tabs or spaces?"  # Elia left it empty
    assert umlauts.title == "Umlaute & 日本語"
    assert umlauts.messages[1].content == "Ça marche — 日本語でも大丈夫です。"


@pytest.mark.parametrize("name", ["llm-logs.db", "llm-logs-old.db"])
def test_llm_logs_made_by_llm_new_and_old_layouts(name: str) -> None:
    monad, greeting, sqlite_fit, notes = read(name)
    assert monad.title == "What is a monad?"
    assert [(m.role, m.content, m.model) for m in monad.messages] == [
        (Role.USER, "What is a monad?", None),
        (Role.ASSISTANT, "A monad is a way to chain computations.", "loop-gpt"),
        (Role.USER, "And in Rust?", None),
        (Role.ASSISTANT, "In Rust, think of Option::and_then.", "loop-mini")]
    assert monad.current_id == monad.messages[-1].id
    usage = monad.messages[1].usage
    assert usage is not None and (usage.prompt_tokens, usage.completion_tokens) == (12, 7)
    assert greeting.system_prompt == "Réponds brièvement."
    assert [m.content for m in greeting.messages] == ["Grüße aus Köln — 日本語で?",
                                                      "Grüß dich! 日本語もどうぞ — ça va?"]
    assert sqlite_fit.messages[0].created_at < sqlite_fit.messages[1].created_at
    # `llm -f notes.txt PROMPT` (the prompt borrows a file's text), then `-c -a pixel.png`.
    assert [m.content for m in notes.messages] == [
        "Notizen über Köln\nZeile zwei\n\nSummarise these notes", "Two lines about Köln.",
        "And this picture?\n\n[attached: pixel.png]", "A single white pixel."]


def test_ids_are_stable_across_reads_and_derived_from_the_source() -> None:
    first, second = read("chatgpt/conversations.json"), read("chatgpt/conversations.json")
    assert [c.id for c in first] == [c.id for c in second]
    assert [m.id for m in first[0].messages] == [m.id for m in second[0].messages]
    assert first[0].id == stable_id("chatgpt", "6650a1f0-0000-4000-8000-00000000c0c1")
    # Two sources never share ids.
    others = {c.id for name in ("claude/conversations.json", "elia.sqlite", "llm-logs.db")
              for c in read(name)}
    assert not others & {c.id for c in first}


def test_a_chatgpt_export_with_a_dangling_parent_and_no_current_node(tmp_path: Path) -> None:
    export = json.loads((FIXTURES / "chatgpt/conversations.json").read_text())[:1]
    mapping = export[0]["mapping"]
    mapping["u1"]["parent"] = "gone"  # a parent the file does not hold: a root
    export[0]["current_node"] = None  # then the most recent branch is current
    path = tmp_path / "conversations.json"
    path.write_text(json.dumps(export))
    [conv] = detect(str(path)).read(DEFAULTS)
    assert conv.messages[0].parent_id is None
    assert conv.current_id is None  # the store picks the latest leaf


@pytest.mark.parametrize(("content", "expected"), [
    (b"hello", "not a file chatterm can import; expected a chatterm export"),
    (b"[1, 2", "is broken JSON at line 1, column 6"),
    (b'{"some": "thing"}', "JSON in no format chatterm knows; expected a chatterm export"),
    (b'[{"mapping": 5, "id": "x"}]', "conversation 1: 'mapping' must be an object"),
    (b'[{"chat_messages": [], "name": "x"}]', "conversation 1 has no 'uuid'"),
    (b"PK\x03\x04garbage", "the .zip is damaged"),
    (b"SQLite format 3\x00" + b"\x00" * 200, "a damaged SQLite database"),
    (b"", "the file is empty"),
])
def test_files_in_no_format_or_damaged_get_one_line(tmp_path: Path, content: bytes,
                                                    expected: str) -> None:
    path = tmp_path / "input"
    path.write_bytes(content)
    with pytest.raises(ImportFormatError) as caught:
        detect(str(path)).read(DEFAULTS)
    assert expected in caught.value.message and "\n" not in caught.value.message


def test_another_programs_sqlite_database_is_named(tmp_path: Path) -> None:
    path = tmp_path / "recipes.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE recipes (id INTEGER, name TEXT)")
    conn.close()
    with pytest.raises(ImportFormatError, match=r"holds recipes\); expected a chatterm export"):
        detect(str(path))


def test_a_claude_export_zip_is_read_from_its_conversations_json(tmp_path: Path) -> None:
    import zipfile

    archive = tmp_path / "data-2024-11-02-batch-0000.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("users.json", "[]")
        zipped.writestr("projects.json", "[]")
        zipped.write(FIXTURES / "claude/conversations.json", "conversations.json")
    source = detect(str(archive))
    assert source.kind == "a Claude export"
    assert [c.title for c in source.read(DEFAULTS)][:2] == ["Café menu in 日本語",
                                                            "What's a good name for a cat?"]


def test_an_llm_thread_forked_from_another_keeps_the_shared_messages_and_their_models(
        tmp_path: Path) -> None:
    """llm's LogStore.fork starts a thread at an existing message and copies nothing: the
    same row it inserts is inserted here, into a copy of the database llm made."""
    import shutil

    path = tmp_path / "logs.db"
    shutil.copyfile(FIXTURES / "llm-logs.db", path)
    with sqlite3.connect(path) as conn:
        [(first_reply,)] = conn.execute(
            "SELECT tip_message_hash FROM turns ORDER BY datetime_utc LIMIT 1").fetchall()
        conn.execute("INSERT INTO threads (id, name, tip_message_hash, forked_from, "
                     "datetime_utc) VALUES ('01forked', 'Fork of the monad', ?, "
                     "(SELECT thread_id FROM turns WHERE tip_message_hash = ?), "
                     "'2026-12-02 03:00:00+00:00')", (first_reply, first_reply))
    conn.close()
    conversations = detect(str(path)).read(DEFAULTS)
    [fork] = [c for c in conversations if c.title == "Fork of the monad"]
    assert [(m.content, m.model) for m in fork.messages] == [
        ("What is a monad?", None), ("A monad is a way to chain computations.", "loop-gpt")]
    assert fork.current_id == fork.messages[-1].id
    [original] = [c for c in conversations if c.title == "What is a monad?"]
    assert not {m.id for m in fork.messages} & {m.id for m in original.messages}


@pytest.mark.parametrize("name", ["chatgpt/conversations.json", "claude/conversations.json"])
def test_any_field_of_the_wrong_type_is_one_line_or_read_never_a_traceback(name: str) -> None:
    """Every field in turn, and random pairs, replaced by a value of another type: the
    reader either reads the file or says in one line what is wrong."""
    import copy
    import random

    base = json.loads((FIXTURES / name).read_text())

    def places(value: object, at: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
        found = [at] if at else []
        items = value.items() if isinstance(value, dict) else \
            enumerate(value) if isinstance(value, list) else []
        for key, inner in items:
            found += places(inner, (*at, key))
        return found

    def changed(at: list[tuple[object, ...]], junk: object) -> object:
        doc = copy.deepcopy(base)
        for where in at:
            target: Any = doc
            try:
                for key in where[:-1]:
                    target = target[key]
                target[where[-1]] = junk
            except (TypeError, KeyError, IndexError):
                pass  # an earlier change replaced what held this place
        return doc

    rng = random.Random(12)
    junk = [None, 7, 1e300, "", "\x1b[2J", [], {}, [1], {"a": 1}, True]
    every = places(base)
    trials = [[where] for where in every] + [rng.sample(every, 2) for _ in range(200)]
    reader = detect(str(FIXTURES / name))
    module = __import__(f"chatterm.importers.{name.split('/')[0]}", fromlist=["read"])
    for index, at in enumerate(trials):
        try:
            module.read(changed(at, junk[index % len(junk)]), DEFAULTS)
        except ImportFormatError as error:
            assert "\n" not in error.message
    assert reader.kind in ("a ChatGPT export", "a Claude export")


def test_a_chatgpt_file_holding_an_object_with_a_conversations_list(tmp_path: Path) -> None:
    """Some exports wrap the list: {"conversations": [...]}."""
    listed = json.loads((FIXTURES / "chatgpt/conversations.json").read_text())
    path = tmp_path / "conversations.json"
    path.write_text(json.dumps({"conversations": listed}))
    source = detect(str(path))
    assert source.kind == "a ChatGPT export"
    assert [c.title for c in source.read(DEFAULTS)] == [
        "Regex help", "Bilder & 日本語", "Summarise the attached report, please."]
    path.write_text('{"conversations": []}')
    assert detect(str(path)).read(DEFAULTS) == []
