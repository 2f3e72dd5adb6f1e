"""`chatterm import FILE` for another program's history (ChatGPT, Claude, Elia, llm).

Every conversation not saved yet goes in ONE transaction, so a failure imports nothing.
Ids derive from the source's ids, so a conversation imported before is found and skipped:
importing the same file twice adds nothing the second time. stdout gets the id of each
conversation imported (or, with --dry-run, a line for each that would be); stderr one
summary line.
"""

from __future__ import annotations

from chatterm.cli.common import load_config, open_store
from chatterm.cli.output import Out, note, short_id
from chatterm.conversation import Conversation
from chatterm.errors import ChattermError
from chatterm.importers import Defaults, Source


def import_history(source: Source, name: str, *, dry_run: bool) -> int:
    config = load_config()
    provider = config.provider(None).name
    defaults = Defaults(provider=provider, model=config.model_for(provider) or "")
    try:
        found = source.read(defaults)
    except ChattermError as error:
        raise type(error)(f"{name}: {error.message}") from None
    # A conversation with no message (ChatGPT and Claude export chats opened and left
    # empty) would be an empty chat in the list: it is not imported.
    conversations = [conv for conv in found if conv.messages]
    # The same conversation twice (split export files that overlap): the newer copy.
    newest: dict[str, Conversation] = {}
    for conv in conversations:
        if conv.id not in newest or conv.updated_at >= newest[conv.id].updated_at:
            newest[conv.id] = conv
    conversations = list(newest.values())
    # A dry run opens the store read-only: nothing is created or written, not even a
    # missing database.
    with open_store(read_only=dry_run) as store:
        fresh = [conv for conv in conversations if not store.holds_ids_of(conv)]
        if fresh and not dry_run:
            store.import_conversations(fresh)
    out = Out()
    for conv in fresh:
        if dry_run:
            out.line(f"{short_id(conv.id)}  {size_line(conv)}  {conv.title}")
        else:
            out.line(conv.id)
    note(_summary(source.kind, fresh, len(conversations) - len(fresh),
                  len(found) - len(conversations), dry_run))
    return 0


def size_line(conv: Conversation) -> str:
    """"7 messages, 3 branches" (no branch count for a straight conversation)."""
    parents = {m.parent_id for m in conv.messages}
    branches = sum(1 for m in conv.messages if m.id not in parents)
    count = len(conv.messages)
    text = f"{count} message{'s' * (count != 1)}"
    return text + (f", {branches} branches" if branches > 1 else "")


def _summary(kind: str, fresh: list[Conversation], already: int, empty: int,
             dry_run: bool) -> str:
    messages = sum(len(conv.messages) for conv in fresh)
    count = len(fresh)
    what = (f"{count} conversation{'s' * (count != 1)} ({messages} "
            f"message{'s' * (messages != 1)})")
    if not fresh and already:
        what = "nothing new"
    line = (f"would import {what} from {kind}" if dry_run
            else f"imported {what} from {kind}")
    if already:
        line += f"; {already} already imported"
    if empty:
        line += f"; {empty} empty one{'s' * (empty != 1)} skipped"
    if dry_run:
        line += "; nothing was written"
    return line
