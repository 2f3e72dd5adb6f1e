"""Benchmark StreamingMarkdown: how fast a streamed Markdown reply gets on screen.

Run:  python bench/bench_render.py [--runs 5] [--quick] [--baseline]

A headless Textual app (120x40) holds one StreamingMarkdown in a VerticalScroll that
follows the end. Headless Textual skips encoding frames for the terminal; this app
encodes every frame anyway (CompositorUpdate.render_segments), so that cost counts.

"Token" here = 4 characters of the reply (a typical LLM word piece). Replies are
generated deterministically: headings, paragraphs with inline code, bold and links,
nested lists, ordered lists, tables, quotes and ~12-line Python fences.

Scenarios (medians over --runs):
  (a) burst      all tokens appended back to back, then finish(); time until the
                 final render is painted. "burst, no finish" = only the timer flush.
  (b) 100 tok/s  real-time stream (one token every 10 ms, whole reply, no time
                 compression); lag from the last append until it is painted, with
                 finish() called at once (as the app does when the stream ends) and
                 without finish() (the timer flush alone).
  (c) CPU s per 1,000 tokens (time.process_time) during the 100 tok/s stream,
      the floor of the paced producer alone in the same app, and for the burst.
  (d) compressed stream of 2,000 and 8,000 tokens: 3 tokens per step, each step
      flushed and painted (a token-by-token stream without the waiting); ratio of
      the wall times and of the CPU times (less sensitive to other processes),
      ~4 when the cost per token is flat.
  (e) worst cases, compressed the same way: a 300-line code fence and a 200-item
      list; also the median step (flush + paint) at 20-30% and at 90-100% of the
      stream: equal when the cost per token does not grow.
--baseline also times Textual's own Markdown + MarkdownStream on smaller inputs.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import statistics
import sys
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from textual._compositor import CompositorUpdate
from textual.app import App, ComposeResult
from textual.containers import VerticalScroll
from textual.pilot import Pilot
from textual.widgets import Markdown

from chatterm.ui.markdown.streaming import StreamingMarkdown

TOKEN_CHARS = 4
SIZE = (120, 40)
STEP_TOKENS = 3
SENTINEL = "END-OF-REPLY"
_SGR = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")

_VOCABULARY = (
    "stream render block token widget buffer layout terminal markdown parser latency cursor "
    "theme scroll frame budget commit python textual reply model context list fence "
    "table quote value index cache width height strip segment flush timer"
)
_WORDS = _VOCABULARY.split()


# -- deterministic replies ------------------------------------------------------------

def _words(seed: int, count: int) -> str:
    return " ".join(_WORDS[(seed * 7 + i * 13) % len(_WORDS)] for i in range(count))


def _section(i: int) -> str:
    parts = [
        f"## Step {i}: {_words(i, 4)}\n\n",
        f"The {_words(i + 1, 12)} uses `render_{i}()` and **{_words(i + 2, 3)}**, "
        f"see [the docs](https://example.com/docs/{i}). {_words(i + 3, 20)}.\n\n",
        f"- {_words(i + 4, 6)}\n  - nested `{i}` {_words(i + 5, 4)}\n"
        f"- {_words(i + 6, 8)}\n- {_words(i + 7, 5)}\n\n",
        "```python\n"
        + "".join(
            f"def step_{i}_{j}(value: int) -> int:\n"
            f"    return value * {j} + {i}  # {_words(j, 2)}\n"
            for j in range(6)
        )
        + "```\n\n",
        f"1. {_words(i + 8, 6)}\n2. {_words(i + 9, 6)}\n3. {_words(i + 10, 4)}\n\n",
    ]
    if i % 3 == 0:
        parts.append(
            "| name | value | note |\n|------|------:|------|\n"
            + "".join(f"| item{j} | {i * j} | {_words(j, 2)} |\n" for j in range(4))
            + "\n"
        )
    if i % 4 == 1:
        parts.append(f"> {_words(i + 11, 15)}\n> {_words(i + 12, 10)}\n\n")
    return "".join(parts)


def reply(tokens: int) -> str:
    """A Markdown reply of about `tokens` tokens ending with a sentinel paragraph."""
    body = ""
    i = 0
    while len(body) < tokens * TOKEN_CHARS - 40:
        body += _section(i)
        i += 1
    return body[: tokens * TOKEN_CHARS - 40].rstrip() + f"\n\nThat is all. {SENTINEL}\n"


def long_fence(lines: int) -> str:
    code = "".join(
        f"    total_{i} = compute(items[{i}], scale={i % 7}) + offset  # line {i}\n"
        for i in range(lines)
    )
    return f"Here is the module:\n\n```python\ndef build():\n{code}```\n\n{SENTINEL}\n"


def long_list(items: int) -> str:
    body = "".join(
        f"- item {i}: {_words(i, 6)}\n" + (f"  - detail {_words(i + 1, 3)}\n" if i % 5 == 0 else "")
        for i in range(items)
    )
    return f"Checklist:\n\n{body}\n{SENTINEL}\n"


def tokens_of(text: str) -> list[str]:
    return [text[i : i + TOKEN_CHARS] for i in range(0, len(text), TOKEN_CHARS)]


# -- harness --------------------------------------------------------------------------

class BenchApp(App[None]):
    def __init__(self, widget_factory: Callable[[], Any]) -> None:
        super().__init__()
        self._factory = widget_factory
        self.bytes_out = 0

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="view"):
            yield self._factory()

    def on_mount(self) -> None:
        self.query_one("#view", VerticalScroll).anchor()

    def _display(self, screen: Any, renderable: Any) -> None:
        # Headless mode never encodes frames; a real terminal would pay for it.
        if isinstance(renderable, CompositorUpdate):
            self.bytes_out += len(renderable.render_segments(self.console))
        super()._display(screen, renderable)


async def _settled(widget: StreamingMarkdown, limit: float = 60.0) -> None:
    """Wait until everything is rendered and Textual has painted that frame.

    Textual paints on its own refresh timer (up to 60 fps), as in the real app;
    the widget counts a render as painted in a call_after_refresh callback.
    """
    deadline = time.perf_counter() + limit
    while not widget.is_painted:
        if time.perf_counter() > deadline:
            raise TimeoutError("widget never painted")
        await asyncio.sleep(0.0005)


async def _paint(pilot: Pilot[None]) -> None:
    """Process pending messages, then paint a frame now (as Pilot.pause does)."""
    await pilot._wait_for_screen()
    pilot.app.screen._on_timer_update()


def _on_screen(app: BenchApp) -> str:
    update = app.screen._compositor.render_update(full=True)
    assert update is not None
    return _SGR.sub("", update.render_segments(app.console))


def _check(app: BenchApp, widget: StreamingMarkdown, text: str) -> None:
    if widget.text != text:
        raise AssertionError("text mismatch")
    if SENTINEL not in _on_screen(app):
        raise AssertionError("the last word is not on screen")


Scenario = Callable[[BenchApp, Pilot[None], StreamingMarkdown], Coroutine[Any, Any, dict]]


async def _run(scenario: Scenario) -> dict:
    app = BenchApp(StreamingMarkdown)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        widget = app.query_one(StreamingMarkdown)
        return await scenario(app, pilot, widget)


def burst(text: str, finish: bool) -> Scenario:
    async def scenario(app: BenchApp, pilot: Pilot[None], widget: StreamingMarkdown) -> dict:
        pieces = tokens_of(text)
        cpu0, t0 = time.process_time(), time.perf_counter()
        for piece in pieces:
            widget.append(piece)
        if finish:
            widget.finish()
        await _settled(widget)
        elapsed, cpu = time.perf_counter() - t0, time.process_time() - cpu0
        _check(app, widget, text)
        return {"time": elapsed, "cpu_per_1k": cpu / (len(pieces) / 1000)}

    return scenario


def realtime(text: str, rate: float, finish: bool) -> Scenario:
    async def scenario(app: BenchApp, pilot: Pilot[None], widget: StreamingMarkdown) -> dict:
        pieces = tokens_of(text)
        cpu0, start = time.process_time(), time.perf_counter()
        for i, piece in enumerate(pieces):
            delay = start + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            widget.append(piece)
        last = time.perf_counter()
        if finish:
            widget.finish()
        await _settled(widget)
        lag = time.perf_counter() - last
        cpu = time.process_time() - cpu0
        _check(app, widget, text)
        return {"lag": lag, "cpu_per_1k": cpu / (len(pieces) / 1000)}

    return scenario


def producer_only(text: str, rate: float) -> Scenario:
    """The same paced producer with nothing appended: the event-loop floor."""

    async def scenario(app: BenchApp, pilot: Pilot[None], widget: StreamingMarkdown) -> dict:
        pieces = tokens_of(text)
        cpu0, start = time.process_time(), time.perf_counter()
        for i in range(len(pieces)):
            delay = start + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
        return {"cpu_per_1k": (time.process_time() - cpu0) / (len(pieces) / 1000)}

    return scenario


def compressed(text: str) -> Scenario:
    async def scenario(app: BenchApp, pilot: Pilot[None], widget: StreamingMarkdown) -> dict:
        pieces = tokens_of(text)
        flush_times: list[float] = []
        cpu0, t0 = time.process_time(), time.perf_counter()
        for i in range(0, len(pieces), STEP_TOKENS):
            for piece in pieces[i : i + STEP_TOKENS]:
                widget.append(piece)
            s = time.perf_counter()
            widget.flush()
            await _paint(pilot)
            flush_times.append(time.perf_counter() - s)
        widget.finish()
        await _paint(pilot)
        elapsed, cpu = time.perf_counter() - t0, time.process_time() - cpu0
        _check(app, widget, text)
        # "Early" skips the first fifth: while the screen is not yet full, frames
        # are cheaper for reasons unrelated to the reply's length.
        n = len(flush_times)
        return {
            "time": elapsed,
            "cpu": cpu,
            "cpu_per_1k": cpu / (len(pieces) / 1000),
            "early_ms": statistics.median(flush_times[n // 5 : 3 * n // 10 + 1]) * 1000,
            "late_ms": statistics.median(flush_times[9 * n // 10 :]) * 1000,
        }

    return scenario


def baseline_compressed(text: str) -> Callable[[], Coroutine[Any, Any, float]]:
    """Textual's Markdown fed through MarkdownStream, one write per step."""

    async def run() -> float:
        app = BenchApp(Markdown)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            markdown = app.query_one(Markdown)
            pieces = tokens_of(text)
            t0 = time.perf_counter()
            stream = Markdown.get_stream(markdown)
            for i in range(0, len(pieces), STEP_TOKENS):
                await stream.write("".join(pieces[i : i + STEP_TOKENS]))
                await _paint(pilot)
            await stream.stop()
            await _paint(pilot)
            return time.perf_counter() - t0

    return run


def _median(results: list[dict], key: str) -> float:
    return statistics.median(r[key] for r in results)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="fewer runs, shorter real-time run")
    parser.add_argument("--baseline", action="store_true", help="also time Textual's Markdown")
    args = parser.parse_args()
    runs = 2 if args.quick else args.runs

    reply2k, reply8k = reply(2000), reply(8000)
    fence, items = long_fence(300), long_list(200)

    async def repeat(scenario: Scenario, n: int = runs) -> list[dict]:
        return [await _run(scenario) for _ in range(n)]

    rows: list[tuple[str, str, str, str]] = []

    def row(name: str, value: str, target: str, ok: bool | None) -> None:
        rows.append((name, value, target, "" if ok is None else ("ok" if ok else "MISSED")))
        print(f"  {name}: {value}", file=sys.stderr, flush=True)

    print(f"reply: {len(tokens_of(reply2k))} tokens, {len(reply2k)} chars; "
          f"runs={runs}", file=sys.stderr)
    a = await repeat(burst(reply2k, finish=True))
    row("(a) 2k burst + finish -> painted", f"{_median(a, 'time'):.3f} s", "<= 1 s",
        _median(a, "time") <= 1.0)
    a2 = await repeat(burst(reply2k, finish=False))
    row("(a) 2k burst, timer flush only", f"{_median(a2, 'time'):.3f} s", "<= 1 s",
        _median(a2, "time") <= 1.0)

    rt_text = reply(500) if args.quick else reply2k
    rt_runs = 1 if args.quick else min(runs, 3)
    b = await repeat(realtime(rt_text, 100.0, finish=True), rt_runs)
    b2 = await repeat(realtime(rt_text, 100.0, finish=False), rt_runs)
    label = f"{len(tokens_of(rt_text))} tok"
    row(f"(b) 100 tok/s ({label}) lag, finish()", f"{_median(b, 'lag'):.3f} s", "<= 0.15 s",
        _median(b, "lag") <= 0.15)
    row(f"(b) 100 tok/s ({label}) lag, timer only", f"{_median(b2, 'lag'):.3f} s",
        "<= 0.15 s", _median(b2, "lag") <= 0.15)
    cpu_rt = statistics.median([r["cpu_per_1k"] for r in b + b2])
    row("(c) CPU s / 1k tokens at 100 tok/s", f"{cpu_rt:.3f}", "<= 0.5", cpu_rt <= 0.5)
    floor = await repeat(producer_only(reply(500), 100.0), 1)
    row("(c) of which: paced producer alone (floor)", f"{floor[0]['cpu_per_1k']:.3f}", "", None)
    row("(c) CPU s / 1k tokens, burst", f"{_median(a, 'cpu_per_1k'):.3f}", "<= 0.5",
        _median(a, "cpu_per_1k") <= 0.5)

    d2 = await repeat(compressed(reply2k))
    d8 = await repeat(compressed(reply8k))
    ratio = _median(d8, "time") / _median(d2, "time")
    cpu_ratio = _median(d8, "cpu") / _median(d2, "cpu")
    row("(d) compressed stream 2k tokens", f"{_median(d2, 'time'):.3f} s", "", None)
    row("(d) compressed stream 8k tokens", f"{_median(d8, 'time'):.3f} s", "", None)
    row("(d) wall time 8k / 2k", f"{ratio:.2f}", "<= 4.5", ratio <= 4.5)
    row("(d) CPU time 8k / 2k", f"{cpu_ratio:.2f}", "<= 4.5", cpu_ratio <= 4.5)
    row("(c') CPU s / 1k tokens, compressed 8k", f"{_median(d8, 'cpu_per_1k'):.3f}", "", None)

    for name, text in (("300-line fence", fence), ("200-item list", items)):
        e = await repeat(compressed(text))
        row(f"(e) {name} ({len(tokens_of(text))} tok) compressed",
            f"{_median(e, 'time'):.3f} s", "", None)
        row(f"(e) {name} step ms, 20-30% / 90-100%",
            f"{_median(e, 'early_ms'):.2f} / {_median(e, 'late_ms'):.2f}", "flat", None)

    if args.baseline:
        for name, text in (("2k reply", reply2k), ("100-line fence", long_fence(100))):
            seconds = await baseline_compressed(text)()
            ours = _median(await repeat(compressed(text), 1), "time")
            row(f"baseline Textual Markdown+MarkdownStream, {name}",
                f"{seconds:.2f} s (ours {ours:.2f} s)", "", None)

    width = max(len(r[0]) for r in rows)
    print(f"\n{'scenario':<{width}}  {'median':>24}  {'target':>9}  result")
    for name, value, target, verdict in rows:
        print(f"{name:<{width}}  {value:>24}  {target:>9}  {verdict}")


if __name__ == "__main__":
    asyncio.run(main())
