"""The text of llm's messages: `parts` in order, and what they borrow.

A part's text is its `text` column, or, when it borrows stored text (`llm -f FILE`), its
`payload`'s `text_ref`: fragments (by id) and literal pieces, in order. An attachment
(`llm -a FILE`) is a bracketed line naming the file. Older llm kept the same things
beside each row of `responses`: `prompt_fragments` and `system_fragments` before the
typed prompt and system prompt, `prompt_attachments` after the prompt.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import PurePath
from typing import Any

from chatterm.importers.common import join, text_of
from chatterm.importers.sqlite_source import rows

WHAT = "llm's logs database"


def _payload(raw: Any) -> dict[str, Any]:
    try:
        value = json.loads(raw) if isinstance(raw, str) else None
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _by_id(conn: sqlite3.Connection, table: str, columns: str, ids: list[Any],
           tables: set[str]) -> dict[Any, sqlite3.Row]:
    if table not in tables or not ids:
        return {}
    found: dict[Any, sqlite3.Row] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        for row in rows(conn, f"SELECT id, {columns} FROM {table} WHERE id IN "
                              f"({','.join('?' * len(chunk))})", *chunk, what=WHAT):
            found[row["id"]] = row
    return found


def attachment_line(row: sqlite3.Row | None) -> str:
    if row is None:
        return "[attached: a file]"
    name = PurePath(text_of(row["path"])).name or text_of(row["url"]) or text_of(row["type"])
    return f"[attached: {name or 'a file'}]"


def message_texts(conn: sqlite3.Connection, hashes: list[str],
                  tables: set[str]) -> dict[str, tuple[str, str]]:
    """Each message's (text, reasoning), from its parts in order."""
    parts: list[sqlite3.Row] = []
    for start in range(0, len(hashes), 500):
        chunk = hashes[start:start + 500]
        parts += rows(conn, f"SELECT message_hash, type, tool_name, text, payload FROM parts "
                            f"WHERE message_hash IN ({','.join('?' * len(chunk))}) "
                            f"ORDER BY message_hash, position", *chunk, what=WHAT)
    payloads = [_payload(part["payload"]) for part in parts]
    fragment_ids = [ref["fragment"] for payload in payloads
                    for ref in payload.get("text_ref") or [] if isinstance(ref, dict)
                    and "fragment" in ref]
    attachment_ids = [payload["attachment"].get("id") for payload in payloads
                      if isinstance(payload.get("attachment"), dict)]
    fragments = _by_id(conn, "fragments", "content", fragment_ids, tables)
    attachments = _by_id(conn, "attachments", "type, path, url", attachment_ids, tables)
    content: dict[str, list[str]] = {}
    thinking: dict[str, list[str]] = {}
    for part, payload in zip(parts, payloads, strict=True):
        text = part["text"] if isinstance(part["text"], str) else _referenced(
            payload, fragments)
        kind = text_of(part["type"])
        target = thinking if kind == "reasoning" else content
        target.setdefault(part["message_hash"], []).append(
            _part(kind, text_of(part["tool_name"]), text, payload, attachments))
    return {key: (join(*content.get(key, [])), join(*thinking.get(key, [])))
            for key in set(content) | set(thinking)}


def _referenced(payload: dict[str, Any], fragments: dict[Any, sqlite3.Row]) -> str:
    pieces = []
    for ref in payload.get("text_ref") or []:
        if isinstance(ref, dict) and isinstance(ref.get("literal"), str):
            pieces.append(ref["literal"])
        elif isinstance(ref, dict) and ref.get("fragment") in fragments:
            pieces.append(text_of(fragments[ref["fragment"]]["content"]))
    return "".join(pieces)


def _part(kind: str, tool: str, text: str, payload: dict[str, Any],
          attachments: dict[Any, sqlite3.Row]) -> str:
    if kind in ("text", "reasoning", ""):
        return text
    if kind == "attachment":
        attached = payload.get("attachment")
        return attachment_line(attachments.get(attached.get("id"))
                               if isinstance(attached, dict) else None)
    if kind == "tool_call":
        return f"*Called {tool or 'a tool'}*"
    if kind == "tool_result":
        return f"*Result from {tool or 'a tool'}*" + (f"\n\n{text}" if text else "")
    return text or f"[{kind}]"


def legacy_extras(conn: sqlite3.Connection, tables: set[str]
                  ) -> tuple[dict[str, list[str]], dict[str, list[str]], dict[str, str]]:
    """For each response id: the texts its prompt borrowed, the texts its system prompt
    borrowed (llm puts each before the typed text, a line apart), and the lines naming
    its attachments."""
    def borrowed(table: str) -> dict[str, list[str]]:
        if table not in tables or "fragments" not in tables:
            return {}
        found: dict[str, list[str]] = {}
        for row in rows(conn, f'SELECT x.response_id, f.content FROM {table} x JOIN '
                              f'fragments f ON f.id = x.fragment_id ORDER BY x.response_id, '
                              f'x."order"', what=WHAT):
            found.setdefault(row["response_id"], []).append(text_of(row["content"]))
        return found

    attached: dict[str, list[str]] = {}
    if "prompt_attachments" in tables and "attachments" in tables:
        for row in rows(conn, 'SELECT x.response_id, a.type, a.path, a.url FROM '
                              'prompt_attachments x JOIN attachments a ON a.id = '
                              'x.attachment_id ORDER BY x.response_id, x."order"', what=WHAT):
            attached.setdefault(row["response_id"], []).append(attachment_line(row))
    return (borrowed("prompt_fragments"), borrowed("system_fragments"),
            {key: "\n".join(lines) for key, lines in attached.items()})
