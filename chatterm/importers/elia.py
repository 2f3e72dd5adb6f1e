"""Elia's database (`elia.sqlite`): tables `chat` and `message`.

Each chat is one conversation: its messages in order (by `parent_id` where Elia set one,
which it does not today), the first system message as the system prompt, each reply's
model from its `model` column (else the chat's). Titles Elia never set come from the
first prompt; archived chats are imported too.
"""

from __future__ import annotations

import sqlite3

from chatterm.conversation import Conversation, Role, title_from_prompt
from chatterm.importers.common import (
    Defaults,
    Raw,
    build,
    conversation,
    first_prompt,
    stable_id,
    text_of,
    timestamp,
)
from chatterm.importers.sqlite_source import rows

NAME = "Elia's database"
PROVIDER = "elia"
_ROLES = {"user": Role.USER, "assistant": Role.ASSISTANT}


def looks_like(tables: dict[str, set[str]]) -> bool:
    return {"id", "model", "started_at"} <= tables.get("chat", set()) \
        and {"chat_id", "role", "content"} <= tables.get("message", set())


def read(conn: sqlite3.Connection, defaults: Defaults) -> list[Conversation]:
    chats = rows(conn, "SELECT id, model, title, started_at FROM chat ORDER BY id",
                 what=NAME)
    messages: dict[int, list[sqlite3.Row]] = {}
    for row in rows(conn, "SELECT * FROM message ORDER BY chat_id, id", what=NAME):
        messages.setdefault(row["chat_id"], []).append(row)
    return [_conversation(chat, messages.get(chat["id"], []), defaults) for chat in chats]


def _conversation(chat: sqlite3.Row, messages: list[sqlite3.Row],
                  defaults: Defaults) -> Conversation:
    started = timestamp(chat["started_at"])
    if started is None:
        started = min((timestamp(m["timestamp"]) or 0.0 for m in messages), default=0.0)
    # Elia's ids are small integers, so two databases share them: the chat's start time
    # tells them apart.
    cid = stable_id(PROVIDER, str(chat["id"]), str(chat["started_at"]))
    system_prompt = ""
    raws: list[Raw] = []
    previous: str | None = None
    keys = {row["id"] for row in messages}
    columns = set(messages[0].keys()) if messages else set()
    # Elia has a parent_id column but leaves it empty: then the messages are one line.
    linked = "parent_id" in columns and any(row["parent_id"] in keys for row in messages)
    for row in messages:
        key = str(row["id"])
        role = text_of(row["role"])
        if linked:
            parent_id = row["parent_id"]
            parent = str(parent_id) if parent_id in keys else None
        else:
            parent = previous
        if role == "system":
            system_prompt = system_prompt or text_of(row["content"])
            raws.append(Raw(key, parent, None))  # its children move up to the root
        else:
            model = text_of(row["model"]) if "model" in columns else ""
            kind = _ROLES.get(role)
            raws.append(Raw(key, parent, kind, content=text_of(row["content"]),
                            created_at=timestamp(row["timestamp"]),
                            model=(model or text_of(chat["model"]) or None)
                            if kind is Role.ASSISTANT else None,
                            provider=PROVIDER if kind is Role.ASSISTANT else None))
        previous = key
    built = build(cid, raws, previous, created_at=started)
    title = text_of(chat["title"]).strip()
    return conversation(cid, title=title or title_from_prompt(first_prompt(built)),
                        created_at=started, updated_at=None, defaults=defaults,
                        built=built, system_prompt=system_prompt)
