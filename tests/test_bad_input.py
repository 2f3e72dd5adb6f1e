"""Big and broken input through the CLI: each works or gives one clear line, nothing is
half-imported.

- a 1 MB prompt on stdin is sent and saved whole (and stdin that is not UTF-8 is refused);
- a 100,000-message conversation imports and every command still works on it;
- an import file with invalid UTF-8 or broken JSON imports nothing;
- a 1 MB reply streams to stdout (a pipe and a terminal), is saved and exported intact;
- the TUI's StreamingMarkdown finishes rendering a 1 MB reply.

Store-level scale is tested in test_store_large.py and import validation in
test_transfer.py; this file checks the commands a user types.
"""

from __future__ import annotations

import asyncio
import json
import os
import pty
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from chatterm_env import REPO_ROOT, run_cli
from loopback import LoopbackServer, sse_reply

from chatterm.conversation import Conversation, Message, Role
from chatterm.transfer import export_json

CHAT = "chat/completions"
KEY_ENV = "BAD_INPUT_KEY"
MB = 1024 * 1024
HUGE = 100_000


@pytest.fixture
def server(loopback: LoopbackServer, monkeypatch: pytest.MonkeyPatch) -> LoopbackServer:
    from chatterm_env import write_config

    monkeypatch.setenv(KEY_ENV, "sk-bad-input-0123456789")
    write_config(loopback.url, api_key_env=KEY_ENV)
    return loopback


def ok(result: subprocess.CompletedProcess[bytes]) -> subprocess.CompletedProcess[bytes]:
    assert result.returncode == 0, result.stderr.decode()
    assert b"Traceback" not in result.stderr
    return result


def one_line_failure(result: subprocess.CompletedProcess[bytes]) -> str:
    err = result.stderr.decode()
    assert result.returncode != 0
    assert "Traceback" not in err and err.count("\n") == 1, err
    return err


def listed() -> list[dict[str, Any]]:
    return json.loads(ok(run_cli("list", "--json")).stdout)


def shown(conversation_id: str) -> dict[str, Any]:
    return json.loads(ok(run_cli("show", conversation_id, "--json", timeout=300)).stdout)


# ---- a 1 MB prompt ------------------------------------------------------------------------


@pytest.mark.e2e
@pytest.mark.slow
def test_a_1mb_prompt_on_stdin_is_sent_and_saved_whole(server: LoopbackServer) -> None:
    line = "Please summarise: ünïcödé ✓ text, with\ttabs and \"quotes\"\n"
    prompt = (line * (MB // len(line.encode()) + 1))[: MB // 2] + "THE END"
    assert len(prompt.encode()) > MB // 2 and len(prompt) > 500_000
    prompt = prompt + prompt  # > 1 MB of UTF-8
    assert len(prompt.encode()) > MB
    server.script(CHAT, sse_reply(["summary"]))
    result = ok(run_cli("ask", input=prompt.encode()))
    assert result.stdout == b"summary\n"
    assert server.requests[0].json["messages"] == [{"role": "user", "content": prompt}]
    [summary] = listed()
    assert summary["title"].startswith("Please summarise") and len(summary["title"]) < 100
    user, reply = shown(summary["id"])["messages"]
    assert user["content"] == prompt and reply["content"] == "summary"


@pytest.mark.e2e
def test_stdin_that_is_not_utf8_is_refused_before_anything_is_sent(
        server: LoopbackServer) -> None:
    err = one_line_failure(run_cli("ask", input=b"caf\xe9 au lait"))
    assert "UTF-8" in err
    assert server.requests == [] and listed() == []


# ---- 100,000 messages -----------------------------------------------------------------------


@pytest.mark.e2e
@pytest.mark.slow
def test_a_100000_message_conversation_imports_and_stays_usable(
        server: LoopbackServer, tmp_path: Path) -> None:
    conversation = Conversation(provider="test", model="test-model", title="marathon")
    conversation.messages = [
        Message(role=Role.USER if i % 2 == 0 else Role.ASSISTANT,
                content=f"turn {i} mentions item{i}", created_at=1_700_000_000.0 + i)
        for i in range(HUGE)
    ]
    export = tmp_path / "marathon.json"
    export.write_text(export_json(conversation))

    imported = ok(run_cli("import", str(export), timeout=300))
    assert imported.stdout.decode().strip() == conversation.id
    [summary] = listed()
    assert summary["message_count"] == HUGE and summary["title"] == "marathon"

    hits = json.loads(ok(run_cli("search", "item99999", "--json")).stdout)
    assert [h["conversation_id"] for h in hits] == [conversation.id]
    messages = shown(conversation.id)["messages"]
    assert len(messages) == HUGE and messages[-1]["content"] == f"turn {HUGE - 1} mentions " \
        f"item{HUGE - 1}"
    markdown = tmp_path / "marathon.md"
    ok(run_cli("export", conversation.id[:8], "-o", str(markdown), timeout=300))
    assert f"item{HUGE - 1}" in markdown.read_text()

    # Continuing sends the whole history, and the reply lands at the end.
    server.script(CHAT, sse_reply(["still ", "here"]))
    assert ok(run_cli("ask", "-c", "one more", timeout=300)).stdout == b"still here\n"
    sent = server.requests[0].json["messages"]
    assert len(sent) == HUGE + 1 and sent[-1] == {"role": "user", "content": "one more"}
    assert listed()[0]["message_count"] == HUGE + 2


# ---- broken import files ----------------------------------------------------------------------


def export_bytes(messages: int) -> bytes:
    conversation = Conversation(provider="p", model="m", title="to import")
    conversation.messages = [Message(role=Role.USER, content=f"message {i} ü")
                             for i in range(messages)]
    return export_json(conversation).encode()


def invalid_utf8_late(data: bytes) -> bytes:
    at = data.index("message 900 ü".encode())
    return data[:at] + b"message 900 \xc3\x28" + data[at + len("message 900 ü".encode()):]


def truncated(data: bytes) -> bytes:
    return data[: len(data) * 9 // 10]


def comma_missing(data: bytes) -> bytes:
    return data.replace(b'"message 500 \xc3\xbc",', b'"message 500 \xc3\xbc"', 1)


@pytest.mark.e2e
@pytest.mark.parametrize(("damage", "expected"), [
    (invalid_utf8_late, "UTF-8"), (truncated, "broken JSON"), (comma_missing, "broken JSON"),
], ids=["invalid-utf8", "truncated", "comma-missing"])
def test_a_broken_import_file_imports_nothing(
        server: LoopbackServer, tmp_path: Path, damage: Any, expected: str) -> None:
    server.script(CHAT, sse_reply(["mine"]))
    ok(run_cli("ask", "already here"))
    path = tmp_path / "broken.json"
    path.write_bytes(damage(export_bytes(1000)))
    for source in (["import", str(path)], ["import", "-"]):
        err = one_line_failure(run_cli(*source, input=path.read_bytes()))
        assert expected in err, err
    assert [c["title"] for c in listed()] == ["already here"]
    hits = json.loads(ok(run_cli("search", "message", "--json")).stdout)
    assert hits == []


@pytest.mark.e2e
def test_importing_the_same_conversation_twice_imports_a_copy_and_says_so(
        server: LoopbackServer, tmp_path: Path) -> None:
    conversation = Conversation(provider="p", model="m", title="to import")
    for i in range(1000):
        parent = conversation.messages[-1].id if conversation.messages else None
        conversation.messages.append(Message(role=Role.USER if i % 2 == 0 else Role.ASSISTANT,
                                             content=f"message {i}", parent_id=parent))
    path = tmp_path / "good.json"
    path.write_bytes(export_json(conversation).encode())
    first = ok(run_cli("import", str(path)))
    again = ok(run_cli("import", str(path)))
    original, copy = first.stdout.decode().strip(), again.stdout.decode().strip()
    assert original != copy
    note = again.stderr.decode().strip().splitlines()
    assert len(note) == 1 and "already saved; imported a copy" in note[0]
    assert copy[:8] in note[0]
    summaries = listed()
    assert sorted(s["id"] for s in summaries) == sorted([original, copy])
    assert all(s["message_count"] == 1000 for s in summaries)
    old, new = shown(original)["messages"], shown(copy)["messages"]
    assert [m["content"] for m in old] == [m["content"] for m in new]
    assert not {m["id"] for m in old} & {m["id"] for m in new}
    # Links between messages point inside the copy.
    assert [m["parent_id"] for m in new[1:]] == [m["id"] for m in new[:-1]]
    assert new[0]["parent_id"] is None
    # --as-new gives new ids even when the file's are free, and says nothing about it.
    fresh = tmp_path / "fresh.json"
    fresh.write_bytes(path.read_bytes().replace(original.encode(), b"f" * 32))
    third = ok(run_cli("import", "--as-new", str(fresh)))
    assert third.stderr == b"" and third.stdout.decode().strip() != "f" * 32


# ---- a 1 MB reply ------------------------------------------------------------------------------

PIECE = "Line of a long reply: ünïcödé ✓ and `code`\n\t- item\n"


def one_mb_reply() -> list[str]:
    pieces = [PIECE * 80] * (MB // len((PIECE * 80).encode()) + 1)
    assert len("".join(pieces).encode()) > MB
    return pieces


@pytest.mark.e2e
@pytest.mark.slow
def test_a_1mb_reply_streams_to_a_pipe_and_is_saved_and_exported_intact(
        server: LoopbackServer, tmp_path: Path) -> None:
    pieces = one_mb_reply()
    text = "".join(pieces)
    server.script(CHAT, sse_reply(pieces))
    result = ok(run_cli("ask", "write a lot"))
    assert text.endswith("\n") and result.stdout == text.encode()  # no newline added
    [summary] = listed()
    _, reply = shown(summary["id"])["messages"]
    assert reply["state"] == "complete" and reply["content"] == text
    plain = ok(run_cli("show", summary["id"])).stdout.decode()
    assert text in plain
    ok(run_cli("export", summary["id"], "-o", str(tmp_path / "big.md")))
    assert text in (tmp_path / "big.md").read_text()


@pytest.mark.e2e
@pytest.mark.slow
def test_a_1mb_reply_streams_to_a_terminal(server: LoopbackServer) -> None:
    pieces = one_mb_reply()
    server.script(CHAT, sse_reply(pieces))
    main_fd, child_fd = pty.openpty()
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    child = subprocess.Popen([sys.executable, "-m", "chatterm", "ask", "write a lot"],
                             stdout=child_fd, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                             env=env, cwd=REPO_ROOT)
    os.close(child_fd)
    output = bytearray()
    try:
        while True:  # read as it comes: a terminal buffers only a few KB
            try:
                chunk = os.read(main_fd, 65536)
            except OSError:  # EIO once the child has closed its side
                break
            if not chunk:
                break
            output += chunk
        _, err = child.communicate(timeout=120)
    finally:
        os.close(main_fd)
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == 0, err
    shown_text = bytes(output).replace(b"\r\n", b"\n").decode()
    assert shown_text == "".join(pieces)  # newlines and tabs kept, nothing escaped


# ---- the TUI's Markdown view ----------------------------------------------------------------


@pytest.mark.slow
async def test_streaming_markdown_finishes_a_1mb_reply() -> None:
    widgets = pytest.importorskip("chatterm.ui.markdown.streaming")
    from textual.app import App, ComposeResult
    from textual.containers import VerticalScroll

    paragraph = "Some *markdown* with `code` and **bold** words, long enough to wrap.\n\n"
    fence = "```python\n" + "print('hello world')  # a comment\n" * 40 + "```\n\n"
    unit = paragraph * 10 + "- one\n- two\n\n" + fence
    text = (unit * (MB // len(unit) + 1))[:MB] + "\n\nTHE LAST LINE"

    class Viewer(App[None]):
        def compose(self) -> ComposeResult:
            with VerticalScroll():
                yield widgets.StreamingMarkdown(id="reply")

    async def feed() -> Any:
        app = Viewer()
        async with app.run_test(size=(100, 40)) as pilot:
            view = app.query_one("#reply", widgets.StreamingMarkdown)
            for start in range(0, len(text), 16384):
                view.append(text[start : start + 16384])
                await pilot.pause(0)
            view.finish()
            await pilot.pause()
            return view, view.rendered_text()

    view, rendered = await asyncio.wait_for(feed(), timeout=240)
    assert view.text == text and not view.is_streaming
    assert "THE LAST LINE" in rendered and "print('hello world')" in rendered


# ---- NaN and infinity ---------------------------------------------------------------------


@pytest.mark.e2e
@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "NaN"])
def test_a_non_finite_temperature_is_refused_before_anything_is_sent(
    server: LoopbackServer, value: str
) -> None:
    result = run_cli("ask", f"--temperature={value}", "hi")
    err = result.stderr.decode()
    assert result.returncode == 2 and "Traceback" not in err
    assert "finite" in err.splitlines()[0]
    assert not server.requests
    assert listed() == []  # nothing stored, so no later `ask -c` can inherit it


@pytest.mark.e2e
@pytest.mark.parametrize(("key", "line"), [
    ("read_timeout", "read_timeout = nan"), ("connect_timeout", "connect_timeout = inf"),
    ("params.temperature", "[params]\ntemperature = nan")])
def test_a_non_finite_number_in_the_config_is_one_line(
    loopback: LoopbackServer, monkeypatch: pytest.MonkeyPatch, key: str, line: str
) -> None:
    from chatterm_env import write_config

    monkeypatch.setenv(KEY_ENV, "sk-bad-input-0123456789")
    path = write_config(loopback.url, api_key_env=KEY_ENV)
    # Replace the provider's own line for the key, or add a table at the end.
    text = "\n".join(row for row in path.read_text().splitlines()
                     if not row.startswith(key + " "))
    path.write_text(f"{text}\n{line}\n")
    err = one_line_failure(run_cli("ask", "hi"))
    assert key in err and "finite" in err
    assert not loopback.requests


@pytest.mark.e2e
def test_config_set_refuses_nan_and_inf(server: LoopbackServer) -> None:
    for key, value in (("params.temperature", "nan"), ("providers.test.read_timeout", "inf")):
        err = one_line_failure(run_cli("config", "set", key, value))
        assert "finite" in err
    assert "nan" not in Path(os.environ["CHATTERM_CONFIG"]).read_text()


@pytest.mark.e2e
def test_a_conversation_stored_with_nan_params_continues(server: LoopbackServer) -> None:
    # An older chatterm stored `--temperature nan` in the conversation; every later
    # `ask -c` then failed to encode its request.
    import sqlite3

    server.script(CHAT, [sse_reply(["first"]), sse_reply(["second"])])
    ok(run_cli("ask", "--temperature", "0.5", "hi"))
    db = Path(os.environ["CHATTERM_DATA_DIR"]) / "chatterm.db"
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE conversations SET params = "
                     "'{\"temperature\":NaN,\"top_p\":Infinity,\"stop\":[],\"seed\":1.5}'")
    result = ok(run_cli("ask", "-c", "again"))
    assert result.stdout == b"second\n"
    body = server.wait_for_requests(2)[1].json
    assert "temperature" not in body and "top_p" not in body and "seed" not in body


@pytest.mark.e2e
def test_an_infinite_cost_from_the_server_exports_and_imports_back(
    server: LoopbackServer, tmp_path: Path
) -> None:
    # `1e999` parses as inf: it used to be stored, exported as Infinity, and refused by
    # `import` of that very export.
    from loopback import sse_event, stream_reply

    server.script(CHAT, stream_reply([
        sse_event({"choices": [{"index": 0, "delta": {"content": "priced"}}]}),
        b'data: {"choices":[],"usage":{"prompt_tokens":1,"completion_tokens":1,'
        b'"cost":1e999,"cost_details":{"upstream":-1e999}}}\n\n',
        sse_event({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}),
        b"data: [DONE]\n\n"]))
    ok(run_cli("ask", "hi"))
    conversation_id = listed()[0]["id"]
    reply = shown(conversation_id)["messages"][-1]
    assert reply["content"] == "priced" and reply["usage"]["cost"] is None
    exported = tmp_path / "out.json"
    ok(run_cli("export", conversation_id, "--format", "json", "-o", str(exported)))
    assert "Infinity" not in exported.read_text()
    ok(run_cli("delete", conversation_id, "--yes"))
    ok(run_cli("import", str(exported)))
    assert shown(conversation_id)["messages"][-1]["content"] == "priced"


@pytest.mark.e2e
def test_an_infinite_cost_stored_by_an_older_chatterm_still_exports_and_imports(
    server: LoopbackServer, tmp_path: Path
) -> None:
    import sqlite3

    server.script(CHAT, sse_reply(["kept"]))
    ok(run_cli("ask", "hi"))
    conversation_id = listed()[0]["id"]
    db = Path(os.environ["CHATTERM_DATA_DIR"]) / "chatterm.db"
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE messages SET usage = '{\"cost\":Infinity,\"raw\":{\"cost\":NaN}}' "
                     "WHERE role = 'assistant'")
    exported = tmp_path / "old.json"
    ok(run_cli("export", conversation_id, "--format", "json", "-o", str(exported)))
    ok(run_cli("delete", conversation_id, "--yes"))
    ok(run_cli("import", str(exported)))
    assert shown(conversation_id)["messages"][-1]["content"] == "kept"
