"""One wording for "how long ago": the CLI's list, the sidebar and the model list agree."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest
from chatterm_env import run_cli
from ui_helpers import LOOP_KEY, LOOP_KEY_ENV, running, wait_until, write_config

from chatterm.conversation import Conversation
from chatterm.store import Store
from chatterm.timefmt import relative_time

NOW = 1_750_000_000.0


def test_relative_time_wording() -> None:
    assert relative_time(NOW - 5, NOW) == "just now"
    assert relative_time(NOW + 100, NOW) == "just now"  # a clock a little ahead of ours
    assert relative_time(NOW - 180, NOW) == "3 min ago"
    assert relative_time(NOW - 2 * 3600 - 1, NOW) == "2 h ago"
    assert relative_time(NOW - 30 * 3600, NOW) == "yesterday"
    assert relative_time(NOW - 4 * 86400, NOW) == "4 days ago"
    assert relative_time(NOW - 40 * 86400, NOW) == time.strftime(
        "%Y-%m-%d", time.localtime(NOW - 40 * 86400))
    # Every wording fits the 10 columns `chatterm list` gives it.
    for age in (0, 59 * 60, 23 * 3600, 36 * 3600, 6 * 86400, 400 * 86400):
        assert len(relative_time(NOW - age, NOW)) <= 10


def seed(title: str, age: float) -> None:
    when = time.time() - age
    with Store.open() as store:
        store.create_conversation(Conversation(provider="loop", model="m", title=title,
                                               created_at=when, updated_at=when))


@pytest.mark.e2e
async def test_the_cli_and_the_sidebar_say_it_the_same_way(loopback: Any,
                                                            monkeypatch: Any) -> None:
    seed("four days", 4 * 86400 + 60)
    seed("long ago", 40 * 86400)
    date = time.strftime("%Y-%m-%d", time.localtime(time.time() - 40 * 86400))
    listing = run_cli("list").stdout.decode()
    assert "4 days ago  m" in listing and f"{date}  m" in listing
    write_config(Path(os.environ["CHATTERM_CONFIG"]), loopback.url)
    monkeypatch.setenv(LOOP_KEY_ENV, LOOP_KEY)
    async with running() as (app, pilot):
        await pilot.press("ctrl+b")

        def sidebar_lines() -> list[str]:
            from textual.widgets import OptionList

            found = app.query("#sidebar-list")
            if not found:
                return []
            return [str(o.prompt) for o in found.first(OptionList).options]

        await wait_until(pilot, lambda: len(sidebar_lines()) == 2, what="the sidebar")
        assert sidebar_lines() == ["four days\n4 days ago · m", f"long ago\n{date} · m"]
