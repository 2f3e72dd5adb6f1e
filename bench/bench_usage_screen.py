"""The app's usage screen over the store of bench_usage.py (200,000 messages).

Run: python bench/bench_usage_screen.py   (from the repo root; about a minute)

Headless (Textual's run_test, 120×40): the median time from pushing the usage screen to
its figures drawn (both queries on a thread, the table and the two charts; the first
opening also imports textual-plotext, measured apart), from a key press (p, g) to the
new figures, and the longest gap of the event loop meanwhile (a 5 ms ticker), plus the
status bar's per-conversation total (ChatSession.usage_total's query).
"""

from __future__ import annotations

import asyncio
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_usage import CONVERSATIONS, PER_CONVERSATION, build

from chatterm.store import Store

RUNS = 7


async def measure(store: Store) -> list[tuple[str, float]]:
    from textual.app import App

    from chatterm.ui.usage.screen import UsageScreen

    rows: list[tuple[str, float]] = []
    app = App[None]()
    gaps: list[float] = []

    async def ticker() -> None:
        last = time.perf_counter()
        while True:
            await asyncio.sleep(0.005)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    async def until(condition: object, pilot: object) -> None:
        while not condition():  # type: ignore[operator]
            await pilot.pause(0.001)  # type: ignore[attr-defined]

    async with app.run_test(size=(120, 40)) as pilot:
        tick = asyncio.create_task(ticker())
        opens: list[float] = []
        for run in range(RUNS + 1):
            started = time.perf_counter()
            screen = UsageScreen(store)
            await app.push_screen(screen)
            await until(lambda s=screen: s.figures is not None and s.charts_shown, pilot)
            await pilot.pause()
            opens.append(time.perf_counter() - started)
            if run < RUNS:
                app.pop_screen()
                await pilot.pause()
        rows.append(("first opening (imports textual-plotext)", opens[0]))
        rows.append(("opening, 30 days per day, charts drawn", statistics.median(opens[1:])))
        for key, name in (("g", "g: per model"), ("g", "g: per provider"),
                          ("p", "p: all time"), ("g", "g: per day, all time")):
            times = []
            for _ in range(3):
                before = screen.figures
                started = time.perf_counter()
                await pilot.press(key)
                await until(lambda b=before: screen.figures is not b and not screen.busy,
                            pilot)
                await pilot.pause()
                times.append(time.perf_counter() - started)
                for _ in range({"g": 2, "p": 2}[key]):  # back to the same choice
                    before = screen.figures
                    await pilot.press(key)
                    await until(lambda b=before: screen.figures is not b
                                and not screen.busy, pilot)
                await pilot.press(key)
                await until(lambda: not screen.busy, pilot)
            rows.append((name, statistics.median(times)))
        tick.cancel()
        rows.append(("longest event-loop gap meanwhile", max(gaps)))
    return rows


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        os.environ.update(CHATTERM_DATA_DIR=tmp, CHATTERM_CACHE_DIR=tmp,
                          CHATTERM_CONFIG=str(Path(tmp) / "config.toml"))
        path = Path(tmp) / "chatterm.db"
        print(f"building {CONVERSATIONS * PER_CONVERSATION:,} messages...", file=sys.stderr)
        with Store.open(path) as store:
            build(store, random.Random(14))
        with Store.open(path, read_only=True) as store:
            rows = asyncio.run(measure(store))
            ids = [row[0] for row in store._conn.execute(
                "SELECT id FROM conversations LIMIT 50")]
            times = []
            for cid in ids:
                started = time.perf_counter()
                store.conversation_total(cid)
                times.append(time.perf_counter() - started)
            rows.append(("one conversation's total (status bar)", statistics.median(times)))
    width = max(len(name) for name, _ in rows)
    print(f"{'operation':<{width}}  {'median':>9}")
    print(f"{'-' * width}  {'-' * 9}")
    for name, seconds in rows:
        print(f"{name:<{width}}  {seconds * 1000:7.1f} ms")


if __name__ == "__main__":
    main()
