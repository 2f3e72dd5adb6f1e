"""Commands over saved conversations: list, search, export, import, delete, rename
(show, branch and fork are in trees.py)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from chatterm.cli.common import open_store
from chatterm.cli.output import Out, confirm, note, short_id, warn
from chatterm.conversation import HIT_END, HIT_START, Conversation
from chatterm.errors import ChattermError, UsageError
from chatterm.timefmt import relative_time

if TYPE_CHECKING:
    from chatterm.store import Store


def run(command: str, args: argparse.Namespace) -> int:
    handler = {
        "list": _list,
        "search": _search,
        "export": _export,
        "import": _import,
        "delete": _delete,
        "rename": _rename,
    }[command]
    return handler(args)


def _list(args: argparse.Namespace) -> int:
    out = Out()
    with open_store(read_only=True) as store:
        summaries = store.list_conversations(limit=args.limit)
    if args.json:
        out.json([
            {
                "id": s.id,
                "title": s.title,
                "provider": s.provider,
                "model": s.model,
                "created_at": s.created_at,
                "updated_at": s.updated_at,
                "message_count": s.message_count,
            }
            for s in summaries
        ])
        return 0
    if not summaries:
        note("No conversations yet. Start one with: chatterm ask \"hello\"")
        return 0
    for s in summaries:
        when = relative_time(s.updated_at)
        out.line(f"{short_id(s.id)}  {when:>10}  {s.model:<28.28}  {s.title}")
    return 0


def _search(args: argparse.Namespace) -> int:
    out = Out()
    query = " ".join(args.query)
    with open_store(read_only=True) as store:
        hits = store.search(query, limit=args.limit)
    if args.json:
        out.json([
            {
                "conversation_id": h.conversation_id,
                "message_id": h.message_id,
                "title": h.title,
                "role": str(h.role),
                "snippet": h.snippet.replace(HIT_START, "").replace(HIT_END, ""),
                "created_at": h.created_at,
            }
            for h in hits
        ])
        return 0
    if not hits:
        note(f"No matches for {query!r}.")
        return 0
    for hit in hits:
        out.write(f"{short_id(hit.conversation_id)}  {hit.title}\n    ")
        _write_snippet(out, " ".join(hit.snippet.split()))
        out.write("\n")
    return 0


def _write_snippet(out: Out, snippet: str) -> None:
    """Swap the store's hit markers for ours: bold yellow on a terminal, [brackets] piped.
    The markers are controls, so the snippet is split on them before anything is written."""
    for chunk in snippet.split(HIT_START):
        inside, _, after = chunk.partition(HIT_END) if HIT_END in chunk else ("", "", chunk)
        if inside:
            if out.is_tty:
                out.write(inside, style="1;33")
            else:
                out.write(f"[{inside}]")
        out.write(after)


def _export(args: argparse.Namespace) -> int:
    from chatterm.safe_write import write_text
    from chatterm.transfer import export_json, export_markdown

    with open_store(read_only=True) as store:
        conversation_id = store.resolve_id(args.id)
        # JSON holds every branch; Markdown the current one (export_markdown picks it).
        conversation = (store.get_tree(conversation_id) if args.format == "json"
                        else store.get_conversation(conversation_id))
        # The JSON export carries the attachments' bytes, so import gives them back.
        blobs = attachment_bytes(store, conversation) if args.format == "json" else None
    text = (export_json(conversation, blobs) if args.format == "json"
            else export_markdown(conversation))
    if args.output:
        write_text(Path(args.output).expanduser(), text)
        note(f"exported {short_id(conversation.id)} to {args.output}")
        return 0
    Out().write(text if text.endswith("\n") else text + "\n")
    return 0


def attachment_bytes(store: Store, conversation: Conversation) -> dict[str, bytes]:
    """The bytes of every attachment `conversation` names, by sha256 (read from the store)."""
    from chatterm.transfer_blobs import wanted

    return {sha256: store.attachment_data(sha256) for sha256 in wanted(conversation)}


def _import(args: argparse.Namespace) -> int:
    from chatterm.importers import detect

    source_name = "stdin" if args.file == "-" else args.file
    try:
        source = detect(args.file, sys.stdin.buffer.read() if args.file == "-" else None)
    except ChattermError as error:
        raise type(error)(f"{source_name}: {error.message}") from None
    except OSError as error:
        raise _unreadable(args.file, error) from None
    if source.data is not None:
        return _import_export(args, source.data, source_name)
    if args.as_new:
        raise UsageError(f"--as-new is for chatterm exports; {source_name} is {source.kind}, "
                         "whose ids come from the file, so importing it again adds nothing")
    from chatterm.cli.history_import import import_history

    return import_history(source, source_name, dry_run=args.dry_run)


def _import_export(args: argparse.Namespace, data: bytes, source: str) -> int:
    """chatterm's own export: one conversation, a copy under new ids if its ids are taken."""
    from chatterm.transfer import parse_export, with_new_ids

    try:
        conversation, blobs = parse_export(data)
    except ChattermError as error:
        raise type(error)(f"{source}: {error.message}") from None
    with open_store(read_only=args.dry_run) as store:
        taken = store.holds_ids_of(conversation)
        if args.dry_run:
            from chatterm.cli.history_import import size_line

            # Said as it will happen: a copy gets ids made when it is imported, so the
            # file's id (which names the conversation already saved) is not listed as
            # the one it will have.
            copy = args.as_new or taken
            why = (f", {short_id(conversation.id)} being saved already" if taken
                   and not args.as_new else "")
            shown_id = "(new id)" if copy else short_id(conversation.id)
            Out().line(f"{shown_id}  {size_line(conversation)}  {conversation.title}")
            note(f"would import 1 conversation{' as a copy under new ids' if copy else ''}"
                 f"{why}; nothing was written")
            return 0
        if args.as_new or taken:
            original = conversation.id
            conversation = with_new_ids(conversation)
            if not args.as_new:
                warn(f"conversation {short_id(original)} is already saved; imported a copy "
                     f"with new ids as {short_id(conversation.id)}")
        store.import_conversation(conversation, blobs=blobs)
    Out().line(conversation.id)
    return 0


def _unreadable(name: str, error: OSError) -> ChattermError:
    if isinstance(error, FileNotFoundError):
        return UsageError(f"no such file: {name}")
    if isinstance(error, IsADirectoryError):
        return UsageError(f"{name} is a directory, not an export file")
    return ChattermError(f"cannot read {name}: {error.strerror}")


def _delete(args: argparse.Namespace) -> int:
    with open_store(create=False, freeing=True) as store:
        conversation_id = store.resolve_id(args.id)
        if not args.yes:
            if not sys.stdin.isatty():
                raise UsageError("refusing to delete without confirmation: pass --yes")
            title = store.get_conversation(conversation_id, last_n=1).title or conversation_id
            if not confirm(f"Delete '{title}' ({short_id(conversation_id)})?"):
                note("Not deleted.")
                return 1
        store.delete_conversation(conversation_id)
    note(f"deleted {short_id(conversation_id)}")
    return 0


def _rename(args: argparse.Namespace) -> int:
    title = " ".join(args.title).strip()
    if not title:
        raise UsageError("the new title is empty")
    with open_store(create=False) as store:
        conversation_id = store.resolve_id(args.id)
        store.rename_conversation(conversation_id, title)
    note(f"renamed {short_id(conversation_id)} to {title!r}")
    return 0
