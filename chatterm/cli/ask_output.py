"""What `chatterm ask` prints: the replies' text on stdout, nothing else; tool calls and
their results, retries and errors on stderr; with --json, the final reply and every
message of the exchange (tool calls, tool results, each reply) as one JSON object.

Tool arguments and results are the model's and a server's words, hostile input like
model text: on stderr they are always neutralised (they are a report for a person, not
data; --json has them exact), so an escape sequence in a result never reaches the
terminal.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chatterm.cli.output import Out, note, warn
from chatterm.conversation import Conversation, Message, MessageState
from chatterm.sanitize import neutralise
from chatterm.toolbox import ToolOutcome

if TYPE_CHECKING:
    from chatterm.cli.approval import TerminalApprover
    from chatterm.engine.events import ReplyRestored, SessionEvent

# A result on stderr: its first lines, each cut, then how much more there is.
RESULT_LINES = 6
RESULT_WIDTH = 200
NO_TOOLS = "no tools are offered (no MCP server is configured)"


def reply_json(message: Message, conversation: Conversation | None) -> dict[str, Any]:
    return {
        "id": message.id,
        "parent_id": message.parent_id,
        "role": str(message.role),
        "content": message.content,
        "reasoning": message.reasoning,
        "refusal": message.refusal,
        "tool_calls": [call.to_dict() for call in message.tool_calls],
        "tool_call_id": message.tool_call_id,
        "finish_reason": message.finish_reason,
        "usage": message.usage.to_dict() if message.usage else None,
        "model": message.model,
        "provider": message.provider,
        "state": str(message.state),
        "error": message.error,
        "conversation_id": conversation.id if conversation else None,
    }


def tool_calls_line(message: Message, why: str = NO_TOOLS) -> str:
    """One line naming the tools a reply asked for that did not run, and why."""
    from chatterm.api.server_errors import one_line

    calls = ", ".join(f"{call.name}({one_line(call.arguments, 120)})"
                      for call in message.tool_calls)
    return (f"the reply asks to run {calls}; {why}, so they did not run "
            "(the next prompt tells the model)")


class Printer:
    """Streams each reply's text to stdout as it arrives; reports tool calls on stderr.

    `no_tools` says why tool calls would not run (None: tools are offered)."""

    def __init__(self, out: Out, *, quiet: bool, no_tools: str | None = NO_TOOLS,
                 approver: TerminalApprover | None = None) -> None:
        self.out = out
        # A line printed while a question waits (a call that needs nobody's word ended)
        # must not land after "[a]lways ": the approver moves the question below it.
        self.approver = approver
        self._aside = False  # this event's lines interrupted a question
        self.quiet = quiet
        self.no_tools = no_tools
        self.printed: dict[str, int] = {}  # per reply: how much of its text is on stdout
        self.restored: ReplyRestored | None = None
        self.exhausted: str | None = None
        # Every message of the exchange after the prompt, in the order they came.
        self.exchange: dict[str, Message] = {}

    def __call__(self, event: SessionEvent) -> None:
        try:
            self._show(event)
        finally:
            if self._aside:
                # What an event printed went below a waiting question: ask it again.
                self._aside = False
                assert self.approver is not None
                self.approver.ask_again()

    def _show(self, event: SessionEvent) -> None:
        from chatterm.engine import events

        if isinstance(event, events.ReplyStarted):
            if event.replaces is not None:
                self.exchange.pop(event.replaces.id, None)
            self.exchange[event.message.id] = event.message
            if not self.quiet:
                self.out.end_line()  # a reply after an earlier one starts on a new line
            if event.message.content:
                # An assistant prefix is part of the reply the user sees.
                self._write(event.message, event.message.content)
        elif isinstance(event, events.TextArrived):
            if event.kind in ("content", "refusal"):
                message = self.exchange.get(event.message_id)
                if message is not None:
                    self._write(message, event.text)
        elif isinstance(event, events.ReplyFinished):
            self._rest_of(event.message)
            if event.warnings:
                count = len(event.warnings)
                chunks = f"{count} unreadable chunk{'s' if count > 1 else ''}"
                self._warn(f"warning: skipped {chunks} of the stream "
                           f"(first: {event.warnings[0]})")
        elif isinstance(event, events.ReplyRestored):
            self.restored = event
        elif isinstance(event, events.ReplyRetrying):
            retry = event.retrying
            self._warn(f"{retry.reason}; retrying in {retry.delay:.1f} s "
                       f"(attempt {retry.attempt} of {retry.max_retries})")
        elif isinstance(event, events.ToolCallPending):
            if not self.quiet:
                self.out.end_line()  # the question (stderr) starts a line of its own
        elif isinstance(event, events.ToolCallStarted):
            if event.warning:
                self._warn(f"warning: {event.warning}")  # "always" could not be saved
            if not self.quiet:
                from chatterm.cli.approval import RUNNING_WIDTH, call_line

                self.out.end_line()
                self._warn("running "
                           f"{call_line(event.spec.label, event.call.arguments, RUNNING_WIDTH)}")
        elif isinstance(event, events.ToolCallFinished):
            self.exchange[event.result.id] = event.result
            self._finished(event.call.name, event.result, event.outcome)
        elif isinstance(event, events.ToolRoundsExhausted):
            self.exhausted = event.line
            self._warn(event.line)

    def _warn(self, text: str) -> None:
        self._note(f"chatterm: {text}")

    def _note(self, text: str) -> None:
        if self.approver is not None and not self._aside:
            self._aside = self.approver.interrupt()
        note(text)

    def _write(self, message: Message, text: str) -> None:
        if text:
            if not self.quiet:
                self.out.write(text)
            self.printed[message.id] = self.printed.get(message.id, 0) + len(text)

    def _rest_of(self, message: Message) -> None:
        # Without streaming (or when the server sent everything in the final chunk), the
        # text only exists on the finished message.
        text = message.content or message.refusal
        printed = self.printed.get(message.id, 0)
        if printed < len(text):
            self._write(message, text[printed:])

    def _finished(self, name: str, result: Message, outcome: ToolOutcome) -> None:
        label = neutralise(f"{result.provider}.{result.model}" if result.provider else name)
        if outcome is ToolOutcome.DECLINED:
            return  # the approver said so, or the person answered n
        if outcome is ToolOutcome.UNKNOWN:
            self._warn(f"not run: {label}: {result.error or 'unknown tool'}")
            return
        if self.quiet:
            if outcome is ToolOutcome.ERROR:
                self._warn(f"{label} failed: {neutralise(result.error or 'error')}")
            return
        if outcome is ToolOutcome.STOPPED:
            self._warn(f"{label} stopped")
            return
        if outcome is ToolOutcome.ERROR:
            error = result.error or "error"
            self._warn(f"{label} failed: {neutralise(error)}")
            if " ".join(result.content.split()).endswith(" ".join(error.split())):
                return  # the result only says the error again ("error: timed out ...")
        else:
            self._warn(f"{label} returned:")
        for line in result_lines(result.content):
            self._note(f"  {line}")

    def done(self, message: Message, conversation: Conversation | None, *,
             as_json: bool) -> int:
        """Print the end of the reply (or all of the exchange as JSON); the exit code."""
        if self.restored is not None:
            # A new version that failed or was stopped holding nothing is dropped; the
            # version before it is current again, as it was.
            error = self.restored.error or "stopped"
            self._warn(f"error: {error} (nothing arrived; the previous version is current again)")
            return 1
        self._rest_of(message)
        if as_json:
            reply = reply_json(message, conversation)
            exchange = list(self.exchange.values()) or [message]
            reply["exchange"] = [reply_json(step, conversation) for step in exchange]
            self.out.json(reply)
        else:
            self.out.end_line()
        if message.tool_calls and self.exhausted is None and self.no_tools is not None \
                and message.state is MessageState.COMPLETE:
            # A reply that only asks for tools printed nothing: say what it asked for.
            self._warn(tool_calls_line(message, self.no_tools))
        if self.exhausted is not None:
            return 1
        return report(message)


def result_lines(text: str) -> list[str]:
    """A tool result as a person first sees it on stderr: its first lines, cut, and a
    last line saying how much more was kept; every control sequence made inert."""
    lines = neutralise(text).split("\n")
    while lines and not lines[-1].strip():
        lines.pop()
    if not lines:
        return ["(empty)"]
    shown = [line if len(line) <= RESULT_WIDTH else line[:RESULT_WIDTH - 1] + "…"
             for line in lines[:RESULT_LINES]]
    if len(lines) > RESULT_LINES:
        more = len(lines) - RESULT_LINES
        shown.append(f"… ({more} more line{'s' if more > 1 else ''})")
    return shown


def report(message: Message) -> int:
    if message.state is MessageState.COMPLETE:
        return 0
    # For an unknown model, the session already added close catalog matches to the error.
    detail = message.error or "the stream ended before the reply was complete"
    if message.state is MessageState.INTERRUPTED:
        received = message.content or message.reasoning or message.refusal or message.tool_calls
        if not received:
            kept = "no reply text arrived"  # "the partial reply was kept" would be untrue
        elif message.conversation_id:
            kept = "the partial reply was kept"
        else:
            kept = "nothing was saved"
        warn(f"error: {detail} ({kept}, marked interrupted)")
    else:
        warn(f"error: {detail}")
    return 1
