"""What the CLI writes to a terminal is inert: no escape sequence, C1 control or bidi
override from a file, a database or a server reaches it raw, on stdout or stderr.

Each command runs as a real subprocess on a pseudo-terminal (stdin, stdout and stderr),
as a person would run it; piped, the same commands give the bytes exactly.
"""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest
from chatterm_env import REPO_ROOT, run_cli, write_config
from loopback import LoopbackServer, json_reply, sse_reply

from chatterm.conversation import Conversation, Message, Role
from chatterm.store import Store

pytestmark = pytest.mark.e2e

ESCAPES = ("\x1b", "\x07", "\x9b", "\x9d", "\x9c")
BIDI = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
# An id as a hostile export file would carry it: clear the screen, set the clipboard.
HOSTILE_ID = "\x1b[2J\x1b]52;c;cHduZWQ=\x07abc"
HOSTILE_TITLE = "meeting \x1b]0;owned\x07 notes \u202eexe.txt\u202c \x9b31m"


def on_terminal(*args: str, answer: bytes = b"", timeout: float = 60) -> tuple[int, str]:
    """Run `chatterm ARGS` with a pty as stdin, stdout and stderr; (exit code, output)."""
    main_fd, child_fd = pty.openpty()
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    child = subprocess.Popen([sys.executable, "-m", "chatterm", *args], stdin=child_fd,
                             stdout=child_fd, stderr=child_fd, env=env, cwd=REPO_ROOT)
    os.close(child_fd)
    if answer:
        os.write(main_fd, answer)  # typed ahead: the terminal holds it until it is read
    output = bytearray()
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([main_fd], [], [], 0.5)
            if not ready:
                if child.poll() is not None:
                    break
                continue
            try:
                chunk = os.read(main_fd, 65536)
            except OSError:  # EIO once the child has closed its side
                break
            if not chunk:
                break
            output += chunk
        code = child.wait(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        os.close(main_fd)
        if child.poll() is None:
            child.kill()
            child.wait()
    return code, bytes(output).decode("utf-8", "replace").replace("\r\n", "\n")


def assert_inert(output: str) -> None:
    assert "Traceback" not in output, output
    # chatterm's own highlight of a search hit is the one sequence allowed through.
    output = output.replace("\x1b[1;33m", "").replace("\x1b[0m", "")
    for raw in (*ESCAPES, *BIDI):
        assert raw not in output, f"{raw!r} reached the terminal: {output!r}"


def export_file(path: Path, conversation_id: str, message_id: str = "m1") -> Path:
    path.write_text(json.dumps({
        "format": "chatterm", "version": 1, "id": conversation_id, "title": HOSTILE_TITLE,
        "provider": "p", "model": "m", "created_at": 1,
        "messages": [{"id": message_id, "role": "user", "content": "findme", "created_at": 2}],
    }))
    return path


@pytest.mark.parametrize("where", ["conversation id", "message id"])
def test_import_refuses_an_id_holding_escape_sequences_in_one_inert_line(
        tmp_path: Path, where: str) -> None:
    ids = (HOSTILE_ID, "m1") if where == "conversation id" else ("c1", HOSTILE_ID)
    path = export_file(tmp_path / "evil.json", *ids)
    code, output = on_terminal("import", str(path))
    assert code != 0
    assert_inert(output)
    assert "not a valid id" in output and output.count("\n") == 1, output
    assert run_cli("list", "--json").stdout.strip() in (b"", b"[]")  # nothing imported


def seed_hostile_conversation() -> str:
    """A conversation saved before ids were checked on import: its id and title hostile."""
    conversation = Conversation(provider="p", model="m", id=HOSTILE_ID, title=HOSTILE_TITLE)
    conversation.messages.append(Message(role=Role.USER, content="findme \u202eevil",
                                         created_at=2))
    with Store.open() as store:
        store.import_conversation(conversation)
    return HOSTILE_ID


def test_every_command_shows_hostile_ids_and_titles_inert(tmp_path: Path) -> None:
    seed_hostile_conversation()
    prefix = HOSTILE_ID[:6]  # a unique prefix, typed (or pasted) as the user would
    runs = {
        "list": on_terminal("list"),
        "search": on_terminal("search", "findme"),
        "show": on_terminal("show", prefix),
        "export": on_terminal("export", prefix),
        "export -o": on_terminal("export", prefix, "-o", str(tmp_path / "out.md")),
        "rename": on_terminal("rename", prefix, "still \x1b[2J here"),
        "delete (declined)": on_terminal("delete", prefix, answer=b"n\n"),
        "no such id": on_terminal("show", "\x1b]52;c;eA==\x07zz"),
        "bad flag": on_terminal("list", "--limit", "\x1b[2J"),
    }
    for name, (_code, output) in runs.items():
        assert_inert(output)
        assert output.strip(), name
    assert "␛[2J" in runs["list"][1] and "\\u202e" in runs["list"][1]
    assert "Delete '" in runs["delete (declined)"][1] and runs["delete (declined)"][0] == 1
    assert "Not deleted." in runs["delete (declined)"][1]
    code, output = on_terminal("delete", prefix, "--yes")
    assert code == 0 and "deleted ␛[2J" in output
    assert_inert(output)


def test_piped_output_keeps_the_bytes_exact() -> None:
    seed_hostile_conversation()
    listed = json.loads(run_cli("list", "--json").stdout)
    assert listed[0]["id"] == HOSTILE_ID and listed[0]["title"] == HOSTILE_TITLE
    plain = run_cli("list").stdout.decode()
    assert HOSTILE_TITLE in plain


def test_json_on_a_terminal_escapes_c1_and_bidi_and_means_the_same(
        loopback: LoopbackServer) -> None:
    write_config(loopback.url)
    text = f"c1 \x9b31m \x9d0;t\x9c bidi {BIDI} done"
    loopback.script("chat/completions", sse_reply([text[:7], text[7:]]))
    code, asked = on_terminal("ask", "--json", "hi")
    assert code == 0, asked
    assert_inert(asked)
    assert json.loads(asked)["content"] == text  # the same value, escaped
    evil_model = {"id": f"evil\x9b2J{BIDI}", "object": "model"}
    loopback.script("models", json_reply({"data": [evil_model]}))
    code, models = on_terminal("models", "--refresh", "--json")
    assert code == 0, models
    assert_inert(models)
    assert f"evil\x9b2J{BIDI}" in {m["id"] for m in json.loads(models)}
    code, listed = on_terminal("list", "--json")
    assert code == 0
    assert_inert(listed)
    # Piped, the JSON holds the characters themselves.
    loopback.script("chat/completions", sse_reply([text]))
    piped = run_cli("ask", "--json", "again")
    assert text in piped.stdout.decode()
