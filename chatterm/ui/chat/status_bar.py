"""The one-line status under the messages: what the reply is doing (waiting, streaming,
its tool calls waiting for approval or running), and the current model.

While something happens (BUSY states), what happens wins the width (qa13 F5: at 40
columns "running kit.sleep (3 s)" was cut to "running kit.sle…" beside a model label that
never changes): the model label gives way first (the conversation's running total
dropped, then the provider, then all of it), then the trailing "Esc stops", then a tool's
name is cut, keeping the seconds. Idle, the hint is what gives way, as before (the label
is cut only past half the line, by the CSS); the running total ("Σ 1,234 tok · $0.0123",
before the model) shows only while the label with it fits in half the line, so at 40
columns the model stays whole rather than the total.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.content import Content
from textual.timer import Timer
from textual.widgets import Static

from chatterm.ui import inert

# Tests swap this for a fake clock so rates and countdowns are deterministic.
clock: Callable[[], float] = time.monotonic

# The rate is redrawn in the frames that draw the reply (see `reply_drawn`), at most
# this often; a stream whose body is not drawing (reasoning, tool calls) still gets a
# redraw of its own every RATE_FALLBACK seconds.
RATE_REFRESH = 0.5
RATE_FALLBACK = 1.0

# While nothing arrives (before the first token, or a stream that went quiet for
# STALL_AFTER seconds) a spinner and the seconds waited are redrawn every SPIN_INTERVAL.
# It runs only then: idle, and while tokens flow, it costs nothing.
SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
SPIN_INTERVAL = 0.1
STALL_AFTER = 1.5

# The states where the left side says what is happening now.
BUSY = frozenset({"waiting", "streaming", "tools", "retrying"})
# The left side's right margin (chatterm.tcss #status-state): the gap before the label.
GAP = 2


def format_count(value: int) -> str:
    return f"{value:,}"


class StatusBar(Horizontal):
    """Left: the reply's state (waiting, tokens/s, 429 countdown, error). Right: the model."""

    DEFAULT_CSS = """
    StatusBar {
        height: 1;
        width: 1fr;
    }
    StatusBar > #status-state {
        width: 1fr;
        height: 1;
    }
    StatusBar > #status-model {
        width: auto;
        height: 1;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.state = "idle"
        self._tokens = 0
        self._first_token_at: float | None = None
        self._last_drawn = 0.0
        self._started_at = 0.0
        self._countdown_end = 0.0
        self._countdown_text = ""
        self._countdown_timer: Timer | None = None
        self._spin_timer: Timer | None = None
        self._spin_frame = 0
        self._spin_since = 0.0
        self._last_token_at = 0.0
        self._stall_timer: Timer | None = None
        self.provider = ""
        self.model = ""
        # The conversation's running total (engine.usage.total_text), "" for none.
        self.total = ""
        # While in compare mode, what the right side says instead of the model.
        self.compare: str | None = None
        # The tool loop's calls: the labels waiting for approval, and those running.
        self._tools_waiting: list[str] = []
        self._tools_running: list[str] = []
        # What the left side says, and its droppable tail ("  Esc stops"), as last drawn.
        self._main: Content = Content("")
        self._tail: Content = Content("")
        # How much of the model label shows: 0 all, 1 the model only, 2 none.
        self._label_level = 0

    def compose(self) -> ComposeResult:
        yield Static("", id="status-state", markup=False)
        yield Static("", id="status-model", markup=False)

    # ---- the right side ----------------------------------------------------------------

    def set_model(self, provider: str, model: str) -> None:
        self.provider = provider
        self.model = model
        self._draw_right()
        if self.total:
            self._fit()  # the label's width changed: does the total still fit?

    def set_total(self, text: str) -> None:
        """What the conversation has cost so far ("" hides it); it gives way first."""
        if text != self.total:
            self.total = text
            self._draw_right()  # the same level may now be another label
            self._fit()

    def set_compare(self, label: str | None) -> None:
        """Compare mode (`label` names the models) or, with None, the model again."""
        self.compare = label
        self._draw_right()

    def _labels(self) -> list[Content]:
        """The model label, longest first, down to none."""
        if self.compare is not None:
            return [Content.assemble(("⇶ ", "bold $warning"),
                                     (inert.text(self.compare), "bold $warning"), " "),
                    Content("")]
        labels = [Content.assemble((inert.text(self.provider), "$foreground-muted"),
                                   " · ", (inert.text(self.model), "bold"), " "),
                  Content.assemble((inert.text(self.model), "bold"), " "), Content("")]
        if self.total:
            labels.insert(0, Content.assemble((self.total, "$foreground-muted"), "  ",
                                              labels[0]))
        return labels

    def _draw_right(self) -> None:
        labels = self._labels()
        label = labels[min(self._label_level, len(labels) - 1)]
        right = self.query_one("#status-model", Static)
        right.display = bool(label.cell_length)
        right.update(label)  # its width changes: a layout pass (only when it does)

    # ---- the left side -----------------------------------------------------------------

    def _left(self, content: Content | str, tail: Content | str = "") -> None:
        """Draw the left side: `content`, then `tail`, which goes first when the line is
        short while something happens."""
        self._main = content if isinstance(content, Content) else Content(content)
        self._tail = tail if isinstance(tail, Content) else Content(tail)
        self._fit()

    def _room(self) -> int:
        """The cells the left side may use with no model label (0: not laid out yet)."""
        return max(0, self.content_size.width - GAP)

    def _fit(self) -> None:
        main, tail = self._main, self._tail
        level = 0
        room = self._room()
        if self.state in BUSY and room:
            widths = [label.cell_length for label in self._labels()]
            need = main.cell_length + tail.cell_length
            # The longest label that leaves room for all of it, else none at all.
            level = next((n for n, width in enumerate(widths) if need + width <= room),
                         len(widths) - 1)
            if need > room:
                tail = Content("")
        elif self.total and self.compare is None and room:
            # Idle: the total only while the label with it fits in half the line (the
            # CSS's cut, past half, would take the model's name off its end first).
            level = 0 if self._labels()[0].cell_length <= (room + GAP) // 2 else 1
        if level != self._label_level:
            self._label_level = level
            self._draw_right()
        # One line, fixed size: a repaint is enough, no layout pass for the whole screen
        # (the label's changes above make their own).
        self.query_one("#status-state", Static).update(main + tail, layout=False)

    def on_resize(self) -> None:
        if self.state == "tools":
            self._draw_spinner(advance=False)  # a tool's name is cut to the width
        else:
            self._fit()

    @property
    def text(self) -> str:
        """What the left side shows, as plain text (for tests and the tmux check)."""
        return str(self.query_one("#status-state", Static).render())

    def show_idle(self, hint: str = "") -> None:
        self._stop_countdown()
        self.state = "idle"
        self._left(Content.styled(hint, "$foreground-muted") if hint else "")

    def show_waiting(self) -> None:
        self._stop_countdown()
        self.state = "waiting"
        self._tokens = 0
        self._first_token_at = None
        self._started_at = clock()
        self._spin(self._started_at)

    @property
    def spinning(self) -> bool:
        """True while the waiting spinner redraws itself (before the first token)."""
        return self._spin_timer is not None

    @property
    def watching_for_stall(self) -> bool:
        """True while a timer checks whether the stream has stalled."""
        return self._stall_timer is not None

    @property
    def tokens(self) -> int:
        """Tokens counted so far in this reply (the server's chunks with text)."""
        return self._tokens

    def count_tokens(self, count: int = 1) -> None:
        """`count` tokens arrived (one paced read brings ~10). The rate is redrawn by
        `reply_drawn`, or after RATE_FALLBACK seconds without one: each redraw of its
        own is a frame."""
        now = self._last_token_at = clock()
        self._tokens += count
        if self.state != "streaming":
            self._stop_countdown()
            self.state = "streaming"
            self._first_token_at = now
            self._draw_rate(now)
            # Whether the stream went quiet: a check every 0.5 s, no redraw unless so.
            self._stall_timer = self.set_interval(STALL_AFTER / 3, self._check_stall)
        elif self._spin_timer is not None or now - self._last_drawn >= RATE_FALLBACK:
            self._stop_spinner()
            self._draw_rate(now)

    def resume_count(self, tokens: int, since: float) -> None:
        """A reply shown again mid-stream (its chat reopened): the count and rate go on
        from `tokens`, the first of which came at `since` (a `clock()` time)."""
        if tokens > 0:
            self.count_tokens(tokens)
            self._first_token_at = since
            self._draw_rate(clock())

    # ---- the spinner: only while nothing arrives ---------------------------------------

    def _spin(self, since: float) -> None:
        self._stop_spinner()
        self._spin_since = since
        self._draw_spinner()
        self._spin_timer = self.set_interval(SPIN_INTERVAL, self._draw_spinner)

    def show_tools(self, waiting: Sequence[str], running: Sequence[tuple[str, float]]) -> None:
        """The tool loop: "waiting for approval" while a call waits for a yes, else
        "running time.get_current_time (3 s)", ticking; `running` holds each running
        call's label and start (time.monotonic(), as the engine reports it)."""
        self._stop_countdown()
        self.state = "tools"
        self._tools_waiting = list(waiting)
        self._tools_running = [label for label, _started in running]
        # The seconds count from the first call's start, on this module's clock.
        first = min((started for _label, started in running), default=time.monotonic())
        self._spin(clock() - max(0.0, time.monotonic() - first))

    def _tools_text(self, after: str, room: int) -> str:
        """"waiting for approval: calc.slow" / "running time.get_current_time and 1
        more", the tool's name cut so that it and `after` (the seconds) fit in `room`
        cells (0: any width)."""
        if self._tools_waiting:
            verb, label, more = "waiting for approval: ", inert.line(self._tools_waiting[0]), ""
        else:
            labels = self._tools_running
            verb, label = "running ", inert.line(labels[0]) if labels else "tools"
            more = f" and {len(labels) - 1} more" if len(labels) > 1 else ""
        over = len(verb) + len(label) + len(more) + len(after) - room
        if room and over > 0:
            label = label[:max(1, len(label) - over - 1)] + "…"
        return f"{verb}{label}{more}"

    def _draw_spinner(self, *, advance: bool = True) -> None:
        if advance:
            self._spin_frame = (self._spin_frame + 1) % len(SPINNER)
        waited = clock() - self._spin_since
        spinner = f"{SPINNER[self._spin_frame]} "
        parts: list[str | tuple[str, str]] = [(spinner, "$warning")]
        stops = Content.styled("  Esc stops", "$foreground-muted")
        if self.state == "tools":
            seconds = "" if self._tools_waiting else f" ({max(0, int(waited))} s)"
            room = self._room() and max(1, self._room() - len(spinner))
            self._left(Content.assemble(*parts, (self._tools_text(seconds, room), "$warning"),
                                        seconds), stops)
            return
        if self.state == "streaming":
            parts.append(f"{format_count(self._tokens)} tokens · ")
        parts += [("waiting…", "$warning"), f" {waited:.1f} s"]
        self._left(Content.assemble(*parts), stops)

    def _check_stall(self) -> None:
        if self._spin_timer is None and clock() - self._last_token_at >= STALL_AFTER:
            self._spin(self._last_token_at)

    def _stop_spinner(self) -> None:
        if self._spin_timer is not None:
            self._spin_timer.stop()
            self._spin_timer = None

    def reply_drawn(self) -> None:
        """The reply is being redrawn: update the rate in the same frame, if it is due."""
        now = clock()
        if self.state == "streaming" and now - self._last_drawn >= RATE_REFRESH:
            self._draw_rate(now)

    def _draw_rate(self, now: float) -> None:
        self._last_drawn = now
        elapsed = now - (self._first_token_at or now)
        rate = f"{self._tokens / elapsed:.0f} tok/s" if elapsed > 0.05 else "…"
        self._left(
            Content.assemble(
                ("streaming", "$success"),
                f"  {format_count(self._tokens)} token{'s' if self._tokens != 1 else ''}"
                f" · {rate}",
            ),
            Content.styled("  Esc stops", "$foreground-muted"),
        )

    def show_retry(self, delay: float, attempt: int, max_retries: int, reason: str) -> None:
        """A countdown to the next attempt, redrawn every second; Esc cancels it."""
        self._stop_countdown()
        self.state = "retrying"
        self._countdown_end = clock() + max(0.0, delay)
        self._countdown_text = f"{inert.server_words(reason)} · retry {attempt}/{max_retries}"
        self._draw_countdown()
        self._countdown_timer = self.set_interval(1.0, self._draw_countdown)

    def _draw_countdown(self) -> None:
        left = max(0, round(self._countdown_end - clock()))
        self._left(
            Content.assemble((self._countdown_text, "$warning"), f" in {left} s"),
            Content.styled("  Esc cancels", "$foreground-muted"),
        )

    def _stop_countdown(self) -> None:
        """Stop every timer of the left side (countdown, spinner, stall check)."""
        if self._countdown_timer is not None:
            self._countdown_timer.stop()
            self._countdown_timer = None
        self._stop_spinner()
        if self._stall_timer is not None:
            self._stall_timer.stop()
            self._stall_timer = None

    def show_done(self, summary: str = "") -> None:
        """`summary`: the server's usage. Without one, the count made while streaming."""
        self._stop_countdown()
        if not summary and self.state == "streaming" and self._tokens:
            summary = f"{format_count(self._tokens)} tokens (counted as they streamed)"
        self.state = "idle"
        self._left(Content.styled(summary, "$foreground-muted") if summary else "")

    def show_error(self, text: str) -> None:
        self._stop_countdown()
        self.state = "error"
        self._left(Content.assemble(("error: ", "bold $error"),
                                    (inert.server_words(text), "$error")))

    def show_note(self, text: str) -> None:
        self._stop_countdown()
        self.state = "idle"
        self._left(Content.styled(inert.server_words(text), "$foreground-muted"))
