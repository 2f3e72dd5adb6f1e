"""A saved tool exchange said in plain text: what `chatterm show`, `show --tree` and the
Markdown export print for a reply's tool calls and their results.

A call is `→ time.get_current_time {"timezone": "Asia/Tokyo"}`: the tool as a person
knows it (`server.tool`, from the result that answers it; the name the model used when
there is no result), then its arguments on one line. A result is `← ` and its first
lines, "(12 more lines)" when there are more; a call that did not simply run says how
it ended first: `(declined)`, `(stopped)`, `(error) why`, `(unknown) why`, and a call
nothing answered says `(not run)`.

The text is kept as it was saved: whoever writes it to a terminal neutralises it (the
CLI's Out does), so an escape sequence in a tool's output or in arguments a model wrote
is shown as a harmless symbol, never obeyed.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from chatterm.conversation import Message, Role, ToolCall
from chatterm.toolbox import DECLINED_TEXT, STOPPED_TEXT, ToolOutcome

CALL = "→"
RESULT = "←"
RESULT_LINES = 4  # of a result, before "(N more lines)"
ARGUMENTS_CHARS = 240  # of a call's arguments on its one line
# What the model was told for a call that never ran: no news to a reader.
_BOILERPLATE = {ToolOutcome.DECLINED.value: DECLINED_TEXT,
                ToolOutcome.STOPPED.value: STOPPED_TEXT}


def results_of(messages: Sequence[Message], index: int) -> dict[str, Message]:
    """The tool messages that answer the calls of `messages[index]` (a reply): those
    just below it on the branch, by the call id each answers."""
    reply = messages[index]
    wanted = {call.id for call in reply.tool_calls}
    found: dict[str, Message] = {}
    for message in messages[index + 1:]:
        if message.role is not Role.TOOL:
            break
        if message.tool_call_id in wanted and message.tool_call_id not in found:
            found[message.tool_call_id] = message
    return found


def answered(messages: Sequence[Message]) -> set[str]:
    """Ids of the tool messages shown with the call they answer (by call_lines)."""
    ids: set[str] = set()
    for index, message in enumerate(messages):
        if message.role is Role.ASSISTANT and message.tool_calls:
            ids.update(result.id for result in results_of(messages, index).values())
    return ids


def label(call: ToolCall, result: Message | None) -> str:
    """`server.tool` when the result says which (the tool loop saves it so), else the
    name the model called."""
    return (server_tool(result) if result is not None else None) or call.name \
        or "(unnamed tool)"


def server_tool(result: Message) -> str | None:
    """`server.tool` of a tool message, when it was saved with them (the tool loop does)."""
    return f"{result.provider}.{result.model}" if result.provider and result.model else None


def result_label(result: Message) -> str:
    return server_tool(result) or "tool"


def one_line_arguments(arguments: str, limit: int = ARGUMENTS_CHARS) -> str:
    """The arguments as compact JSON on one line (as sent when not JSON), cut at
    `limit` characters with how many more there were."""
    try:
        text = json.dumps(json.loads(arguments), ensure_ascii=False)
    except (ValueError, RecursionError):
        text = " ".join(arguments.split())
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text) - limit:,} more characters)"


def pretty_arguments(arguments: str) -> str:
    """The arguments as indented JSON (as sent when they are not JSON)."""
    try:
        return json.dumps(json.loads(arguments), ensure_ascii=False, indent=2)
    except (ValueError, RecursionError):
        return arguments


def call_line(call: ToolCall, result: Message | None) -> str:
    arguments = one_line_arguments(call.arguments)
    return f"{CALL} {label(call, result)}" + (f" {arguments}" if arguments else "")


def outcome_note(result: Message) -> str | None:
    """`(declined)`, `(error) why`, …; None for a call that ran and answered."""
    outcome = result.finish_reason
    if not outcome or outcome == ToolOutcome.OK.value:
        return None
    why = result.error if result.error and result.error != outcome else ""
    first = result.content.splitlines()[0] if result.content else ""
    if why and why in first:
        why = ""  # said by the result's own first line ("error: timed out after 60 s")
    return f"({outcome}) {why}".rstrip()


def result_text(result: Message) -> str:
    """What the result says beyond its outcome (the standard declined/stopped text, which
    only the model needed, left out)."""
    if result.content == _BOILERPLATE.get(result.finish_reason or ""):
        return ""
    return result.content


def result_lines(result: Message | None, limit: int = RESULT_LINES) -> list[str]:
    """`← ` lines for one call's result: its outcome, its first `limit` lines, and how
    many more there are."""
    if result is None:
        return [f"{RESULT} (not run)"]
    lines = []
    if (note := outcome_note(result)) is not None:
        lines.append(note)
    text = result_text(result).splitlines()
    lines += text[:limit]
    if len(text) > limit:
        more = len(text) - limit
        lines.append(f"({more:,} more line{'s' if more != 1 else ''})")
    if not lines:
        lines.append("(empty)")
    return [f"{RESULT} {line}" for line in lines]


def tree_words(message: Message) -> str | None:
    """A tool message in one line for `show --tree`: `← time.get_current_time (ok) {…`."""
    if message.role is not Role.TOOL:
        return None
    note = outcome_note(message) or ""
    text = " ".join(result_text(message).split())
    return " ".join(part for part in (f"{RESULT} {result_label(message)}", note, text)
                    if part)


def calls_words(message: Message) -> str:
    """A reply's calls in one line: `→ get_current_time {"timezone": …}; → …`."""
    return "; ".join(f"{CALL} {call.name} {one_line_arguments(call.arguments, 60)}".rstrip()
                     for call in message.tool_calls)
