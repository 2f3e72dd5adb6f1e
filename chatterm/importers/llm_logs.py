"""llm's database (`logs.db`, `llm logs path`), both of its layouts.

- llm 0.3x keeps a message store: `threads` (a conversation: its name and its tip, the
  last message), `turns` (one model call: the thread, the model, tokens, time, and the
  messages it added, from `parent_message_hash` down to `tip_message_hash`), `messages`
  (content-addressed, linked by `parent_hash`, so a tree) and `parts` (their text, or
  `fragments` it borrows). Each thread is one conversation, every branch kept, its tip
  the current branch; a reply's model is its turn's (`resolved_model` when llm recorded
  which model an alias meant), its usage the turn's tokens.
- Older llm logged one row per prompt and reply in `responses`, grouped by
  `conversation_id` (`conversations` holds the name): each conversation is one line, in
  order, each reply with its model. Newer llm keeps those rows for old history; a row
  that also exists as a turn is the same exchange and is read from the turn.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from typing import Any

from chatterm.conversation import Conversation, Role, Usage, title_from_prompt
from chatterm.importers import llm_parts
from chatterm.importers.common import (
    Defaults,
    Raw,
    build,
    conversation,
    first_prompt,
    join,
    stable_id,
    text_of,
    timestamp,
)
from chatterm.importers.sqlite_source import rows

NAME = "llm's logs database"
PROVIDER = "llm"
_ROLES = {"user": Role.USER, "assistant": Role.ASSISTANT, "tool": Role.ASSISTANT}


def looks_like(tables: dict[str, set[str]]) -> bool:
    store = {"id", "tip_message_hash"} <= tables.get("threads", set()) \
        and {"hash", "parent_hash"} <= tables.get("messages", set())
    legacy = {"id", "prompt", "response", "conversation_id"} <= tables.get("responses", set())
    return store or legacy


def read(conn: sqlite3.Connection, defaults: Defaults,
         tables: dict[str, set[str]]) -> list[Conversation]:
    found: list[Conversation] = []
    threads: set[str] = set()
    if "threads" in tables and "turns" in tables and "parts" in tables:
        for thread in rows(conn, "SELECT * FROM threads ORDER BY datetime_utc, id", what=NAME):
            threads.add(thread["id"])
            found.append(_thread(conn, thread, defaults, set(tables)))
    if "responses" in tables:
        found.extend(_legacy(conn, defaults, set(tables), skip=threads))
    return found


# ---- the message store (llm 0.3x) --------------------------------------------------------


def _thread(conn: sqlite3.Connection, thread: sqlite3.Row, defaults: Defaults,
            tables: set[str]) -> Conversation:
    turns = rows(conn, "SELECT * FROM turns WHERE thread_id = ? ORDER BY datetime_utc, id",
                 thread["id"], what=NAME)
    tips = [thread["tip_message_hash"], *(turn["tip_message_hash"] for turn in turns)]
    chain = _messages(conn, [tip for tip in tips if tip])
    texts = llm_parts.message_texts(conn, list(chain), tables)
    # A forked thread shares the messages above the fork with the thread it came from:
    # the turns that made those belong to that thread.
    turns = [*turns, *_turns_ending_in(conn, list(chain), thread["id"])]
    # What each turn added: its messages from the tip up to (not including) its prompt.
    made_by: dict[str, sqlite3.Row] = {}
    asked_at: dict[str, float] = {}
    for turn in turns:
        when = timestamp(turn["datetime_utc"])
        at: str | None = turn["tip_message_hash"]
        while at is not None and at in chain and at != turn["parent_message_hash"] \
                and at not in made_by:
            made_by[at] = turn
            at = chain[at]["parent_hash"]
        prompt = turn["parent_message_hash"]
        if prompt and when is not None:
            asked_at[prompt] = min(asked_at.get(prompt, when), when)
    created = timestamp(thread["datetime_utc"]) or min(asked_at.values(), default=0.0)
    system_prompt = ""
    raws: list[Raw] = []
    for key, message in chain.items():
        role = text_of(message["role"])
        content, reasoning = texts.get(key, ("", ""))
        if role == "system":
            system_prompt = system_prompt or content
            raws.append(Raw(key, message["parent_hash"], None))
            continue
        maker = made_by.get(key)
        raw = Raw(key, message["parent_hash"], _ROLES.get(role), content=content,
                  reasoning=reasoning, created_at=asked_at.get(key))
        if maker is not None and raw.role is Role.ASSISTANT:
            raw.model = text_of(maker["resolved_model"]) or text_of(maker["model"]) or None
            raw.provider = PROVIDER
            raw.created_at = _finished(maker)
            if key == maker["tip_message_hash"]:
                raw.usage = _usage(maker["input_tokens"], maker["output_tokens"])
        raws.append(raw)
    cid = stable_id(PROVIDER, thread["id"])
    built = build(cid, raws, thread["tip_message_hash"], created_at=created)
    title = text_of(thread["name"]).strip()
    return conversation(cid, title=title or title_from_prompt(first_prompt(built)),
                        created_at=created, updated_at=None, defaults=defaults,
                        built=built, system_prompt=system_prompt)


def _turns_ending_in(conn: sqlite3.Connection, hashes: list[str],
                     thread_id: str) -> list[sqlite3.Row]:
    found: list[sqlite3.Row] = []
    for start in range(0, len(hashes), 500):
        chunk = hashes[start:start + 500]
        found += rows(conn, f"SELECT * FROM turns WHERE thread_id != ? AND tip_message_hash "
                            f"IN ({','.join('?' * len(chunk))}) ORDER BY datetime_utc, id",
                      thread_id, *chunk, what=NAME)
    return found


def _messages(conn: sqlite3.Connection, tips: list[str]) -> dict[str, sqlite3.Row]:
    """Every message from these tips up to their roots, by hash (one recursive query)."""
    if not tips:
        return {}
    marks = ",".join("?" * len(tips))
    found = rows(conn, f"""
        WITH RECURSIVE chain(hash) AS (
            SELECT hash FROM messages WHERE hash IN ({marks})
            UNION
            SELECT m.parent_hash FROM messages m JOIN chain c ON m.hash = c.hash
            WHERE m.parent_hash IS NOT NULL)
        SELECT messages.* FROM messages JOIN chain USING (hash) ORDER BY messages.rowid
        """, *tips, what=NAME)
    return {row["hash"]: row for row in found}


def _finished(turn: sqlite3.Row) -> float | None:
    start = timestamp(turn["datetime_utc"])
    took = turn["duration_ms"]
    if start is None:
        return None
    return start + (took / 1000 if isinstance(took, int) and 0 < took < 86_400_000 else 0)


def _usage(prompt: Any, completion: Any) -> Usage | None:
    prompt = prompt if isinstance(prompt, int) else None
    completion = completion if isinstance(completion, int) else None
    if prompt is None and completion is None:
        return None
    total = (prompt or 0) + (completion or 0)
    return Usage(prompt_tokens=prompt, completion_tokens=completion, total_tokens=total)


# ---- the responses table (older llm) ----------------------------------------------------


def _legacy(conn: sqlite3.Connection, defaults: Defaults, tables: set[str], *,
            skip: set[str]) -> Iterable[Conversation]:
    newer = " WHERE r.id NOT IN (SELECT id FROM turns)" if "turns" in tables else ""
    extras = llm_parts.legacy_extras(conn, tables)
    names = {row["id"]: row["name"] for row in rows(
        conn, "SELECT id, name FROM conversations", what=NAME)} if _has(conn, "conversations") \
        else {}
    grouped: dict[str, list[sqlite3.Row]] = {}
    for row in rows(conn, f"SELECT r.* FROM responses r{newer} ORDER BY r.datetime_utc, r.id",
                    what=NAME):
        # A response logged without a conversation (llm 0.4 era) stands alone.
        grouped.setdefault(row["conversation_id"] or f"response:{row['id']}", []).append(row)
    for source_id, responses in grouped.items():
        if source_id in skip:
            continue
        yield _legacy_conversation(source_id, responses, names.get(source_id), defaults,
                                   extras)


def _legacy_conversation(
        source_id: str, responses: list[sqlite3.Row], name: Any, defaults: Defaults,
        extras: tuple[dict[str, list[str]], dict[str, list[str]], dict[str, str]],
) -> Conversation:
    prompt_fragments, system_fragments, attachments = extras
    raws: list[Raw] = []
    previous: str | None = None
    system_prompt = ""
    for row in responses:
        asked = timestamp(row["datetime_utc"])
        system_prompt = system_prompt or "\n".join(
            [*system_fragments.get(row["id"], []), text_of(row["system"])]).strip()
        prompt_key, reply_key = f"{row['id']}:prompt", f"{row['id']}:reply"
        prompt = "\n".join([*prompt_fragments.get(row["id"], []), text_of(row["prompt"])])
        raws.append(Raw(prompt_key, previous, Role.USER,
                        content=join(prompt, attachments.get(row["id"], "")),
                        created_at=asked))
        keys = row.keys()
        took = row["duration_ms"]
        raws.append(Raw(
            reply_key, prompt_key, Role.ASSISTANT, content=text_of(row["response"]),
            reasoning=text_of(row["reasoning"]) if "reasoning" in keys else "",
            created_at=None if asked is None else asked + (
                took / 1000 if isinstance(took, int) and 0 < took < 86_400_000 else 0),
            model=(text_of(row["resolved_model"]) if "resolved_model" in keys else "")
            or text_of(row["model"]) or None, provider=PROVIDER,
            usage=_usage(row["input_tokens"], row["output_tokens"])
            if "input_tokens" in keys else None))
        previous = reply_key
    created = timestamp(responses[0]["datetime_utc"]) or 0.0
    cid = stable_id(PROVIDER, source_id)
    built = build(cid, raws, previous, created_at=created)
    title = text_of(name).strip()
    return conversation(cid, title=title or title_from_prompt(first_prompt(built)),
                        created_at=created, updated_at=None, defaults=defaults,
                        built=built, system_prompt=system_prompt)


def _has(conn: sqlite3.Connection, table: str) -> bool:
    return bool(rows(conn, "SELECT name FROM sqlite_master WHERE name = ?", table, what=NAME))
