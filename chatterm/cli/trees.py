"""Commands over a conversation's tree: show (the current branch, or --tree), branch, fork."""

from __future__ import annotations

import argparse
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

from chatterm import tool_text
from chatterm.cli.common import open_store
from chatterm.cli.output import Out, note, short_id
from chatterm.conversation import Conversation, Message, MessageState, Role
from chatterm.redact import redact

if TYPE_CHECKING:
    from chatterm.store import Store
    from chatterm.tree import Shape

# How much of a message a one-line listing (--tree, branch) shows.
WORDS = 60


def run(command: str, args: argparse.Namespace) -> int:
    handler = {"show": _show, "branch": _branch, "fork": _fork}[command]
    return handler(args)


def resolve_message(store: Store, conversation_id: str, prefix: str) -> str:
    """A message id (or unique prefix) of that conversation, whole; UsageError otherwise."""
    from chatterm.errors import UsageError

    if not prefix.strip():
        raise UsageError("an empty message id: give one (or a unique prefix) from "
                         "'chatterm show ID'")
    return store.resolve_message_id(conversation_id, prefix.strip())


def version_mark(shape: Shape, message_id: str) -> str:
    """`[2/3]` for a message with other versions, "" for one without."""
    if message_id not in shape:
        return ""
    which, count = shape.version(message_id)
    return f"[{which}/{count}]" if count > 1 else ""


def heading(message: Message, mark: str = "") -> str:
    """A message's heading line in `show`: its id (a prefix every command takes), who
    wrote it and, when it has other versions, which one it is."""
    if message.role is Role.ASSISTANT:
        # Imported replies may name no provider or no model: never print "None".
        who = "/".join(part for part in (message.provider, message.model) if part)
        label = f"[assistant · {who or 'unknown model'}"
        if message.state.value != "complete":
            label += f" · {message.state.value}"
        label += "]"
    elif message.role is Role.TOOL:
        name = tool_text.server_tool(message)
        label = f"[tool · {name}]" if name else "[tool]"
    else:
        label = f"[{message.role.value}]"
    return " ".join(part for part in (short_id(message.id), label, mark) if part)


def fit(out: Out, start: str, words: str) -> str:
    """`start` then `words`, the words clipped so the line fits a terminal's width (a
    wrapped listing is hard to read); piped, the line is left whole."""
    if out.is_tty:
        import shutil

        # One column spare: a line that fills the last one wraps on some terminals.
        room = shutil.get_terminal_size().columns - 1 - len(start)
        if len(words) > room:
            words = words[: room - 1].rstrip() + "…" if room > 1 else ""
    return start + words


def first_words(message: Message, width: int = WORDS) -> str:
    """The start of a message on one line (its text, else what it holds instead)."""
    text = tool_text.tree_words(message) or message.content or message.refusal \
        or message.reasoning
    if not text and message.tool_calls:
        text = tool_text.calls_words(message)
    if not text:
        text = ending(message) or ("(empty)" if _is_empty(message) else "")
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1].rstrip() + "…"


def _is_empty(message: Message) -> bool:
    """A reply that finished holding nothing at all (a model may answer so)."""
    return (message.role is Role.ASSISTANT and message.state is MessageState.COMPLETE
            and not (message.content or message.reasoning or message.refusal
                     or message.tool_calls or message.error))


def ending(message: Message) -> str | None:
    """The line that says how a reply ended, when it did not simply finish: what
    happened, said as it was. A reply the user stopped (Esc, Ctrl+C, quitting) is saved
    with the reason "stopped"; it is no error, and "(error) stopped" read as one."""
    if not message.error:
        return None
    if message.state is MessageState.INTERRUPTED:
        if message.error == "stopped":
            received = message.content or message.reasoning or message.refusal
            return ("(stopped before the reply was complete)" if received
                    else "(stopped before any text arrived)")
        # Cut short by something else (the connection, the server): its words.
        return f"(interrupted) {redact(message.error)}"
    return f"(error) {redact(message.error)}"  # a server's words, maybe a key


# ---- show ---------------------------------------------------------------------------------


def _show(args: argparse.Namespace) -> int:
    from chatterm.attach_files import describe
    from chatterm.transfer import export_json

    out = Out()
    with open_store(read_only=True) as store:
        conversation_id = store.resolve_id(args.id)
        if args.json:
            # The export format: every message of every branch.
            out.write(export_json(store.get_tree(conversation_id)))
            out.end_line()
            return 0
        if args.tree:
            _print_tree(out, store.get_tree(conversation_id), store.shape(conversation_id))
            return 0
        conversation = store.get_conversation(conversation_id)
        shape = store.shape(conversation_id)
    _print_header(out, conversation)
    messages = conversation.messages
    # Results shown under the call they answer are not repeated as messages of their own.
    shown_with_call = tool_text.answered(messages)
    for index, message in enumerate(messages):
        if message.id in shown_with_call:
            continue
        out.line("")
        out.line(heading(message, version_mark(shape, message.id)))
        if message.reasoning:
            out.line("(reasoning) " + message.reasoning.strip())
        if message.refusal:
            out.line("(refusal) " + message.refusal)
        if message.role is Role.TOOL:
            # A result answering no call of the reply above it (a hand-made file).
            for line in tool_text.result_lines(message):
                out.line(line)
        elif message.content:
            out.line(message.content)
        for attachment in message.attachments:
            out.line(f"(attached) {attachment.name}  {describe(attachment)}")
        if message.tool_calls:
            results = tool_text.results_of(messages, index)
            for call in message.tool_calls:
                result = results.get(call.id)
                out.line(tool_text.call_line(call, result))
                for line in tool_text.result_lines(result):
                    out.line("  " + line)
        if (why := ending(message)) is not None:
            out.line(why)
        elif _is_empty(message):
            out.line("(empty)")  # said, or the header would seem to lose its text
    return 0


def _print_header(out: Out, conversation: Conversation) -> None:
    out.line(f"# {conversation.title or 'Untitled'}  ({conversation.id})")
    out.line(f"provider: {conversation.provider}  model: {conversation.model}")
    if conversation.system_prompt:
        out.line(f"\n[system]\n{conversation.system_prompt}")


def _print_tree(out: Out, conversation: Conversation, shape: Shape) -> None:
    """One line per message, depth first, versions oldest first, indented as the app's
    tree view (Ctrl+T) is (`Shape.split_walk`): the newest version of a message carries
    straight on at its parent's indent, each older one, with what follows it, one step
    in, under the message it branches from. A straight conversation stays flat however
    long it is. Versions carry their `[n/m]`; `*` marks the current branch."""
    by_id = {message.id: message for message in conversation.messages}
    current = set(shape.path_to(conversation.current_id)) if conversation.current_id else set()
    _print_header(out, conversation)
    out.line("")
    for level, message_id in shape.split_walk():
        message = by_id[message_id]
        # A reply is named by its model (the shortest way to tell versions apart).
        who = message.role.value
        if message.role is Role.ASSISTANT:
            who = message.model or "assistant"
            if message.state.value != "complete":
                who += f" · {message.state.value}"
        parts = ["*" if message_id in current else " ", short_id(message_id),
                 version_mark(shape, message_id), f"{who}:"]
        start = "  " * level + " ".join(part for part in parts if part) + " "
        out.line(fit(out, start, first_words(message)))


# ---- branch -------------------------------------------------------------------------------


def _branch(args: argparse.Namespace) -> int:
    if args.message_id is not None:
        return _switch(args)
    out = Out()
    with open_store(read_only=True) as store:
        conversation_id = store.resolve_id(args.id)
        conversation = store.get_tree(conversation_id)
        shape = store.shape(conversation_id)
    rows = branch_rows(conversation, shape)
    if args.json:
        out.json([asdict(row) for row in rows])
        return 0
    if not rows:
        note(f"{short_id(conversation.id)} has no messages yet.")
        return 0
    # Columns as wide as their widest entry, so a narrow terminal keeps the words.
    depth_width = max(len(str(row.depth)) for row in rows)
    model_width = min(28, max(len(row.model or "-") for row in rows))
    for row in rows:
        mark = "*" if row.current else " "
        model = row.model or "-"
        where = "(current)" if row.current else row.departs_with
        start = (f"{mark} {short_id(row.leaf_id)}  depth {row.depth:<{depth_width}}  "
                 f"{model:<{model_width}.{model_width}}  ")
        out.line(fit(out, start, where))
    return 0


@dataclass(slots=True, frozen=True)
class BranchRow:
    leaf_id: str
    depth: int  # messages on the branch, its first prompt included
    model: str | None  # of the branch's last reply
    current: bool
    departs_at: str | None  # the first message not on the current branch
    departs_with: str  # its first words


def branch_rows(conversation: Conversation, shape: Shape) -> list[BranchRow]:
    """One row per branch (leaf), in the order they were made."""
    by_id = {message.id: message for message in conversation.messages}
    current = shape.path_to(conversation.current_id) if conversation.current_id else []
    rows: list[BranchRow] = []
    for leaf in shape.leaves():
        path = shape.path_to(leaf)
        shared = shape.divergence(path, current)
        departs = by_id[path[shared]] if shared < len(path) else None
        replies = [by_id[mid] for mid in path if by_id[mid].role is Role.ASSISTANT]
        rows.append(BranchRow(
            leaf_id=leaf,
            depth=len(path),
            model=replies[-1].model if replies else None,
            current=leaf == conversation.current_id,
            departs_at=departs.id if departs else None,
            departs_with=first_words(departs) if departs else "",
        ))
    return rows


def _switch(args: argparse.Namespace) -> int:
    with open_store(create=False) as store:
        conversation_id = store.resolve_id(args.id)
        message_id = resolve_message(store, conversation_id, args.message_id)
        leaf = store.shape(conversation_id).latest_leaf(message_id) or message_id
        store.set_current(conversation_id, leaf)
    to = f" (to {short_id(leaf)})" if leaf != message_id else ""
    note(f"the current branch of {short_id(conversation_id)} now runs through "
         f"{short_id(message_id)}{to}")
    return 0


# ---- fork ---------------------------------------------------------------------------------


def _fork(args: argparse.Namespace) -> int:
    with open_store(create=False) as store:
        conversation_id = store.resolve_id(args.id)
        message_id = resolve_message(store, conversation_id, args.message_id)
        forked = store.fork_conversation(conversation_id, message_id, args.title)
    Out().line(forked.id)
    # The title said, since without --title it is made up ("<title> (fork)").
    note(f"forked {short_id(conversation_id)} at {short_id(message_id)} as "
         f"{forked.title!r}: "
         f"{len(forked.messages)} message{'s' if len(forked.messages) != 1 else ''}")
    return 0
