"""`chatterm doctor`: check a database, and copy what can still be read into a new one.

SQLite's own `.recover` lives in its command-line shell, not in the library Python ships,
so this recovery reads the damaged file through plain SQL: table by table in rowid
order, in batches, and where a batch hits a damaged page, row by row (and a row that
fails whole, column by column), stepping over what cannot be read. The original file is
opened read-only and never changed; the copy is a fresh chatterm database built with the
current schema, its full-text index rebuilt from the recovered text.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chatterm.store import attached, calls, database, failures, parts, space
from chatterm.store.files import create_private_file

BATCH = 256
MAX_PROBLEMS = 20
LOST_TEXT = "chatterm doctor: the text of this message could not be read"
_CONVERSATION_COLUMNS = ("id", "title", "created_at", "updated_at", "provider", "model",
                         "params", "system_prompt")
_MESSAGE_COLUMNS = ("id", "conversation_id", "position", "parent_id", "role", "state",
                    "created_at", "provider", "model", "finish_reason", "tool_call_id",
                    "error", "usage", "tool_calls", "refusal", "reasoning", "content")
# Schema version 5 (attached.py): a file from before it has none of these.
_BLOB_COLUMNS = ("sha256", "mime", "size", "width", "height", "created_at", "data")
_LINK_COLUMNS = ("message_id", "position", "name", "sha256")
_TEXT_COLUMNS = {"refusal", "reasoning", "content", "system_prompt", "title"}
_ROLES = {"system", "user", "assistant", "tool"}
_STATES = {"complete", "streaming", "interrupted", "error"}


@dataclass(slots=True)
class Recovery:
    path: Path
    conversations: int = 0
    messages: int = 0
    unreadable_rows: int = 0
    lost_texts: int = 0
    placeholders: int = 0  # conversations whose own row was lost, rebuilt from messages
    notes: list[str] = field(default_factory=list)


def check(path: Path) -> list[str]:
    """`PRAGMA integrity_check` on a read-only connection: ["ok"] or the problems found."""
    try:
        conn = open_damaged(path)
    except sqlite3.Error as exc:
        return [f"cannot open it at all: {exc}"]
    try:
        found = [str(row[0]) for row in conn.execute(
            f"PRAGMA integrity_check({MAX_PROBLEMS})")]
    except sqlite3.Error as exc:
        return [f"the check itself failed: {exc}"]
    finally:
        conn.close()
    return found or ["the check returned nothing"]


def open_damaged(path: Path) -> sqlite3.Connection:
    """A read-only connection that never writes to, or checkpoints into, `path`."""
    uri = database.file_uri(path)
    conn = sqlite3.connect(f"{uri}?mode=ro", uri=True)
    try:
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.Error as exc:
        conn.close()
        if failures.kind_of(exc) is not failures.Kind.CANNOT_OPEN:
            raise
        conn = sqlite3.connect(f"{uri}?immutable=1", uri=True)  # a read-only directory
    return conn


def free_name(path: Path) -> Path:
    """chatterm.db.recovered, then .recovered-2, … : created empty (0600), never reused."""
    counter = 1
    while True:
        target = path.with_name(f"{path.name}.recovered" + (f"-{counter}" if counter > 1 else ""))
        if create_private_file(target):
            return target
        counter += 1


def recover(source: Path, target: Path) -> Recovery:
    """Copy everything readable from `source` into the new database at `target`."""
    from chatterm.store import Store  # the schema and its setup, for the new file

    result = Recovery(target)
    src = open_damaged(source)
    try:
        conversations = {row["id"]: row for row in _valid_conversations(src, result)}
        roles = _roles(src)
        current = _current_ids(src)
        by_conversation: dict[str, list[dict[str, Any]]] = {}
        seen: set[str] = set()
        for row in _valid_messages(src, result):
            if row["id"] in seen:
                result.unreadable_rows += 1
                continue
            seen.add(row["id"])
            by_conversation.setdefault(row["conversation_id"], []).append(row)
        _attach_parts(src, by_conversation, result)
        links, blobs = _attachments(src, seen, result)
    finally:
        src.close()
    with Store.open(target) as store, store.raw_connection() as conn, \
            database.transaction(conn):
        for conv_id, messages in by_conversation.items():
            if conv_id not in conversations:
                conversations[conv_id] = _placeholder(conv_id, messages)
                result.placeholders += 1
        for conv_id, conv in conversations.items():
            messages = sorted(by_conversation.get(conv_id, []),
                              key=lambda m: (m["position"], m["seq"]))
            conv["message_count"] = len(messages)
            _mend_parents(messages)
            ids = {message["id"] for message in messages}
            # The current branch is kept when its leaf survived; otherwise the store
            # reads the last message as the leaf.
            conv["current_id"] = current.get(conv_id) if current.get(conv_id) in ids else None
            conv["role"] = roles.get(conv_id)
            conn.execute(
                "INSERT INTO conversations (id, title, created_at, updated_at, provider, "
                "model, system_prompt, params, message_count, current_id, role) VALUES (:id, "
                ":title, :created_at, :updated_at, :provider, :model, :system_prompt, "
                ":params, :message_count, :current_id, :role)", conv)
            for position, message in enumerate(messages):
                # Renumbered without gaps (the store relies on it); nobody streams into
                # a recovered copy, so a reply cut off by the damage reads as interrupted.
                message["position"] = position
                if message["state"] == "streaming":
                    message["state"] = "interrupted"
                # Searchable calls (schema 4): written with the row, before it is indexed.
                message["calls"] = calls.text_of_saved(message.get("tool_calls"))
                conn.execute(
                    f"INSERT INTO messages ({', '.join(_MESSAGE_COLUMNS)}, calls) VALUES "
                    f"({', '.join(':' + c for c in _MESSAGE_COLUMNS)}, :calls)", message)
            result.conversations += 1
            result.messages += len(messages)
        conn.execute("INSERT INTO messages_fts(rowid, content, reasoning, calls) "
                     "SELECT seq, content, reasoning, calls FROM messages")
        attached.fill_usage(conn)
        conn.executemany(f"INSERT INTO attachments ({', '.join(_BLOB_COLUMNS)}) VALUES "
                         f"({', '.join('?' * len(_BLOB_COLUMNS))})",
                         ([blob[c] for c in _BLOB_COLUMNS] for blob in blobs.values()))
        conn.executemany(f"INSERT INTO message_attachments ({', '.join(_LINK_COLUMNS)}) "
                         "VALUES (?, ?, ?, ?)", links)
    # Opening it made a disk-space reserve; the copy is not in use yet, so it needs none.
    space.release_reserve(target)
    return result


# ---- reading what is left ---------------------------------------------------------------


def _current_ids(src: sqlite3.Connection) -> dict[str, str]:
    """Each conversation's current leaf, where readable (a version-2 file has none)."""
    try:
        return {cid: leaf for cid, leaf in src.execute(
            "SELECT id, current_id FROM conversations WHERE current_id IS NOT NULL")
            if isinstance(cid, str) and isinstance(leaf, str)}
    except sqlite3.DatabaseError:
        return {}


def _roles(src: sqlite3.Connection) -> dict[str, str]:
    """Each conversation's saved role, where readable (a file before version 5 has none)."""
    try:
        return {cid: role for cid, role in src.execute(
            "SELECT id, role FROM conversations WHERE role IS NOT NULL")
            if isinstance(cid, str) and isinstance(role, str) and role}
    except sqlite3.DatabaseError:
        return {}


def _attachments(src: sqlite3.Connection, messages: set[str], result: Recovery
                 ) -> tuple[list[tuple[Any, ...]], dict[str, dict[str, Any]]]:
    """The attachment links of recovered messages, and the blobs they use whose bytes
    still hash to their name; a message loses the attachments whose bytes were damaged."""
    if not _safe(src, "SELECT 1 FROM sqlite_master WHERE name = 'message_attachments'"):
        return [], {}
    blobs: dict[str, dict[str, Any]] = {}
    for row in _rows(src, "attachments", _BLOB_COLUMNS, result):
        data, sha256 = row["data"], row["sha256"]
        if isinstance(data, bytes) and isinstance(sha256, str) and isinstance(
                row["mime"], str) and hashlib.sha256(data).hexdigest() == sha256:
            row["size"] = len(data)
            if not isinstance(row["created_at"], int | float):
                row["created_at"] = 0.0
            blobs[sha256] = row
        else:
            result.unreadable_rows += 1
    links: list[tuple[Any, ...]] = []
    lost = 0
    for row in _rows(src, "message_attachments", _LINK_COLUMNS, result):
        if row["message_id"] not in messages or not isinstance(row["name"], str) \
                or not isinstance(row["position"], int):
            continue
        if row["sha256"] not in blobs:
            lost += 1
            continue
        links.append(tuple(row[c] for c in _LINK_COLUMNS))
    if lost:
        result.notes.append(f"attachments: {lost} could not be read and were left out")
    used = {link[3] for link in links}
    return links, {sha256: blob for sha256, blob in blobs.items() if sha256 in used}


def _mend_parents(messages: list[dict[str, Any]]) -> None:
    """A message whose parent was lost to the damage answers the message recovered just
    before it instead, so the copy is still a tree and every message stays reachable."""
    seen: set[str] = set()
    previous: str | None = None
    for message in messages:
        parent = message["parent_id"]
        if parent is not None and parent not in seen:
            message["parent_id"] = previous
        seen.add(message["id"])
        previous = message["id"]


def _valid_conversations(src: sqlite3.Connection, result: Recovery) -> Iterator[dict[str, Any]]:
    for row in _rows(src, "conversations", _CONVERSATION_COLUMNS, result):
        if not isinstance(row["id"], str) or not row["id"]:
            result.unreadable_rows += 1
            continue
        row["title"] = row["title"] if isinstance(row["title"], str) else ""
        row["system_prompt"] = row["system_prompt"] if isinstance(row["system_prompt"],
                                                                 str) else ""
        row["params"] = row["params"] if _is_json(row["params"]) else "{}"
        for name in ("provider", "model"):
            row[name] = row[name] if isinstance(row[name], str) else "unknown"
        for name in ("created_at", "updated_at"):
            row[name] = row[name] if isinstance(row[name], int | float) else 0.0
        yield row


def _valid_messages(src: sqlite3.Connection, result: Recovery) -> Iterator[dict[str, Any]]:
    for row in _rows(src, "messages", _MESSAGE_COLUMNS, result):
        if not (isinstance(row["id"], str) and row["id"]
                and isinstance(row["conversation_id"], str) and row["conversation_id"]
                and row["role"] in _ROLES and row["state"] in _STATES
                and isinstance(row["position"], int)):
            result.unreadable_rows += 1
            continue
        if not isinstance(row["created_at"], int | float):
            row["created_at"] = 0.0
        for name in ("usage", "tool_calls"):
            if row[name] is not None and not _is_json(row[name]):
                row[name] = None
        lost = [name for name in ("content", "reasoning", "refusal")
                if not isinstance(row[name], str)]
        for name in lost:
            row[name] = ""
        if lost:
            result.lost_texts += 1
            row["error"] = LOST_TEXT if not row["error"] else f"{row['error']}; {LOST_TEXT}"
            if row["state"] == "complete":
                row["state"] = "interrupted"
        yield row


def _attach_parts(src: sqlite3.Connection, by_conversation: dict[str, list[dict[str, Any]]],
                  result: Recovery) -> None:
    """The appended text of replies that were streaming (see parts.py), where readable."""
    streaming = {m["seq"]: m for messages in by_conversation.values() for m in messages
                 if m["state"] == "streaming"}
    if not streaming:
        return
    try:
        found = src.execute(f"SELECT seq, field, text FROM {parts.TABLE} "
                            "ORDER BY seq, field, start").fetchall()
    except sqlite3.DatabaseError:
        result.notes.append(f"{parts.TABLE}: unreadable; streaming replies keep their "
                            "first saved part only")
        return
    for seq, name, text in found:
        message = streaming.get(seq)
        if message is not None and name in parts.FIELDS and isinstance(text, str):
            message[name] += text


def _placeholder(conv_id: str, messages: list[dict[str, Any]]) -> dict[str, Any]:
    first = min(messages, key=lambda m: m["created_at"])
    last = max(messages, key=lambda m: m["created_at"])
    return {"id": conv_id, "title": "(recovered: the title could not be read)",
            "created_at": first["created_at"], "updated_at": last["created_at"],
            "provider": first["provider"] or "unknown", "model": first["model"] or "unknown",
            "params": "{}", "system_prompt": ""}


def _rows(conn: sqlite3.Connection, table: str, columns: tuple[str, ...],
          result: Recovery) -> Iterator[dict[str, Any]]:
    """Every readable row of `table` as a dict (with its rowid as "seq"), in rowid order."""
    listed = ", ".join(columns)
    highest = _highest_rowid(conn, table)
    last = 0
    while True:
        try:
            batch = conn.execute(
                f"SELECT rowid, {listed} FROM {table} WHERE rowid > ? ORDER BY rowid "
                f"LIMIT {BATCH}", (last,)).fetchall()
        except sqlite3.DatabaseError:
            if highest is None or last >= highest:
                result.notes.append(f"{table}: stopped after rowid {last} (damaged)")
                return
            # Step over the damage one row at a time, then try batches again.
            for rowid in range(last + 1, min(last + BATCH, highest) + 1):
                row = _one_row(conn, table, columns, rowid)
                if row is None:
                    result.unreadable_rows += 1
                elif row is not _MISSING:
                    yield row
            last = min(last + BATCH, highest)
            continue
        if not batch:
            return
        for values in batch:
            yield {"seq": values[0], **dict(zip(columns, values[1:], strict=True))}
        last = batch[-1][0]


_MISSING: dict[str, Any] = {}


def _one_row(conn: sqlite3.Connection, table: str, columns: tuple[str, ...],
             rowid: int) -> dict[str, Any] | None:
    """The row at `rowid`; _MISSING if there is none, None if it cannot be read at all."""
    try:
        values = conn.execute(f"SELECT {', '.join(columns)} FROM {table} WHERE rowid = ?",
                              (rowid,)).fetchone()
    except sqlite3.DatabaseError:
        values = None
    else:
        if values is None:
            return _MISSING
        return {"seq": rowid, **dict(zip(columns, values, strict=True))}
    # The row is there but part of it is not readable (an overflow page of a long text):
    # keep the columns that are.
    row: dict[str, Any] = {"seq": rowid}
    for column in columns:
        try:
            found = conn.execute(f"SELECT {column} FROM {table} WHERE rowid = ?",
                                 (rowid,)).fetchone()
        except sqlite3.DatabaseError:
            if column not in _TEXT_COLUMNS:
                return None
            found = (None,)
        if found is None:
            return None
        row[column] = found[0]
    return row


def _highest_rowid(conn: sqlite3.Connection, table: str) -> int | None:
    try:
        found: int | None = conn.execute(f"SELECT max(rowid) FROM {table}").fetchone()[0]
    except sqlite3.DatabaseError:
        found = None
    if found is None:
        # The right edge of the table is damaged: its indexes still hold the rowids.
        for (index,) in _safe(conn, "SELECT name FROM sqlite_master WHERE type = 'index' "
                                    f"AND tbl_name = '{table}'"):
            for (value,) in _safe(conn, f"SELECT max(rowid) FROM {table} INDEXED BY "
                                        f"\"{index}\""):
                if isinstance(value, int) and (found is None or value > found):
                    found = value
    return found


def _safe(conn: sqlite3.Connection, sql: str) -> list[tuple[Any, ...]]:
    try:
        return conn.execute(sql).fetchall()
    except sqlite3.DatabaseError:
        return []


def _is_json(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        json.loads(value)
    except ValueError:
        return False
    return True
