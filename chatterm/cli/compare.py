"""`chatterm ask -m A -m B PROMPT`: one prompt, a reply from each model, streamed at once.

The replies stream concurrently, but stdout is one stream of text: two replies written as
their tokens arrive would interleave into garbage, on a terminal and in a pipe alike. So
the first model's reply streams live under its header, and every other reply, already
streaming (or done) in the background, is printed whole under its own header as soon as
the ones before it are printed, in the order the -m options were given. The output is
the same every run, whichever model answers first.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from chatterm.cli.output import Out, warn
from chatterm.conversation import Message, MessageState

if TYPE_CHECKING:
    from chatterm.config import Config
    from chatterm.conversation import Conversation
    from chatterm.engine.events import SessionEvent


def compare_models(args: argparse.Namespace, config: Config,
                   conversation: Conversation) -> list[tuple[str, str]]:
    """(provider, model) for each -m, in order; one provider for all of them."""
    provider = config.provider(args.provider or conversation.provider).name
    return [(provider, model) for model in args.model]


def header(message: Message) -> str:
    """The line before each reply: its id (for `branch`) and the model that wrote it,
    in the words `chatterm show` uses."""
    return f"{message.id[:8]} [assistant · {message.provider}/{message.model}]"


class ComparePrinter:
    """Prints the replies of one compare turn without mixing them (see the module doc)."""

    def __init__(self, out: Out, replies: list[Message], *, quiet: bool) -> None:
        self.out = out
        self.quiet = quiet
        self.replies = {reply.id: reply for reply in replies}
        self.order = [reply.id for reply in replies]
        self.ended: dict[str, Message] = {}
        self.shown = 0  # replies printed in full so far, in order
        self.live_printed = 0  # characters of the first reply written as they came
        self.started = False

    def __call__(self, event: SessionEvent) -> None:
        from chatterm.engine.events import (
            BranchChanged,
            ReplyFailed,
            ReplyFinished,
            ReplyRetrying,
            ReplyStarted,
            ReplyStopped,
            TextArrived,
            ToolCallFinished,
            ToolCallPending,
            ToolCallStarted,
            ToolRoundsExhausted,
        )

        if isinstance(event, BranchChanged | ToolCallPending | ToolCallStarted
                      | ToolCallFinished | ToolRoundsExhausted):
            return  # the path shown, or a tool's (a compare offers none)
        message_id = event.message_id if isinstance(event, TextArrived) else event.message.id
        if message_id not in self.replies:
            return
        live = self.shown == 0 and message_id == self.order[0]
        if isinstance(event, ReplyStarted):
            if live:
                self._start()
                self._live(event.message.content)
        elif isinstance(event, TextArrived):
            if live and event.kind in ("content", "refusal"):
                self._start()
                self._live(event.text)
        elif isinstance(event, ReplyRetrying):
            retry = event.retrying
            warn(f"{self._label(message_id)}: {retry.reason}; retrying in "
                 f"{retry.delay:.1f} s (attempt {retry.attempt} of {retry.max_retries})")
        elif isinstance(event, (ReplyFinished, ReplyFailed, ReplyStopped)):
            if isinstance(event, ReplyFinished) and event.warnings:
                count = len(event.warnings)
                warn(f"warning: {self._label(message_id)}: skipped {count} unreadable "
                     f"chunk{'s' if count > 1 else ''} of the stream "
                     f"(first: {event.warnings[0]})")
            self.ended[message_id] = event.message
            self._print_ready()

    def finish(self, replies: list[Message]) -> None:
        """After the compare returned: print whatever is left (every reply has ended)."""
        for reply in replies:
            self.ended.setdefault(reply.id, reply)
        self._print_ready()

    def _label(self, message_id: str) -> str:
        reply = self.replies[message_id]
        return f"{reply.provider}/{reply.model}"

    def _start(self) -> None:
        if not self.started and not self.quiet:
            self.out.line(header(self.replies[self.order[0]]))
        self.started = True

    def _live(self, text: str) -> None:
        if text and not self.quiet:
            self.out.write(text)
            self.live_printed += len(text)

    def _print_ready(self) -> None:
        while self.shown < len(self.order) and self.order[self.shown] in self.ended:
            message = self.ended[self.order[self.shown]]
            if not self.quiet:
                self._print_whole(message, first=self.shown == 0)
            self.shown += 1

    def _print_whole(self, message: Message, *, first: bool) -> None:
        from chatterm.cli.ask_output import tool_calls_line

        text = message.content or message.refusal
        if first:
            self._start()
            # Without streaming the text only exists on the finished message.
            if self.live_printed < len(text):
                self.out.write(text[self.live_printed:])
        else:
            self.out.end_line()
            self.out.line("")
            self.out.line(header(message))
            self.out.write(text)
        self.out.end_line()
        if message.tool_calls:
            warn(f"{self._label(message.id)}: "
                 f"{tool_calls_line(message, 'comparing models offers no tools')}")


def report(replies: list[Message]) -> int:
    """0 when every reply is complete; else one line per reply that is not, and 1."""
    code = 0
    for reply in replies:
        if reply.state is MessageState.COMPLETE:
            continue
        code = 1
        detail = reply.error or "the stream ended before the reply was complete"
        kept = " (the partial reply was kept, marked interrupted)" \
            if reply.state is MessageState.INTERRUPTED and reply.content else ""
        warn(f"error: {reply.provider}/{reply.model}: {detail}{kept}")
    return code
