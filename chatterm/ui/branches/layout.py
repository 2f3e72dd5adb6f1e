"""The tree view's lines: which message goes on which line, at which indent, with what
marks. Pure Python (no Textual), so it is cheap to test and to run on a thread.

A conversation of 2,000 messages is mostly one long chain, so indenting by depth (as
`tree.Shape.walk` counts it) would push its end thousands of columns to the right.
The view indents only where versions split: at a message with several versions, the
newest one continues on its parent's column (the main line reads straight down) and
each older version, with everything below it, is drawn one step in, just under the
point where it departs. So the indent grows with how deeply side branches nest, not
with the length of the chat.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from chatterm.conversation import Message, Role
from chatterm.tree import Shape

# Enough of a message for one line at any terminal width; the rest is never looked at.
WORDS = 200

ROLE_LABELS = {Role.USER: "you", Role.ASSISTANT: "model", Role.TOOL: "tool",
               Role.SYSTEM: "system"}


@dataclass(slots=True, frozen=True)
class TreeLine:
    message_id: str
    # Side branches nested this many steps in (0: the newest versions all the way down).
    level: int
    role: str
    # The start of the message on one line (or what it is when it holds no text).
    words: str
    # The model that wrote a reply; "" for prompts.
    model: str
    # (this version, how many) when the message has other versions, else None.
    version: tuple[int, int] | None
    # On the branch shown in the chat, and whether it is that branch's last message.
    on_current: bool
    is_current: bool


def first_words(message: Message) -> str:
    """The start of a message as one line: whitespace runs become one space."""
    text = " ".join(message.content[:WORDS].split())
    if text:
        return text
    if message.refusal:
        return "(refused) " + " ".join(message.refusal[:WORDS].split())
    if message.tool_calls:
        return "(tool calls: " + ", ".join(call.name for call in message.tool_calls) + ")"
    if message.error:
        return "(error) " + " ".join(message.error[:WORDS].split())
    return f"({message.state})" if message.state != "complete" else "(empty)"


def tree_lines(shape: Shape, messages: Mapping[str, Message],
               current_id: str | None) -> list[TreeLine]:
    """One line per message of `shape`, depth first, versions oldest first.

    `messages` gives each id's text, role and model; an id it lacks (a message saved
    after the text was read) gets an empty line rather than no line.
    """
    path = set(shape.path_to(current_id)) if current_id is not None and current_id in shape \
        else set()
    lines: list[TreeLine] = []
    # The one indent rule of both tree views (this and `chatterm show --tree`), so they
    # cannot drift apart again (qa12 #8): Shape.split_walk, iterative for long chains.
    for level, message_id in shape.split_walk():
        message = messages.get(message_id)
        siblings = shape.children[shape.nodes[message_id].parent_id]
        version = ((siblings.index(message_id) + 1, len(siblings))
                   if len(siblings) > 1 else None)
        if message is None:
            role, words, model = "", "", ""
        else:
            role = ROLE_LABELS.get(message.role, str(message.role))
            words = first_words(message)
            model = (message.model or "") if message.role is Role.ASSISTANT else ""
        lines.append(TreeLine(message_id, level, role, words, model, version,
                              message_id in path, message_id == current_id))
    return lines


def branch_count(shape: Shape) -> int:
    """How many branches (leaves) the tree has."""
    return sum(1 for message_id in shape.nodes if message_id not in shape.children)
