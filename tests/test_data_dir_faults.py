"""A data dir chatterm cannot write, and odd things next to the database, as the CLI shows them.

- on a read-only mount, `list`, `show`, `search` and `export` read as usual and `ask`
  says the data is read-only (before: "corrupt or not a chatterm database" for all);
- a directory where SQLite keeps the -wal file is named as such, not called corrupt.

The read-only mount is a real bind mount (`mount -o remount,bind,ro`), which needs root;
a plain `chmod 555` does not stop root, which is who runs these tests in CI. Without the
permission to mount, the test skips and says why.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from chatterm_env import run_cli

from chatterm.conversation import Conversation, Message, Role
from chatterm.store import Store

pytestmark = pytest.mark.e2e


def data_dir() -> Path:
    return Path(os.environ["CHATTERM_DATA_DIR"])


def seed(path: Path) -> str:
    with Store.open(path) as store:
        conv = Conversation(provider="p", model="m", title="kept on a shelf")
        conv.messages.append(Message(role=Role.USER, content="find the walrus"))
        store.create_conversation(conv)
        return conv.id


def one_line(result: subprocess.CompletedProcess[bytes]) -> str:
    err = result.stderr.decode()
    assert "Traceback" not in err and err.count("\n") == 1, err
    return err.strip()


@pytest.fixture
def read_only_data_dir(tmp_path: Path) -> Iterator[Path]:
    """CHATTERM_DATA_DIR as a read-only bind mount of a dir holding a seeded database."""
    source = tmp_path / "source"
    source.mkdir()
    seed(source / "chatterm.db")
    target = data_dir()
    target.mkdir(parents=True)
    mounted = subprocess.run(["mount", "--bind", str(source), str(target)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot bind-mount a directory here: {mounted.stderr.strip()}")
    try:
        remount = subprocess.run(["mount", "-o", "remount,bind,ro", str(target)],
                                 capture_output=True, text=True)
        if remount.returncode != 0:
            pytest.skip(f"cannot remount read-only: {remount.stderr.strip()}")
        yield target
    finally:
        subprocess.run(["umount", str(target)], check=True)


def test_a_read_only_data_dir_can_still_be_read(read_only_data_dir: Path) -> None:
    files = sorted(p.name for p in read_only_data_dir.iterdir())
    listed = run_cli("list", "--json")
    assert listed.returncode == 0, listed.stderr
    conv_id = json.loads(listed.stdout)[0]["id"]
    assert run_cli("list").stdout.decode().count("kept on a shelf") == 1
    shown = run_cli("show", conv_id)
    assert shown.returncode == 0 and b"find the walrus" in shown.stdout, shown.stderr
    found = run_cli("search", "walrus")
    assert found.returncode == 0 and b"walrus" in found.stdout, found.stderr
    exported = run_cli("export", conv_id, "--format", "json")
    assert exported.returncode == 0 and json.loads(exported.stdout)["id"] == conv_id
    # Nothing appeared next to the database (no -wal, -shm, writers dir).
    assert sorted(p.name for p in read_only_data_dir.iterdir()) == files


def test_writing_to_a_read_only_data_dir_says_read_only(read_only_data_dir: Path) -> None:
    for argv in (["ask", "hello"], ["rename", "kept", "new title"], ["delete", "kept", "--yes"]):
        result = run_cli(*argv)
        line = one_line(result)
        assert result.returncode == 1, (argv, line)
        assert "read-only" in line and "corrupt" not in line, line
        assert str(read_only_data_dir / "chatterm.db") in line


def test_a_directory_at_the_wal_path_is_named_not_called_corrupt() -> None:
    data_dir().mkdir(parents=True)
    database = data_dir() / "chatterm.db"
    seed(database)
    before = database.read_bytes()
    wal = data_dir() / "chatterm.db-wal"
    wal.mkdir()
    for argv in (["list"], ["ask", "hi"]):
        result = run_cli(*argv)
        line = one_line(result)
        assert result.returncode == 1
        assert line == (f"chatterm: error: {wal} is a directory; SQLite keeps the wal file "
                        "of chatterm.db there, so move it away (the database itself was "
                        "left untouched)")
    assert database.read_bytes() == before
