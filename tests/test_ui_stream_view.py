"""What a streamed reply looks like in the real app: after a resize, with CRLF line
ends, in the status line's token count and while waiting (Pilot + loopback server)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from loopback import sse_reply
from ui_helpers import running, screen_text, wait_until

pytestmark = pytest.mark.slow

CHAT = "chat/completions"


async def send(pilot: Any, text: str) -> None:
    pilot.app.chat.prompt.insert(text)
    await pilot.press("enter")


async def until_idle(pilot: Any) -> None:
    await wait_until(pilot, lambda: not pilot.app.chat.busy, what="the reply to end")


def reply_body(app: Any) -> Any:
    from chatterm.ui.chat.assistant_view import AssistantMessage
    from chatterm.ui.markdown.streaming import StreamingMarkdown

    views = [v for v in app.chat.message_list.views() if isinstance(v, AssistantMessage)]
    return views[-1].query_one(StreamingMarkdown)


# ---- resize --------------------------------------------------------------------------

PARAGRAPHS = [" ".join(f"p{p}w{i}" for i in range(36)) for p in range(4)]
LAST_WORDS = PARAGRAPHS[-1].split()


@pytest.mark.parametrize(
    "widths",
    [(40, 120), (81, 120), (81, 40, 81), (81, 120, 81)],
    ids=["120-40-120", "120-81-120", "120-81-40-81", "back to 81"],
)
async def test_a_finished_reply_is_rewrapped_after_each_resize(
    server: Any, widths: tuple[int, ...]
) -> None:
    text = "\n\n".join(PARAGRAPHS) + "\n\nTHE END."
    server.script(CHAT, sse_reply([word + " " for word in text.split(" ")]))
    async with running(size=(120, 50)) as (app, pilot):
        await send(pilot, "go")
        await until_idle(pilot)
        body = reply_body(app)
        for width in widths:
            await pilot.resize_terminal(width, 50)
            await wait_until(pilot, lambda w=width: app.size.width == w, what="the resize")
            await pilot.pause()
            await pilot.pause()
        width = body.size.width
        lines = [line.rstrip() for line in body.rendered_lines()]
        # Wrapped for this width: every line fits, and a paragraph's lines fill it
        # (not the ~36 columns of an earlier, narrower layout).
        assert all(len(line) <= width for line in lines)
        assert max(len(line) for line in lines) > width - 8, (width, lines)
        assert body.size.height == len(lines)
        # The whole last paragraph and the end of the reply are on screen, no word cut.
        screen = screen_text(app)
        assert "THE END." in screen
        assert set(LAST_WORDS) <= set(screen.split()), screen


# ---- line ends -----------------------------------------------------------------------

# A code fence shows each line break as it is; the CRLF after "beta" is split across
# two deltas, and "lone" ends with a bare CR (old Mac line ends).
CRLF_DELTAS = ["Intro\r\n\r\n```\r\nalpha\r\nbeta\r", "\ngamma\rdelta\r\n```\r\n",
               "\r\nlast line\r"]


def fence_lines(screen: str) -> list[str]:
    """The code fence's lines on screen, from "alpha" to "delta" (blank ones too)."""
    lines = [line.strip(" █▌▎") for line in screen.splitlines()]
    start = next(i for i, line in enumerate(lines) if line.startswith("alpha"))
    end = next(i for i, line in enumerate(lines) if line.startswith("delta"))
    return lines[start : end + 1]


async def test_crlf_and_lone_cr_are_line_breaks_while_streaming_and_after(server: Any) -> None:
    import threading

    from loopback import Hold, sse_chunks, stream_reply

    held = threading.Event()
    events = sse_chunks(CRLF_DELTAS)
    server.script(CHAT, stream_reply([*events[:3], Hold(held), *events[3:]]))
    try:
        async with running(size=(80, 30)) as (app, pilot):
            await send(pilot, "go")
            await wait_until(pilot, lambda: "last line" in screen_text(app), what="the text")
            await wait_until(pilot, lambda: reply_body(app).is_painted, what="the frame")
            assert app.chat.busy  # still streaming: the live rendering
            for _ in range(2):
                screen = screen_text(app)
                assert "␍" not in screen and "\r" not in screen
                assert fence_lines(screen) == ["alpha", "beta", "gamma", "delta"], screen
                held.set()
                await until_idle(pilot)
                await pilot.pause()
    finally:
        held.set()


async def test_saved_messages_with_crlf_show_line_breaks(server: Any) -> None:
    from textual.widgets import Static

    from chatterm.conversation import Conversation, Message, Role
    from chatterm.launch import LaunchOptions
    from chatterm.store import Store

    conversation = Conversation(provider="loop", model="model-a", title="crlf")
    conversation.messages += [
        Message(role=Role.USER, content="ask one\r\nask two\rask three",
                conversation_id=conversation.id),
        Message(role=Role.ASSISTANT, content="".join(CRLF_DELTAS), provider="loop",
                model="model-a", reasoning="think one\r\nthink two",
                conversation_id=conversation.id),
    ]
    with Store.open() as store:
        store.create_conversation(conversation)
    async with running(LaunchOptions(resume_id=conversation.id), size=(80, 30)) as (app, pilot):
        await wait_until(pilot, lambda: "last line" in screen_text(app), what="the reply")
        screen = screen_text(app)
        assert "␍" not in screen
        assert fence_lines(screen) == ["alpha", "beta", "gamma", "delta"], screen
        lines = [line.strip(" █▌▎") for line in screen.splitlines()]
        assert {"ask one", "ask two", "ask three"} <= set(lines), screen
        reasoning = app.query_one(".reasoning-text", Static)
        assert str(reasoning.render()) == "think one\nthink two"


# ---- the status line: tokens, rate, waiting -------------------------------------------

RATE = re.compile(r"([\d,]+) tokens · (\d+) tok/s")


async def watch_status(pilot: Any, until: Any, seen: list[str], what: str) -> None:
    """Poll the status line, noting each text it shows, until `until()`."""

    def check() -> bool:
        text = pilot.app.chat.status.text
        if not seen or seen[-1] != text:
            seen.append(text)
        return bool(until())

    await wait_until(pilot, check, timeout=20, what=what)


async def test_the_live_count_is_tokens_sent_not_socket_reads(server: Any) -> None:
    # 100 tokens a second, one per chunk: the client reads every 0.1 s, ~10 at a time.
    sent = 180
    server.script(CHAT, sse_reply([f"w{i} " for i in range(sent)], delay=0.01))
    async with running() as (app, pilot):
        await send(pilot, "count")
        seen: list[str] = []
        await watch_status(pilot, lambda: not app.chat.busy, seen, "the reply to end")
        shown = [(int(m[1].replace(",", "")), int(m[2])) for t in seen if (m := RATE.search(t))]
        assert shown, seen
        # The rate follows the server's pace (a shared machine may slow the sender a
        # little; one read per 0.1 s would show 10 tok/s whatever the pace).
        counts, rates = zip(*shown, strict=True)
        assert 20 <= rates[-1] <= 200, seen
        assert list(counts) == sorted(counts) and counts[-1] <= sent
        # No usage from the server: the end says the count, every token counted.
        assert f"{sent} tokens (counted as they streamed)" in app.chat.status.text


async def test_the_servers_own_count_is_shown_when_it_sends_one(server: Any) -> None:
    server.script(CHAT, sse_reply(["a ", "b ", "c"],
                                  usage={"prompt_tokens": 7, "completion_tokens": 321}))
    async with running() as (app, pilot):
        await send(pilot, "count")
        await until_idle(pilot)
        assert "7 in · 321 out" in app.chat.status.text


async def test_a_spinner_with_the_time_waited_runs_only_while_nothing_arrives(
    server: Any,
) -> None:
    import threading

    from loopback import Hold, sse_chunks, stream_reply

    first, more = threading.Event(), threading.Event()
    events = sse_chunks(["one ", "two ", "three"])
    server.script(CHAT, stream_reply([Hold(first), *events[:2], Hold(more), *events[2:]]))
    waited = re.compile(r"^(\S) (?:2 tokens · )?waiting… (\d+\.\d) s")
    try:
        async with running() as (app, pilot):
            status = app.chat.status
            await send(pilot, "hello")
            # Before the first token: the spinner turns and the seconds count up.
            seen: list[str] = []
            await watch_status(pilot, lambda: len({waited.match(t)[1] for t in seen
                                                   if waited.match(t)}) >= 3,
                               seen, "the spinner to turn")
            times = [float(m[2]) for t in seen if (m := waited.match(t))]
            assert times == sorted(times) and times[-1] > times[0], seen
            first.set()
            await wait_until(pilot, lambda: "streaming" in status.text, what="the tokens")
            assert "waiting" not in status.text and not status.spinning
            # The stream goes quiet: after STALL_AFTER the spinner is back, with the count.
            seen = []
            await watch_status(pilot, lambda: "2 tokens · waiting…" in status.text, seen,
                               "the stall to show")
            more.set()
            await until_idle(pilot)
            # The reply is over: no timer of the status line is left running.
            assert not status.spinning and not status.watching_for_stall
            assert "waiting" not in status.text
    finally:
        first.set()
        more.set()


async def test_the_blank_lines_below_a_slow_stream_fill_within_seconds(server: Any) -> None:
    from loopback import Delay, sse_chunks, stream_reply

    # Two lines (a paragraph and its gap) every 0.2 s, 10 lines a second, on a screen
    # whose half is 40 lines: jumps of half a screen would leave 3 s of blank lines.
    events = sse_chunks([f"line {i}\n\n" for i in range(30)])
    steps: list[Any] = []
    for event in events:
        steps += [event, Delay(0.2)]
    server.script(CHAT, stream_reply(steps))
    async with running(size=(100, 80)) as (app, pilot):
        await send(pilot, "slowly")
        await wait_until(pilot, lambda: "line 0" in screen_text(app), what="the first line")
        body = reply_body(app)
        gaps: list[int] = []

        def note() -> bool:
            if body.is_streaming:
                gaps.append(body.size.height - len(body.rendered_lines()))
            return not app.chat.busy

        await wait_until(pilot, note, timeout=30, what="the reply to end")
        # 1.5 s of the stream's lines (15), and a few more for reads that come in bursts.
        assert gaps and max(gaps) <= 15 + 5, gaps
