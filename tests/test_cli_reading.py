"""Commands that only read saved conversations create nothing where there is nothing."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from chatterm_env import run_cli, write_config
from loopback import LoopbackServer, sse_reply

pytestmark = pytest.mark.e2e


def _data_dir() -> Path:
    return Path(os.environ["CHATTERM_DATA_DIR"])


def test_reading_commands_leave_an_empty_data_dir_empty() -> None:
    data = _data_dir()
    assert not data.exists()
    listing = run_cli("list")
    assert listing.returncode == 0 and b"No conversations yet" in listing.stderr
    assert json.loads(run_cli("list", "--json").stdout) == []
    search = run_cli("search", "anything")
    assert search.returncode == 0 and b"No matches" in search.stderr
    for args in (["show", "abc"], ["export", "abc"], ["rename", "abc", "new"],
                 ["delete", "abc", "--yes"], ["ask", "-c", "--no-save", "hi"]):
        result = run_cli(*args)
        assert result.returncode == 2, (args, result.stderr)
        assert b"Traceback" not in result.stderr
    assert not data.exists(), sorted(str(p) for p in data.rglob("*"))


def test_reading_an_existing_database_still_works(loopback: LoopbackServer) -> None:
    write_config(loopback.url)
    loopback.script("chat/completions", sse_reply(["kept"]))
    assert run_cli("ask", "remember me").returncode == 0
    assert (_data_dir() / "chatterm.db").is_file()
    listing = json.loads(run_cli("list", "--json").stdout)
    assert [c["title"] for c in listing] == ["remember me"]
    hits = json.loads(run_cli("search", "remember", "--json").stdout)
    assert len(hits) == 1
