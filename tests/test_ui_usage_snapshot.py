"""SVG snapshot of the usage screen: fixed replies on fixed days, "now" frozen by the
screen's `now` parameter (no clock, no sleep), UTC. Per day for 30 days, with both
charts, at 100×32. Update with `pytest --snapshot-update`."""

from __future__ import annotations

import datetime as dt
import os
import time
from pathlib import Path
from typing import Any

import pytest
from ui_helpers import LOOP_KEY, LOOP_KEY_ENV, make_app, wait_until, write_config

from chatterm.conversation import Conversation, Message, Role, Usage
from chatterm.store import Store

pytestmark = pytest.mark.slow

SIZE = (100, 32)
NOW = dt.datetime(2026, 3, 20, 15, tzinfo=dt.UTC).timestamp()


def seed() -> None:
    cid = "a5a90000000000000000000000000001"
    conv = Conversation(provider="loop", model="model-a", id=cid, title="costs",
                        created_at=NOW - 40 * 86400, updated_at=NOW)
    with Store.open() as store:
        store.create_conversation(conv)
        for number, (back, model, provider, prompt, completion, cost) in enumerate((
                (0, "model-a", "loop", 1200, 300, 0.0021),
                (1, "gpt-4o-mini", "openai", 800, 150, None),
                (3, "model-a", "loop", 2500, 900, 0.0048),
                (3, "anthropic/claude-3.5-sonnet-20241022", "openrouter", 4000, 1200, 0.031),
                (8, "gpt-4o-mini", "openai", 600, 90, None),
                (15, "model-a", "loop", 3000, 400, 0.0039),
                (27, "anthropic/claude-3.5-sonnet-20241022", "openrouter", 1800, 700, 0.0144),
                (33, "model-a", "loop", 999, 1, 0.5))):  # outside the 30 days
            when = NOW - back * 86400 - 3600
            store.add_message(Message(
                role=Role.ASSISTANT, content="r", conversation_id=cid, created_at=when,
                id=f"{cid}-{number}", provider=provider, model=model,
                usage=Usage(prompt_tokens=prompt, completion_tokens=completion, cost=cost)))


def test_the_usage_screen(monkeypatch: pytest.MonkeyPatch, snap_compare: Any) -> None:
    from chatterm.ui.usage.screen import UsageScreen

    monkeypatch.setenv(LOOP_KEY_ENV, LOOP_KEY)
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    write_config(Path(os.environ["CHATTERM_CONFIG"]), "http://127.0.0.1:9/v1")
    seed()
    app = make_app()

    async def run_before(pilot: Any) -> None:
        screen = UsageScreen(app.store, now=NOW)
        await app.push_screen(screen)
        await wait_until(pilot, lambda: screen.figures is not None and screen.charts_shown,
                         what="the figures and charts")
        await pilot.pause()

    try:
        assert snap_compare(app, terminal_size=SIZE, run_before=run_before)
    finally:
        if app.store is not None:
            app.store.close()
        monkeypatch.delenv("TZ")
        time.tzset()
