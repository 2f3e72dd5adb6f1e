"""A full disk: chatterm can still free space, the file shrinks, a cut reply says why.

The data dir is a real 16 MiB tmpfs, filled up by a plain file. Mounting needs root,
which is who runs the tests here and in CI; without it the tests skip and say why.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from chatterm_env import run_cli, write_config
from loopback import LoopbackServer, WaitFile, sse_chunks, sse_reply, stream_reply

from chatterm.store.space import reserve_path

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

CHAT = "chat/completions"


@pytest.fixture
def small_disk() -> Iterator[Path]:
    data = Path(os.environ["CHATTERM_DATA_DIR"])
    data.mkdir(parents=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m,mode=0700", "tmpfs",
                              str(data)], capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here (needs root): {mounted.stderr.strip()}")
    try:
        yield data
    finally:
        subprocess.run(["umount", "-l", str(data)], check=True)


def fill(directory: Path) -> Path:
    """Take every free byte. Unbuffered: a buffered file that met a short write kept the
    rest in its buffer and raised ENOSPC again on close, depending on how many bytes
    happened to be free (a multiple of the chunk or not)."""
    filler = directory / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        chunk = b"\xff" * 65536
        while True:
            try:
                written = os.write(fd, chunk)
            except OSError:
                break
            if written == 0:
                break
    finally:
        os.close(fd)
    return filler


def db_bytes(data: Path) -> int:
    return sum(p.stat().st_size for p in data.glob("chatterm.db*") if p.is_file()
               and not p.name.endswith("-reserve"))


def saved_reply_length(database: Path) -> int:
    try:
        conn = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
        try:
            row = conn.execute("SELECT max(length(content)) FROM messages "
                               "WHERE role = 'assistant'").fetchone()
        finally:
            conn.close()
    except sqlite3.OperationalError:
        return 0  # not created yet
    return row[0] or 0


def one_line(result: subprocess.CompletedProcess[bytes]) -> str:
    err = result.stderr.decode()
    assert "Traceback" not in err and err.count("\n") == 1, err
    return err.strip()


def test_delete_frees_space_on_a_full_disk_and_the_file_shrinks(
        small_disk: Path, loopback: LoopbackServer) -> None:
    write_config(loopback.url)
    loopback.always(CHAT, sse_reply(["many words here " * 60] * 50))  # ~48 KB a reply
    for i in range(8):
        assert run_cli("ask", f"question {i}").returncode == 0
    assert reserve_path(small_disk / "chatterm.db").exists()
    filler = fill(small_disk)

    refused = run_cli("ask", "one more")
    assert refused.returncode == 1 and "disk is full" in one_line(refused)
    listed = run_cli("list", "--json")
    assert listed.returncode == 0, listed.stderr
    ids = [c["id"] for c in json.loads(listed.stdout)]
    assert len(ids) == 8

    before = db_bytes(small_disk)
    deleted = run_cli("delete", ids[-1], "--yes")
    assert deleted.returncode == 0, deleted.stderr
    assert db_bytes(small_disk) < before - 40_000  # the file gave the pages back
    assert len(json.loads(run_cli("list", "--json").stdout)) == 7

    filler.unlink()
    assert run_cli("ask", "room again").returncode == 0
    assert reserve_path(small_disk / "chatterm.db").exists()  # made again


def test_a_reply_cut_by_a_full_disk_records_why(
        small_disk: Path, loopback: LoopbackServer, tmp_path: Path) -> None:
    write_config(loopback.url)
    chunks = sse_chunks(["x" * 999 + "\n"] * 3000)  # 3 MB, more than the reserve
    go_on = tmp_path / "go-on"
    loopback.script(CHAT, stream_reply([*chunks[:300], WaitFile(go_on, timeout=60),
                                        *chunks[300:]]))
    child = subprocess.Popen(
        [sys.executable, "-m", "chatterm", "ask", "write a lot"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)})
    database = small_disk / "chatterm.db"
    try:
        saved = 0
        while saved < 300_000:  # the first 300 KB are on disk
            assert child.poll() is None, child.stderr.read() if child.stderr else ""
            saved = saved_reply_length(database)
        filler = fill(small_disk)
        go_on.touch()
        _, err = child.communicate(timeout=120)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == 1
    assert "Traceback" not in err.decode() and "disk is full" in err.decode(), err
    filler.unlink()
    conv_id = json.loads(run_cli("list", "--json").stdout)[0]["id"]
    reply = json.loads(run_cli("show", conv_id, "--json").stdout)["messages"][-1]
    assert reply["state"] == "interrupted"
    assert len(reply["content"]) >= 300_000
    assert reply["content"] == ("x" * 999 + "\n") * (len(reply["content"]) // 1000)
    assert reply["error"] == (f"the disk was full: only the first {len(reply['content']):,} "
                              "characters of this reply could be saved")
