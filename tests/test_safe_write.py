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

import pytest
from chatterm_env import REPO_ROOT, run_cli

from chatterm.conversation import Conversation, Message, Role
from chatterm.errors import ChattermError, ConfigError
from chatterm.safe_write import ensure_private_dir, write_text
from chatterm.store import Store, schema

KILLED_WRITER = """
import os, signal, sys
from pathlib import Path

import pytest
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


@pytest.mark.e2e
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


@pytest.mark.e2e
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


@pytest.mark.e2e
def test_export_to_a_link_into_proc_self_fd_writes_to_stdout(tmp_path: Path) -> None:
    conv_id = seed()
    link = tmp_path / "my-stdout"
    link.symlink_to("/proc/self/fd/1")  # what /dev/stdout is
    result = run_cli("export", conv_id, "-o", str(link))
    assert result.returncode == 0, result.stderr
    assert b"the walrus said" in result.stdout
    assert link.is_symlink()


@pytest.mark.e2e
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


@pytest.mark.e2e
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


@pytest.mark.e2e
def test_a_killed_config_writes_temp_file_is_removed_at_the_next_run() -> None:
    config = Path(os.environ["CHATTERM_CONFIG"])
    config.parent.mkdir(parents=True)
    config.write_text('default_model = "m"\n')
    stale = leave_killed_temp(config.parent, config.name)
    result = run_cli("config", "show")
    assert result.returncode == 0, result.stderr
    assert not stale.exists()


@pytest.mark.slow
def test_a_backup_is_written_under_a_temp_name_and_a_killed_one_is_swept() -> None:
    seed()
    database = Path(os.environ["CHATTERM_DATA_DIR"]) / "chatterm.db"
    backup_name = f"chatterm.db.bak-v{schema.MIGRATIONS[-1].version}"
    stale = leave_killed_temp(database.parent, backup_name)
    # The half-written copy never carried the backup's name.
    assert not database.with_name(backup_name).exists()
    upgrade = ("import sys\nfrom chatterm.store import schema\nfrom chatterm.cli.main import main\n"
               "schema.MIGRATIONS.append(schema.Migration(schema.MIGRATIONS[-1].version + 1, "
               "'x', lambda c: c.execute("
               "'ALTER TABLE conversations ADD COLUMN pinned INTEGER')))\n"
               "sys.exit(main(['list']))\n")
    result = subprocess.run([sys.executable, "-c", upgrade], capture_output=True,
                            env={**os.environ, "PYTHONPATH": str(REPO_ROOT)}, timeout=60)
    assert result.returncode == 0, result.stderr
    assert not stale.exists()
    backup = database.with_name(backup_name)
    conn = sqlite3.connect(backup)
    assert conn.execute("SELECT title FROM conversations").fetchall() == [("export me",)]
    conn.close()
    assert sorted(p.name for p in database.parent.iterdir() if ".tmp" in p.name) == []


# ---- the one text writer and the one private-dir helper ------------------------------


def test_write_text_creates_private_files_and_replaces(tmp_path: Path) -> None:
    target = tmp_path / "out" / "export.json"
    target.parent.mkdir()
    write_text(target, "first ✓\n")
    assert target.read_text(encoding="utf-8") == "first ✓\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    target.chmod(0o644)
    write_text(target, "second\n")
    assert target.read_text() == "second\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert sorted(p.name for p in target.parent.iterdir()) == ["export.json"]


def test_write_text_failure_keeps_the_old_file(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "out" / "export.md"
    target.parent.mkdir()
    target.write_text("old and precious\n")

    def failing_replace(src: object, dst: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(ChattermError, match=r"cannot write .*export\.md: No space left"):
        write_text(target, "new")
    assert target.read_text() == "old and precious\n"
    assert sorted(p.name for p in target.parent.iterdir()) == ["export.md"]


def test_write_text_into_a_missing_directory_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ChattermError, match="cannot write"):
        write_text(tmp_path / "nope" / "x.json", "data")


def test_write_text_raises_the_callers_error_type(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^cannot write .*nope/config\.toml: No such file"):
        write_text(tmp_path / "nope" / "config.toml", "x", error=ConfigError)


def test_ensure_private_dir_makes_and_tightens_but_can_leave_a_users_dir(tmp_path: Path) -> None:
    made = ensure_private_dir(tmp_path / "a" / "b")
    assert stat.S_IMODE(made.stat().st_mode) == 0o700
    made.chmod(0o755)
    ensure_private_dir(made)  # ours: tightened again
    assert stat.S_IMODE(made.stat().st_mode) == 0o700
    chosen = tmp_path / "chosen"
    chosen.mkdir(mode=0o755)
    chosen.chmod(0o755)
    ensure_private_dir(chosen, tighten=False)  # the user's: left as it is
    assert stat.S_IMODE(chosen.stat().st_mode) == 0o755
    fresh = ensure_private_dir(tmp_path / "fresh", tighten=False)  # new: private all the same
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o700
