"""StreamingMarkdown: correct final rendering, frozen blocks, long fences, hostile text."""

from __future__ import annotations

import re
import time
from collections.abc import Callable

import pytest
from textual.app import App, ComposeResult
from textual.containers import VerticalScroll
from textual.pilot import Pilot

from chatterm.ui.markdown.blocks import (
    CODE_CHUNK_LINES,
    LIST_RUN_ITEMS,
    BlockSplitter,
    clean_source,
    final_blocks,
)
from chatterm.ui.markdown.growth import JumpGrowth
from chatterm.ui.markdown.pacing import FlushPacer
from chatterm.ui.markdown.streaming import StreamingMarkdown

SIZE = (100, 40)

MIXED = """# Release notes

Intro with `inline code`, **bold** and a [site](https://example.com/docs).

- first item
  - nested item
    - deeper item
- second item

1. one
2. two

| name | value |
|------|------:|
| alpha | 1 |
| beta | 22 |

> a quoted line
> continues here

~~~python
def tilde(x):
    return x * 2
~~~

```rust
fn main() { println!("hi"); }
```

Closing paragraph.
"""


class Harness(App[None]):
    """The widget in a scrolling container: a plain VerticalScroll, or the app's own
    MessageList (a subclass, so the CSS below applies to it too)."""

    # A stable gutter keeps the width fixed when the scrollbar appears, so the
    # render counters below only count content changes, not a one-off resize
    # (chatterm.tcss gives the message list the same).
    CSS = "VerticalScroll { scrollbar-gutter: stable; }"

    def __init__(self, widget: StreamingMarkdown,
                 container: Callable[[], VerticalScroll] = VerticalScroll) -> None:
        super().__init__()
        self.widget = widget
        self.container = container

    def compose(self) -> ComposeResult:
        with self.container():
            yield self.widget


async def wait_for(pilot: Pilot[None], condition: Callable[[], bool], limit: float = 10.0) -> None:
    deadline = time.monotonic() + limit
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met before the deadline")
        await pilot.pause(0.005)


def pieces(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


async def one_shot_render(text: str) -> str:
    widget = StreamingMarkdown(text)
    async with Harness(widget).run_test(size=SIZE) as pilot:
        await pilot.pause()
        return widget.rendered_text()


def screen_output(app: App[None]) -> str:
    """What the terminal would receive for a full repaint of the screen."""
    update = app.screen._compositor.render_update(full=True)
    assert update is not None
    return update.render_segments(app.console)


@pytest.mark.slow
async def test_streamed_reply_ends_with_exact_final_rendering() -> None:
    widget = StreamingMarkdown()
    async with Harness(widget).run_test(size=SIZE) as pilot:
        for piece in pieces(MIXED, 5):
            widget.append(piece)
            await pilot.pause()
        await wait_for(pilot, lambda: not widget.has_pending)
        streamed = widget.rendered_text()
        for word in ("Release notes", "deeper item", "beta", "quoted line", "println", "Closing"):
            assert word in streamed
        widget.finish()
        await pilot.pause()
        final = widget.rendered_text()
        assert widget.text == MIXED
        assert not widget.is_streaming
    assert final == await one_shot_render(MIXED)


async def test_rendering_of_block_types() -> None:
    rendered = await one_shot_render(MIXED)
    lines = rendered.splitlines()
    assert lines[0] == "Release notes"
    assert any(line.startswith(" • first item") for line in lines)
    nested = next(line for line in lines if "nested item" in line)
    deeper = next(line for line in lines if "deeper item" in line)
    assert nested.index("nested") < deeper.index("deeper")  # deeper is indented more
    assert any(re.match(r"\s*1\s+one", line) for line in lines)
    assert any("alpha" in line and "1" in line for line in lines)
    assert any(line.startswith("▌ a quoted line") for line in lines)
    assert "def tilde(x):" in rendered and "return x * 2" in rendered
    assert "```" not in rendered and "~~~" not in rendered
    assert "inline code" in rendered and "`" not in rendered
    # Links are plain text with their address, never terminal hyperlinks.
    assert "site (https://example.com/docs)" in rendered


@pytest.mark.slow
async def test_finished_blocks_are_rendered_once() -> None:
    widget = StreamingMarkdown()
    async with Harness(widget).run_test(size=SIZE) as pilot:
        # A block is finished once the next block has a complete first line.
        widget.append("First block stays as it is.\n\nSecond block\n")
        await wait_for(pilot, lambda: len(widget.frozen_blocks) == 1)
        first = widget.frozen_blocks[0]
        assert first.render_count == 1
        for i in range(100):
            widget.append(f" words {i}.\n\nParagraph {i} is streaming\n")
            await pilot.pause()
        await wait_for(pilot, lambda: not widget.has_pending)
        assert len(widget.frozen_blocks) == 101
        assert widget.frozen_blocks[0] is first
        assert first.render_count == 1
        assert all(block.render_count == 1 for block in widget.frozen_blocks)
        widget.finish()
        await pilot.pause()
        assert widget.frozen_blocks[0] is first
        assert first.render_count == 1
        assert "Paragraph 99 is streaming" in widget.rendered_text()


@pytest.mark.slow
async def test_long_code_fence_streams_in_frozen_pieces_and_ends_highlighted() -> None:
    code_lines = [f"    value_{i} = compute({i}, 'x')  # line {i}" for i in range(320)]
    text = "Code:\n\n```python\ndef build():\n" + "\n".join(code_lines) + "\n```\n\nDone.\n"
    widget = StreamingMarkdown()
    async with Harness(widget).run_test(size=SIZE) as pilot:
        largest_tail = 0
        for piece in pieces(text, 30):
            widget.append(piece)
            widget.flush()
            largest_tail = max(largest_tail, widget.open_source_length)
        await pilot.pause()
        code_pieces = [b for b in widget.frozen_blocks if b.block.kind == "code"]
        assert len(code_pieces) >= 300 // CODE_CHUNK_LINES
        assert all(piece.render_count == 1 for piece in code_pieces)
        # The open tail never held more than about one piece of the fence.
        assert largest_tail < 2 * CODE_CHUNK_LINES * 50
        widget.finish()
        await pilot.pause()
        rendered = widget.rendered_text()
        code_blocks = [b for b in widget.frozen_blocks if b.block.kind == "code"]
        assert len(code_blocks) == 1  # the final render is one whole fence
        lines = code_blocks[0].lines
        colours = {seg.style.color for line in lines for seg in line if seg.style}
        assert len(colours) >= 3  # keywords, names, numbers, comments differ
    for line in code_lines:
        assert line.strip() in rendered
    assert rendered.rstrip().endswith("Done.")


@pytest.mark.slow
async def test_long_list_streams_in_frozen_runs() -> None:
    text = "Items:\n\n" + "".join(f"- item number {i}\n" for i in range(210)) + "\nAfter.\n"
    widget = StreamingMarkdown()
    async with Harness(widget).run_test(size=SIZE) as pilot:
        largest_tail = 0
        for piece in pieces(text, 6):
            widget.append(piece)
            widget.flush()
            largest_tail = max(largest_tail, widget.open_source_length)
        await pilot.pause()
        assert largest_tail < 2 * LIST_RUN_ITEMS * 20
        streamed = widget.rendered_text()
        widget.finish()
        await pilot.pause()
        final = widget.rendered_text()
    for i in range(210):
        assert f"• item number {i}" in streamed
        assert f"• item number {i}" in final


async def test_resize_rewraps_every_block() -> None:
    widget = StreamingMarkdown(MIXED)
    async with Harness(widget).run_test(size=SIZE) as pilot:
        await pilot.pause()
        wide = widget.rendered_lines()
        assert {len(line) for line in wide} == {widget.size.width}
        await pilot.resize_terminal(50, 40)
        await wait_for(pilot, lambda: widget.size.width < 50)
        await pilot.pause()
        narrow = widget.rendered_lines()
        assert {len(line) for line in narrow} == {widget.size.width}
        assert len(narrow) > len(wide)
        assert all(block.render_count == 2 for block in widget.frozen_blocks)
        assert "Closing paragraph." in widget.rendered_text()


async def test_unterminated_fence_at_finish_renders() -> None:
    text = "Look:\n\n```python\nprint('start')\nx = 2"
    widget = StreamingMarkdown()
    async with Harness(widget).run_test(size=SIZE) as pilot:
        for piece in pieces(text, 4):
            widget.append(piece)
        await wait_for(pilot, lambda: not widget.has_pending)
        assert "print('start')" in widget.rendered_text()
        widget.finish()
        await pilot.pause()
        rendered = widget.rendered_text()
        assert [b.block.kind for b in widget.frozen_blocks] == ["markdown", "code"]
    assert "print('start')" in rendered and "x = 2" in rendered and "```" not in rendered


HOSTILE = (
    "Title \x1b]0;pwned\x07 here\n\n"
    "Click \x1b]8;;file:///etc/passwd\x1b\\this\x1b]8;;\x1b\\ now \x1b[2J\x1b[31mred\n\n"
    "C1 \x9b31m and \x9d8;;x\x9c and DEL \x7f and NUL \x00 and entity &#27;[31m &#x9b;\n\n"
    "[x](file:///etc/passwd) and [y](https://example.com/a)\n\n"
    "```\ncode \x1b]52;c;Y2xpcA==\x07 end\n```\n"
)


@pytest.mark.parametrize("finish", [False, True])
async def test_hostile_control_sequences_never_reach_the_terminal(finish: bool) -> None:
    widget = StreamingMarkdown()
    app = Harness(widget)
    async with app.run_test(size=SIZE) as pilot:
        for piece in pieces(HOSTILE, 3):
            widget.append(piece)
        await wait_for(pilot, lambda: not widget.has_pending)
        if finish:
            widget.finish()
        await pilot.pause()
        output = screen_output(app)
        rendered = widget.rendered_text()
        styles = [
            seg.style
            for block in widget.frozen_blocks + widget.open_blocks
            for line in block.lines
            for seg in line
        ]
    assert widget.text == HOSTILE  # what was received is kept verbatim
    assert "\x1b]" not in output  # no OSC at all: no titles, hyperlinks, clipboard
    assert "\x1b[2J" not in output
    for char in ("\x07", "\x00", "\x7f", "\x9b", "\x9c", "\x9d"):
        assert char not in output
    # Only Textual's own SGR/cursor sequences remain once escapes are accounted for.
    assert not re.search(r"\x1b[^\[]", output)
    assert all(style is None or style.link is None for style in styles)
    assert not re.search("[\x00-\x08\x0b-\x1f\x7f-\x9f]", rendered)
    assert "␛]0;pwned" in rendered  # shown, inert
    assert "y (https://example.com/a)" in rendered
    assert "[x](file:///etc/passwd)" in rendered  # not a link at all


async def test_flush_interval_adapts_to_render_time() -> None:
    now = [0.0]
    widget = StreamingMarkdown(clock=lambda: now[0])
    factor = FlushPacer.INTERVAL_FACTOR

    async with Harness(widget).run_test(size=SIZE) as pilot:

        async def frame(cost: float) -> None:
            """One flush whose frame (render + paint) takes `cost` simulated seconds."""
            timed = widget.frames_timed
            widget.append("more text\n\n")
            widget.flush()
            now[0] += cost
            await wait_for(pilot, lambda: widget.frames_timed == timed + 1)

        assert widget.flush_interval == FlushPacer.MIN_INTERVAL
        for _ in range(5):
            await frame(0.002)
        assert widget.flush_interval == pytest.approx(factor * 0.002)
        await frame(0.2)  # one slow frame alone does not stretch the delay
        assert widget.flush_interval == pytest.approx(factor * 0.002)
        for _ in range(3):
            await frame(0.004)
        assert widget.flush_interval == pytest.approx(factor * 0.004)
        assert widget.flush_interval > FlushPacer.MIN_INTERVAL
        for _ in range(3):
            await frame(2.0)
        assert widget.flush_interval == FlushPacer.MAX_INTERVAL
        for _ in range(5):
            await frame(0.0001)
        assert widget.flush_interval == FlushPacer.MIN_INTERVAL


async def test_burst_of_appends_is_rendered_in_one_flush() -> None:
    widget = StreamingMarkdown()
    async with Harness(widget).run_test(size=SIZE) as pilot:
        await pilot.pause()
        for piece in pieces(MIXED, 4):
            widget.append(piece)
        assert widget.flush_count == 0  # append only buffers
        await wait_for(pilot, lambda: not widget.has_pending)
        assert widget.flush_count == 1
        assert "Closing paragraph." in widget.rendered_text()


async def test_set_text_before_mount_and_resuming_after_finish() -> None:
    widget = StreamingMarkdown("Stored *reply* so far.\n\n- a\n- b")
    async with Harness(widget).run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert "Stored reply so far." in widget.rendered_text()
        assert not widget.is_streaming
        widget.append("\n- c\n\nAnd a new paragraph.")
        assert widget.is_streaming
        await wait_for(pilot, lambda: not widget.has_pending)
        assert "And a new paragraph." in widget.rendered_text()
        widget.finish()
        await pilot.pause()
        expected = "Stored *reply* so far.\n\n- a\n- b\n- c\n\nAnd a new paragraph."
        assert widget.text == expected
        rendered = widget.rendered_text()
    assert rendered == await one_shot_render(expected)


async def test_finish_with_replacement_text() -> None:
    widget = StreamingMarkdown()
    async with Harness(widget).run_test(size=SIZE) as pilot:
        widget.append("partial answ")
        widget.finish("complete answer")
        await pilot.pause()
        assert widget.text == "complete answer"
        assert widget.rendered_text() == "complete answer"


# -- the splitter on its own -------------------------------------------------------------

def test_splitter_streaming_matches_one_shot_blocks() -> None:
    splitter = BlockSplitter()
    finished = []
    for piece in pieces(MIXED, 3):
        splitter.feed(clean_source(piece))
        done, _open = splitter.split()
        finished += done
    done, open_blocks = splitter.split()
    assert finished + done + open_blocks == final_blocks(MIXED)


def test_splitter_freezes_each_fence_line_exactly_once() -> None:
    lines = [f"line {i}" for i in range(173)]
    text = "~~~~text\n" + "\n".join(lines) + "\n~~~~\n\nafter\n"
    splitter = BlockSplitter()
    blocks = []
    for piece in pieces(text, 11):
        splitter.feed(piece)
        done, open_blocks = splitter.split()
        blocks += done
    blocks += open_blocks
    code = [b for b in blocks if b.kind == "code"]
    assert "\n".join(b.source for b in code).split("\n") == lines
    assert code[0].top and not code[0].bottom and not code[0].joined
    assert all(b.joined and not b.top for b in code[1:])
    assert code[-1].bottom


def test_clean_source_is_chunk_safe() -> None:
    text = "a\x1b[31mb\r\nc\x9bd\te\x00"
    assert clean_source(text) == "".join(clean_source(ch) for ch in text)
    assert "\t" in clean_source(text) and "\r" not in clean_source(text)


async def test_control_characters_fed_straight_to_the_widget_are_never_drawn() -> None:
    # The app neutralises model text once before this widget sees it; fed directly,
    # the widget's output check still draws every control character as a picture.
    text = ("osc \x1b]52;c;SGVsbG8=\x07 csi \x9b31m nul \x00 entity &#27;[2J\r\n\n"
            "- item \x1b[1m\n\n```python\nx = '\x1b[31m'\n```\n")
    widget = StreamingMarkdown()
    async with Harness(widget).run_test(size=SIZE) as pilot:
        for piece in pieces(text, 3):
            widget.append(piece)
            widget.flush()
        streamed = widget.rendered_lines()
        widget.finish()
        await pilot.pause()
        for lines in (streamed, widget.rendered_lines()):
            joined = "\n".join(lines)
            assert not re.search("[\x00-\x08\x0b-\x1f\x7f-\x9f]", joined)
            assert "\u241b]52" in joined and "\u241b[1m" in joined


# ---- growth while streaming --------------------------------------------------------------


@pytest.mark.slow
async def test_height_grows_in_jumps_capped_at_a_share_of_the_screen() -> None:
    now = [0.0]  # a fast stream, 2 lines every 10 ms, however busy the machine is
    widget = StreamingMarkdown(wall_clock=lambda: now[0])
    async with Harness(widget).run_test(size=SIZE) as pilot:
        cap = int(SIZE[1] * JumpGrowth.GROW_FRACTION)
        heights: list[int] = []
        for line in range(150):
            now[0] += 0.01
            widget.append(f"line {line}\n\n")
            widget.flush()
            await pilot.pause()
            lines = len(widget.rendered_lines())
            height = widget.size.height
            # Spare lines stay below the text, never more than the reply already has
            # (the first step aside) and never more than GROW_FRACTION of the screen.
            assert lines <= height <= lines + max(JumpGrowth.GROW_STEP, min(lines, cap))
            if not heights or heights[-1] != height:
                heights.append(height)
        total = len(widget.rendered_lines())
        # ~300 lines in jumps of up to `cap` lines: a few dozen layouts, not hundreds.
        assert len(heights) <= 4 + total // (cap - 1)
        widget.finish()
        await pilot.pause()
        assert widget.size.height == len(widget.rendered_lines())  # no spare lines left


@pytest.mark.slow
async def test_growing_reply_costs_one_layout_per_jump() -> None:
    from chatterm.ui.chat.message_list import MessageList

    widget = StreamingMarkdown()
    async with Harness(widget, MessageList).run_test(size=SIZE) as pilot:
        await pilot.pause()
        screen = pilot.app.screen
        layouts: list[int] = []
        original = screen._refresh_layout

        def counted(*args: object, **kwargs: object) -> None:
            layouts.append(widget.size.height)
            original(*args, **kwargs)  # type: ignore[arg-type]

        screen._refresh_layout = counted  # type: ignore[method-assign]
        jumps = 0
        for line in range(60):
            before = widget.size.height
            widget.append(f"line {line}\n\n")
            widget.flush()
            await wait_for(pilot, lambda: widget.is_painted)
            await pilot.pause()
            jumps += widget.size.height != before
        assert jumps >= 6
        # Textual would lay the screen out twice per jump (the second pass only because
        # the virtual size changed); SingleLayout keeps it to one, plus a one-off pair
        # when the text first overflows and the scrollbar appears.
        assert len(layouts) <= jumps + 2 < 2 * jumps, layouts


async def test_a_failing_timed_flush_is_logged_and_the_next_one_still_draws(
    caplog: pytest.LogCaptureFixture,
) -> None:
    widget = StreamingMarkdown()
    async with Harness(widget).run_test(size=SIZE) as pilot:
        calls = {"n": 0}

        def broken() -> None:  # what the flush calls to redraw its neighbours
            calls["n"] += 1
            raise RuntimeError("drawing bug")

        widget.flush_callback = broken
        widget.append("first words\n")
        await wait_for(pilot, lambda: calls["n"] == 1)  # the timer fired and failed
        widget.flush_callback = None
        widget.append("second words\n")
        await wait_for(pilot, lambda: "second words" in widget.rendered_text())
        assert "first words" in widget.rendered_text()  # nothing received is lost
        assert pilot.app.is_running
    # Caught by the widget, not left to asyncio, which would print a traceback over the app.
    assert not [r for r in caplog.records if r.name == "asyncio"]


@pytest.mark.slow
async def test_a_slow_stream_leaves_only_a_few_seconds_of_blank_lines() -> None:
    # 2 lines every half second (4 lines/s): at half a screen (20 lines) per jump the
    # blank lines below the text would take 5 s to fill, which reads as a stall.
    now = [0.0]
    widget = StreamingMarkdown(wall_clock=lambda: now[0])
    async with Harness(widget).run_test(size=SIZE) as pilot:
        cap = int(SIZE[1] * JumpGrowth.GROW_FRACTION)
        pace = 4.0
        gaps: list[int] = []
        for line in range(60):
            now[0] += 0.5
            widget.append(f"line {line}\n\n")
            widget.flush()
            await pilot.pause()
            gaps.append(widget.size.height - len(widget.rendered_lines()))
        fill = int(pace * 1.5) + 1  # what the stream adds in 1.5 s
        assert max(gaps[10:]) < fill < cap, gaps
        assert max(gaps[10:]) >= JumpGrowth.GROW_STEP - 1  # it still jumps


async def test_a_reply_reopened_mid_stream_does_not_keep_half_a_screen_blank() -> None:
    # Reopening a chat whose reply streams in the background (or continuing one) hands the
    # widget all the text so far in one flush, before any pace is known; that first step
    # must not leave half a screen of blank lines under a slow stream.
    now = [0.0]
    widget = StreamingMarkdown(wall_clock=lambda: now[0])
    async with Harness(widget).run_test(size=SIZE) as pilot:
        cap = int(SIZE[1] * JumpGrowth.GROW_FRACTION)
        widget.append("".join(f"earlier line {n}\n\n" for n in range(40)))
        widget.flush()
        await pilot.pause()
        gaps: list[int] = []
        for line in range(12):  # then 2 lines every half second
            now[0] += 0.5
            widget.append(f"line {line}\n\n")
            widget.flush()
            await pilot.pause()
            gaps.append(widget.size.height - len(widget.rendered_lines()))
        fill = int(4.0 * 1.5) + 1
        assert max(gaps[2:]) <= fill < cap, gaps
