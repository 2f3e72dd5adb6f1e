"""Several chatterm programs on one data dir, and data files chatterm must not touch.

- two `chatterm ask` loops (subprocesses) and the TUI (headless, in this process) write
  the same database at once: everything each wrote is there, integrity_check passes;
- a schema migration run by the CLI backs the file up first, and a failed one leaves the
  database as it was, with one clear line;
- a data file that is not a chatterm database, or is corrupt, is named in one line and
  never modified.

test_store_concurrency.py and test_store_safety.py prove the store-level parts; this file
checks what a user of the programs sees.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from chatterm_env import REPO_ROOT, run_cli
from loopback import LoopbackServer, sse_reply
from ui_helpers import LOOP_KEY, LOOP_KEY_ENV, running, wait_until, write_config

from chatterm.store import Store, schema

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

CHAT = "chat/completions"
ASKS = 4  # per writer
WORDS = [f"w{i:02d} " for i in range(30)]
REPLY = "".join(WORDS)


@pytest.fixture
def server(loopback: LoopbackServer, monkeypatch: pytest.MonkeyPatch) -> LoopbackServer:
    monkeypatch.setenv(LOOP_KEY_ENV, LOOP_KEY)
    write_config(Path(os.environ["CHATTERM_CONFIG"]), loopback.url)
    return loopback


def database() -> Path:
    return Path(os.environ["CHATTERM_DATA_DIR"]) / "chatterm.db"


# ---- three writers at once ------------------------------------------------------------------


def ask_loop(tag: str, results: dict[str, Any]) -> None:
    """`ask` ASKS times, all in one conversation of its own; records its id and failures."""
    conversation: str | None = None
    failures = []
    for i in range(ASKS):
        target = ["--conversation", conversation] if conversation else []
        done = run_cli("ask", "--json", *target, f"{tag}-{i}", timeout=120)
        if done.returncode != 0:
            failures.append(done.stderr.decode())
            continue
        conversation = conversation or json.loads(done.stdout)["conversation_id"]
    results[tag] = (conversation, failures)


async def test_two_ask_loops_and_the_tui_lose_nothing(server: LoopbackServer) -> None:
    # ~1.2 s per reply, so the writers' streams (saved every 0.5 s) overlap.
    server.always(CHAT, sse_reply(WORDS, delay=0.04))
    results: dict[str, Any] = {}
    loops = [threading.Thread(target=ask_loop, args=(tag, results)) for tag in ("cli-a",
                                                                               "cli-b")]
    for thread in loops:
        thread.start()
    try:
        async with running() as (app, pilot):
            for i in range(ASKS):
                app.chat.prompt.insert(f"tui-{i}")
                await pilot.press("enter")
                await wait_until(pilot, lambda n=2 * (i + 1): (
                    len(app.chat.conversation.messages) >= n and not app.chat.busy),
                    timeout=60, what=f"TUI reply {i}")
            results["tui"] = (app.chat.conversation.id, [])
    finally:
        for thread in loops:
            await asyncio.to_thread(thread.join, 180)
    assert not any(thread.is_alive() for thread in loops)

    for tag in ("cli-a", "cli-b", "tui"):
        assert results[tag][1] == [], tag
    with Store.open() as store:
        listed = {s.id: s.message_count for s in store.list_conversations()}
        assert listed == {results[tag][0]: 2 * ASKS for tag in ("cli-a", "cli-b", "tui")}
        for tag in ("cli-a", "cli-b", "tui"):
            messages = store.get_conversation(results[tag][0]).messages
            assert [m.content for m in messages] == [
                text for i in range(ASKS) for text in (f"{tag}-{i}", REPLY)]
            assert {m.state.value for m in messages} == {"complete"}
            assert len(store.search(f'"{tag}-{ASKS - 1}"')) >= 1
        with store.raw_connection() as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
            conn.execute(
                "INSERT INTO messages_fts(messages_fts, rank) VALUES ('integrity-check', 1)")
    assert len(server.requests) == 3 * ASKS


# ---- a writer that holds the lock too long ---------------------------------------------------


def test_a_lock_held_past_the_busy_timeout_mid_stream_costs_nothing(
        server: LoopbackServer) -> None:
    server.script(CHAT, sse_reply(["seed"]))
    assert run_cli("ask", "seed").returncode == 0
    server.script(CHAT, sse_reply(WORDS[:20], delay=0.05))
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    child = subprocess.Popen([sys.executable, "-m", "chatterm", "ask", "while locked"],
                             env=env, cwd=REPO_ROOT, stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert child.stdout is not None
    first = os.read(child.stdout.fileno(), 100)  # streaming has begun
    assert first
    # Another program (an import, a backup tool) holds the write lock longer than
    # chatterm's 5 s busy timeout while the reply streams.
    holder = sqlite3.connect(database(), isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    time.sleep(6.5)  # the length of the fault, not a wait for something to happen
    holder.execute("COMMIT")
    holder.close()
    rest, err = child.communicate(timeout=60)
    assert (first + rest).decode().startswith("".join(WORDS[:20]))
    with Store.open() as store:
        conversation = store.get_conversation(store.last_conversation_id() or "")
        reply = conversation.messages[-1]
    assert (reply.state.value, reply.content) == ("complete", "".join(WORDS[:20]))
    assert child.returncode == 0, err.decode()


# ---- migrations through the CLI ---------------------------------------------------------------

# The newest schema version of this build.
LATEST = schema.MIGRATIONS[-1].version

# Runs the real CLI with one extra migration appended, as a future chatterm would have.
WITH_MIGRATION = """
import sys
from chatterm.store import schema
from chatterm.cli.main import main

def failing(conn):
    conn.execute("ALTER TABLE conversations ADD COLUMN pinned INTEGER")
    conn.execute("UPDATE conversations SET title = 'clobbered'")
    raise RuntimeError("disk gremlins in step two")

def working(conn):
    conn.execute("ALTER TABLE conversations ADD COLUMN pinned INTEGER DEFAULT 0")

apply = failing if sys.argv[1] == "fail" else working
schema.MIGRATIONS.append(schema.Migration(schema.MIGRATIONS[-1].version + 1, "pinned flag",
                                           apply))
sys.exit(main(sys.argv[2:]))
"""


def cli_with_migration(mode: str, *args: str) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    return subprocess.run([sys.executable, "-c", WITH_MIGRATION, mode, *args], env=env,
                          cwd=REPO_ROOT, capture_output=True, timeout=60)


def dump(path: Path) -> tuple[int, list[str]]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute("PRAGMA user_version").fetchone()[0], list(conn.iterdump())
    finally:
        conn.close()


def one_line(result: subprocess.CompletedProcess[bytes]) -> str:
    err = result.stderr.decode()
    assert "Traceback" not in err and err.count("\n") == 1, err
    return err.strip()


def test_a_failed_migration_run_by_the_cli_leaves_the_database_as_it_was(
        server: LoopbackServer) -> None:
    server.script(CHAT, sse_reply(["kept ", "safe"]))
    assert run_cli("ask", "remember this").returncode == 0
    before = dump(database())
    assert before[0] == LATEST

    failed = cli_with_migration("fail", "list")
    line = one_line(failed)
    assert failed.returncode == 1
    backup = database().with_name(f"chatterm.db.bak-v{LATEST}")
    assert line == (f"chatterm: error: upgrading {database()} to schema version {LATEST + 1} "
                    f"failed (disk gremlins in step two); the database was left as it was; a copy "
                    f"was saved as {backup}")
    assert dump(database()) == before
    assert dump(backup)[1] == before[1]
    assert backup.stat().st_mode & 0o777 == 0o600
    # And today's chatterm carries on with it.
    listed = json.loads(run_cli("list", "--json").stdout)
    assert [c["title"] for c in listed] == ["remember this"]


def test_a_migration_run_by_the_cli_backs_up_first_and_older_code_then_refuses(
        server: LoopbackServer) -> None:
    server.script(CHAT, sse_reply(["kept ", "safe"]))
    assert run_cli("ask", "remember this").returncode == 0
    before = dump(database())

    upgraded = cli_with_migration("work", "list", "--json")
    assert upgraded.returncode == 0, upgraded.stderr
    assert [c["title"] for c in json.loads(upgraded.stdout)] == ["remember this"]
    backup = database().with_name(f"chatterm.db.bak-v{LATEST}")
    assert dump(backup) == before
    assert dump(database())[0] == LATEST + 1

    fingerprint = hashlib.sha256(database().read_bytes()).hexdigest()
    refused = run_cli("list")
    assert refused.returncode == 1
    assert one_line(refused) == (
        f"chatterm: error: {database()} was written by a newer chatterm (schema version "
        f"{LATEST + 1}, this one knows up to {LATEST}); upgrade chatterm — the file was left "
        "untouched")
    assert hashlib.sha256(database().read_bytes()).hexdigest() == fingerprint


# ---- files that are not ours ------------------------------------------------------------------


def make_text_file(path: Path) -> str:
    path.write_text("my shopping list\n- eggs\n")
    return "is not a chatterm database"


def make_foreign_sqlite(path: Path) -> str:
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE recipes (name TEXT)")
    conn.execute("INSERT INTO recipes VALUES ('soup')")
    conn.commit()
    conn.close()
    return "does not belong to chatterm"


def make_corrupt(path: Path) -> str:
    size = path.stat().st_size
    with path.open("r+b") as handle:  # keep page 1 (header, schema), scribble on the rest
        handle.seek(4096)
        handle.write(bytes(range(256)) * ((size - 4096) // 256 + 1))
    return "corrupt"


def make_truncated(path: Path) -> str:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2 + 100])
    return "corrupt"


@pytest.mark.parametrize("damage", [make_text_file, make_foreign_sqlite, make_corrupt,
                                    make_truncated],
                         ids=["text-file", "foreign-sqlite", "corrupt", "truncated"])
def test_a_data_file_that_is_not_ours_is_named_and_never_touched(
        server: LoopbackServer, damage: Any) -> None:
    path = database()
    if damage in (make_corrupt, make_truncated):
        server.always(CHAT, sse_reply(["some ", "text"] * 200))
        for i in range(3):
            assert run_cli("ask", f"fill page {i}").returncode == 0
        assert not path.with_name("chatterm.db-wal").exists() or \
            path.with_name("chatterm.db-wal").stat().st_size == 0
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
    expected = damage(path)
    fingerprint = hashlib.sha256(path.read_bytes()).hexdigest()

    for argv in (["list"], ["ask", "hi"], ["search", "soup"]):
        result = run_cli(*argv)
        line = one_line(result)
        assert result.returncode == 1, (argv, line)
        assert str(path) in line and expected in line, line
        assert hashlib.sha256(path.read_bytes()).hexdigest() == fingerprint, argv
    assert len(server.requests) == (3 if damage in (make_corrupt, make_truncated) else 0)
