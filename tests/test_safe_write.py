"""Files chatterm writes whole: through links, into FIFOs and terminals, no stale temp files.

`export -o` used to rename a temp file over whatever the name was: a symlink became a
regular file, a FIFO was replaced (its reader never got a byte), and `-o /dev/stdout` as
root replaced the container's /dev/stdout link. These tests never aim at the real
/dev/stdout: they use a FIFO and a pty made here, and a symlink of their own that points
into /proc/self/fd (which, done wrong, only replaces that private link).
"""

from __future__ import annotations

import json
import os
import pty
import signal
import sqlite3
import stat
import subprocess
import sys
import threading
from pathlib import Path

from chatterm_env import REPO_ROOT, run_cli

from chatterm.conversation import Conversation, Message, Role
from chatterm.store import Store

KILLED_WRITER = """
import os, signal, sys
from pathlib import Path
from chatterm import safe_write
fd, temp = safe_write.open_temp(Path(sys.argv[1]), sys.argv[2])
os.write(fd, b"half of a file " * 1000)
os.kill(os.getpid(), signal.SIGKILL)
"""


def seed() -> str:
    with Store.open() as store:
        conv = Conversation(provider="p", model="m", title="export me")
        conv.messages.append(Message(role=Role.USER, content="the walrus said"))
        store.create_conversation(conv)
        return conv.id


def leave_killed_temp(directory: Path, name: str) -> Path:
    """Run a writer that is SIGKILLed mid-write; returns the temp file it left."""
    before = set(directory.iterdir())
    result = subprocess.run([sys.executable, "-c", KILLED_WRITER, str(directory), name],
                            env={**os.environ, "PYTHONPATH": str(REPO_ROOT)}, timeout=60)
    assert result.returncode == -signal.SIGKILL
    (left,) = set(directory.iterdir()) - before
    assert left.name.startswith(f".{name}.") and left.stat().st_size > 0
    return left


def test_export_to_a_symlink_writes_through_it(tmp_path: Path) -> None:
    conv_id = seed()
    real = tmp_path / "notes" / "chat.md"
    real.parent.mkdir()
    real.write_text("old")
    link = tmp_path / "chat-link.md"
    link.symlink_to(real)
    result = run_cli("export", conv_id, "-o", str(link))
    assert result.returncode == 0, result.stderr
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert "the walrus said" in real.read_text()
    assert stat.S_IMODE(real.stat().st_mode) == 0o600
    assert sorted(p.name for p in real.parent.iterdir()) == ["chat.md"]  # no temp left


def test_export_into_a_fifo_feeds_its_reader(tmp_path: Path) -> None:
    conv_id = seed()
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()), daemon=True)
    reader.start()
    result = run_cli("export", conv_id, "--format", "json", "-o", str(fifo))
    if result.returncode != 0:
        with fifo.open("wb"):  # let the reader finish before failing
            pass
    reader.join(timeout=30)
    assert result.returncode == 0, result.stderr
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert json.loads(received[0])["id"] == conv_id


def test_export_to_a_link_into_proc_self_fd_writes_to_stdout(tmp_path: Path) -> None:
    conv_id = seed()
    link = tmp_path / "my-stdout"
    link.symlink_to("/proc/self/fd/1")  # what /dev/stdout is
    result = run_cli("export", conv_id, "-o", str(link))
    assert result.returncode == 0, result.stderr
    assert b"the walrus said" in result.stdout
    assert link.is_symlink()


def test_export_to_a_terminal_writes_to_it(tmp_path: Path) -> None:
    conv_id = seed()
    leader, follower = pty.openpty()
    try:
        result = run_cli("export", conv_id, "-o", os.ttyname(follower))
        assert result.returncode == 0, result.stderr
        seen = b""
        while b"the walrus said" not in seen:
            chunk = os.read(leader, 65536)
            assert chunk
            seen += chunk
    finally:
        os.close(leader)
        os.close(follower)


def test_a_killed_exports_temp_file_is_removed_by_the_next_export(tmp_path: Path) -> None:
    conv_id = seed()
    target = tmp_path / "chat.md"
    stale = leave_killed_temp(tmp_path, "chat.md")
    # Provably not stale: this test's own pid is alive, and a locked file is in use.
    live = tmp_path / f".chat.md.{os.getpid()}-0123abcd.tmp"
    live.write_text("someone is writing this")
    other = tmp_path / ".notes.md.1-0123abcd.tmp"  # another file's temp: not ours to judge
    other.write_text("x")
    result = run_cli("export", conv_id, "-o", str(target))
    assert result.returncode == 0, result.stderr
    assert not stale.exists()
    assert live.exists() and other.exists()
    assert "the walrus said" in target.read_text()


def test_a_killed_config_writes_temp_file_is_removed_at_the_next_run() -> None:
    config = Path(os.environ["CHATTERM_CONFIG"])
    config.parent.mkdir(parents=True)
    config.write_text('default_model = "m"\n')
    stale = leave_killed_temp(config.parent, config.name)
    result = run_cli("config", "show")
    assert result.returncode == 0, result.stderr
    assert not stale.exists()


def test_a_backup_is_written_under_a_temp_name_and_a_killed_one_is_swept() -> None:
    seed()
    database = Path(os.environ["CHATTERM_DATA_DIR"]) / "chatterm.db"
    stale = leave_killed_temp(database.parent, "chatterm.db.bak-v2")
    # The half-written copy never carried the backup's name.
    assert not database.with_name("chatterm.db.bak-v2").exists()
    upgrade = ("import sys\nfrom chatterm.store import schema\nfrom chatterm.cli.main import main\n"
               "schema.MIGRATIONS.append(schema.Migration(3, 'x', lambda c: c.execute("
               "'ALTER TABLE conversations ADD COLUMN pinned INTEGER')))\n"
               "sys.exit(main(['list']))\n")
    result = subprocess.run([sys.executable, "-c", upgrade], capture_output=True,
                            env={**os.environ, "PYTHONPATH": str(REPO_ROOT)}, timeout=60)
    assert result.returncode == 0, result.stderr
    assert not stale.exists()
    backup = database.with_name("chatterm.db.bak-v2")
    conn = sqlite3.connect(backup)
    assert conn.execute("SELECT title FROM conversations").fetchall() == [("export me",)]
    conn.close()
    assert sorted(p.name for p in database.parent.iterdir() if ".tmp" in p.name) == []
