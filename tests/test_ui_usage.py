"""The usage screen (ui/usage/): the palette and F12 open it, its figures are the store's
and the CLI's, p and g switch the period and the grouping, the charts show at 120
columns and give way at 40, Esc closes, a failing store is one line, textual-plotext
loads only with the screen. The real app and a real store, seeded."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from ui_helpers import LOOP_KEY, LOOP_KEY_ENV, running, screen_text, wait_until, write_config

from chatterm import usage_text
from chatterm.conversation import Conversation, Message, Role, Usage
from chatterm.errors import StoreError
from chatterm.store import Store
from chatterm.store.usage import UsageReport

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def configured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(LOOP_KEY_ENV, LOOP_KEY)
    # Nothing is sent in these tests: the provider's address is never reached. The
    # screen has no default key; the user's [keys] entry gives it one.
    write_config(Path(os.environ["CHATTERM_CONFIG"]), "http://127.0.0.1:9/v1",
                 extra='[keys]\nshow_usage = "f11"\n')


def seed(today: dt.date | None = None) -> None:
    """Two models of two providers over the last 40 days (local noon), one reporting
    cost; one of them 35 days ago, outside 30 days."""
    today = today or dt.date.today()
    conv = Conversation(provider="loop", model="model-a", title="costs")
    with Store.open() as store:
        store.create_conversation(conv)
        for back, model, provider, usage in (
                (0, "model-a", "loop", Usage(prompt_tokens=120, completion_tokens=30, cost=0.002)),
                (0, "gpt-4o-mini", "openai", Usage(prompt_tokens=50, completion_tokens=5)),
                (2, "model-a", "loop", Usage(prompt_tokens=900, completion_tokens=100,
                                              cost=0.0125)),
                (9, "gpt-4o-mini", "openai", Usage(prompt_tokens=4000, completion_tokens=700)),
                (35, "model-a", "loop", Usage(prompt_tokens=7, completion_tokens=3, cost=1.0))):
            when = dt.datetime.combine(today - dt.timedelta(days=back), dt.time(12)).timestamp()
            store.add_message(Message(role=Role.USER, content="q", conversation_id=conv.id,
                                      created_at=when))
            store.add_message(Message(role=Role.ASSISTANT, content="r",
                                      conversation_id=conv.id, created_at=when,
                                      provider=provider, model=model, usage=usage))


def expected(by: str, period: str | None) -> UsageReport:
    since = usage_text.parse_since(period) if period else None
    with Store.open(read_only=True) as store:
        return store.usage(by=by, since=since)  # type: ignore[arg-type]


async def palette(app: Any, pilot: Any, command: str) -> None:
    from textual.command import CommandPalette

    await pilot.press("ctrl+p")
    await wait_until(pilot, lambda: isinstance(app.screen, CommandPalette), what="the palette")
    await pilot.press(*command.lower())
    await wait_until(pilot, lambda: command in screen_text(app), what=f"the {command} command")
    await pilot.press("enter")


async def usage_screen(app: Any, pilot: Any) -> Any:
    from chatterm.ui.usage.screen import UsageScreen

    await wait_until(pilot, lambda: isinstance(app.screen, UsageScreen), what="the usage screen")
    await wait_until(pilot, lambda: app.screen.figures is not None and not app.screen.busy,
                     what="the figures")
    return app.screen


async def switched(pilot: Any, screen: Any, key: str) -> None:
    before = screen.figures
    await pilot.press(key)
    await wait_until(pilot, lambda: screen.figures is not before and not screen.busy,
                     what=f"the figures after {key}")


async def test_the_palette_opens_the_usage_screen_with_the_stores_figures(
        configured: None) -> None:
    seed()
    async with running(size=(120, 40)) as (app, pilot):
        await palette(app, pilot, "Usage")
        screen = await usage_screen(app, pilot)
        # 30 days per day at first: the store's own report, to the line.
        assert (screen.period, screen.grouping) == ("30d", "day")
        assert screen.figures.report == expected("day", "30d")
        total = screen.figures.report.total
        assert (total.replies, total.tokens, total.costed) == (4, 5905, 2)
        lines = screen.table_text.splitlines()
        assert lines == usage_text.table(screen.figures.report)  # the CLI's table, whole
        assert "cost: reported for 2 of 4 replies" in screen.note_text

        # p: all time (the reply of 35 days ago counts); g: per model, then provider.
        await switched(pilot, screen, "p")
        assert screen.period is None
        assert screen.figures.report == expected("day", None)
        assert screen.figures.report.total.replies == 5
        await switched(pilot, screen, "g")
        assert screen.grouping == "model"
        assert screen.figures.report == expected("model", None)
        assert [line.split()[0] for line in screen.table_text.splitlines()[1:3]] == [
            "gpt-4o-mini", "model-a"]
        await switched(pilot, screen, "g")
        assert screen.figures.report == expected("provider", None)
        await switched(pilot, screen, "p")
        assert screen.period == "7d"
        assert screen.figures.report == expected("provider", "7d")
        assert "period" in screen_text(app) and "▸7 days" in screen_text(app)

        # The footer: the screen's own keys, none of the chat's.
        footer = screen_text(app).splitlines()[-2:]
        assert any("Period" in line for line in footer)
        assert not any("Model" in line or "New" in line for line in footer)

        await pilot.press("escape")
        await wait_until(pilot, lambda: app.screen is app.chat, what="the chat again")


@pytest.mark.e2e
def test_the_screens_figures_are_the_clis(configured: None) -> None:
    import asyncio

    from chatterm_env import run_cli

    seed()

    async def shown(by: str) -> UsageReport:
        async with running(size=(120, 40)) as (app, pilot):
            await pilot.press("f11")
            screen = await usage_screen(app, pilot)
            while screen.grouping != by:
                await switched(pilot, screen, "g")
            return screen.figures.report

    for by in ("day", "model", "provider"):
        report = asyncio.run(shown(by))
        done = run_cli("usage", "--since", "30d", "--by", by, "--json")
        assert done.returncode == 0, done.stderr
        cli = json.loads(done.stdout)
        assert cli["groups"] == [{by: line.key, **line.to_dict()} for line in report.lines]
        assert cli["total"] == report.total.to_dict()


async def test_the_charts_show_at_120_columns_and_give_way_at_40(configured: None) -> None:
    seed()
    async with running(size=(120, 40)) as (app, pilot):
        await pilot.press("f11")
        screen = await usage_screen(app, pilot)
        assert screen.charts_shown
        tokens, cost = screen.charts
        days, day_tokens, day_costs = usage_text.day_series(screen.figures.days)
        assert len(days) == 30 and tokens.shown_days == days and tokens.values == day_tokens
        assert cost.values == pytest.approx(day_costs) and cost.shown_title == "cost per day"
        assert "tokens per day" in screen_text(app)
        await switched(pilot, screen, "g")  # per model: the chart is still per day
        assert screen.charts_shown and tokens.values == day_tokens

        await pilot.resize_terminal(40, 20)
        await wait_until(pilot, lambda: not screen.charts_shown, what="the charts hidden")
        await pilot.pause()
        text = screen_text(app)
        assert "tokens per day" not in text
        table = screen.table_text.splitlines()
        assert max(len(line) for line in table) <= 38
        # The split of the tokens gives way; the group, the tokens and the cost stay.
        header = table[0].split()
        assert header[0] == "model" and header[-2:] == ["tokens", "cost"]
        assert "completion" not in header
        assert table[-1].split()[0] == "total" and table[-1].split()[-2:] == ["5,905", "0.0145"]
        for line in table:
            assert line in text
        await pilot.resize_terminal(120, 40)
        await wait_until(pilot, lambda: screen.charts_shown, what="the charts back")
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.screen is app.chat, what="the chat again")


async def test_no_replies_and_a_failing_store_are_one_line(configured: None) -> None:
    from textual.app import App

    from chatterm.ui.usage.screen import UsageScreen

    class Broken:
        def usage(self, **_: Any) -> UsageReport:
            raise StoreError("database disk image is malformed\nsecond line")

    async with running(size=(80, 30)) as (app, pilot):
        await pilot.press("f11")
        screen = await usage_screen(app, pilot)
        assert screen.table_text == "no replies since " + dt.date.fromtimestamp(
            usage_text.parse_since("30d")).isoformat()
        assert not screen.charts_shown

    host = App[None]()
    async with host.run_test(size=(80, 24)) as pilot:
        broken = UsageScreen(Broken())
        await host.push_screen(broken)
        await wait_until(pilot, lambda: bool(broken.problem), what="the problem")
        assert broken.note_text == ("Could not read the usage: database disk image is "
                                    "malformed second line")
        await pilot.press("p")  # still usable
        await wait_until(pilot, lambda: broken.period is None and not broken.busy,
                         what="another try")
        assert broken.problem
        await pilot.press("escape")
        await wait_until(pilot, lambda: host.screen is not broken, what="closed")


def test_plotext_loads_with_the_screen_not_with_the_app() -> None:
    code = ("import sys; import chatterm.ui.app, chatterm.ui.chat.screen, "
            "chatterm.ui.usage.screen; "
            "print([m for m in sys.modules if m.split('.')[0] in "
            "('textual_plotext', 'plotext')])")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=60)
    assert done.stdout.strip() == "[]", done.stderr
