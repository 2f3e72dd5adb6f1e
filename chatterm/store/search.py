"""Full-text search over every message (SQLite FTS5), best matches first.

A message is added to the full-text index when it leaves `streaming` (complete,
interrupted or error), not on each partial write, so saving a growing 1 MB reply every
half second stays a single cheap UPDATE. Indexed: the text, the reasoning and (schema
version 4, calls.py) each tool call's name and arguments; a tool result is a message's
text. Text still streaming is not searchable until it
ends or, after a crash, until the next start marks it interrupted.
"""

from __future__ import annotations

from chatterm.conversation import (
    HIT_END,
    HIT_START,
    Role,
    SearchHit,
)
from chatterm.store import fts, snippets
from chatterm.store.base import StoreCore

_SNIPPET_TOKENS = 16
# Search ranks (bm25) the most recent this-many matches; see SearchStore.search.
SEARCH_WINDOW = 1000


class SearchStore(StoreCore):
    """Search across conversations."""

    def search(self, query: str, limit: int = 50) -> list[SearchHit]:
        """Messages matching every word of `query` (the last as a prefix), best first.

        "Best" is bm25 relevance among the SEARCH_WINDOW most recent matching messages,
        which keeps a search for a very common word as fast as one for a rare word.
        """
        expression = fts.match_expression(query)
        if expression is None or limit <= 0:
            return []

        def work() -> list[SearchHit]:
            # Ranking every match of a common word costs O(matches) bm25 calls, so only
            # the most recent SEARCH_WINDOW matches are ranked: find the oldest of them
            # cheaply (FTS5 walks its index by rowid), then rank above that floor.
            floor = self._conn.execute(
                "SELECT rowid FROM messages_fts WHERE messages_fts MATCH ? "
                "ORDER BY rowid DESC LIMIT 1 OFFSET ?",
                (expression, SEARCH_WINDOW - 1)).fetchone()
            # A pure FTS query, so FTS5 sorts by rank itself, and snippet() runs only for
            # the rows returned. It is quadratic in a message's hits (a 50 MB message never
            # finished), so it runs only on messages up to snippets.LONG characters (CASE is
            # lazy); the others get theirs from chatterm.store.snippets. Asking FTS5 for the
            # snippets in a second query, by `rowid IN (...)` or `rowid = ?`, evaluates the
            # whole MATCH again each time: 90-260 ms for a common word instead of ~10.
            length = " + ".join(f"length({column})" for column in self._text_columns())
            rows = self._conn.execute(
                f"SELECT rowid, CASE WHEN (SELECT {length} "
                f"FROM messages WHERE seq = messages_fts.rowid) <= {snippets.LONG} "
                f"THEN snippet(messages_fts, -1, ?, ?, '…', {_SNIPPET_TOKENS}) END "
                "FROM messages_fts WHERE messages_fts MATCH ? AND rowid >= ? "
                "ORDER BY rank LIMIT ?",
                (HIT_START, HIT_END, expression, floor[0] if floor else 0, limit)).fetchall()
            if not rows:
                return []
            ranked = self._long_snippets(rows, expression, query)
            marks = ",".join("?" * len(ranked))
            details = {row[0]: row[1:] for row in self._conn.execute(
                "SELECT m.seq, m.conversation_id, m.id, c.title, m.role, m.created_at "
                "FROM messages AS m JOIN conversations AS c ON c.id = m.conversation_id "
                f"WHERE m.seq IN ({marks})", [seq for seq, _ in ranked])}
            hits = []
            for seq, snippet in ranked:
                if seq in details:
                    cid, mid, title, role, created_at = details[seq]
                    hits.append(SearchHit(conversation_id=cid, message_id=mid, title=title,
                                          role=Role(role), snippet=snippet,
                                          created_at=created_at))
            return hits
        return self._run(work)

    def _text_columns(self) -> tuple[str, ...]:
        """The indexed columns: a tool call's name and arguments too, from version 4."""
        return ("content", "reasoning", "calls") if self._has_calls else ("content",
                                                                          "reasoning")

    def _long_snippets(self, rows: list[tuple[int, str | None]], expression: str,
                       query: str) -> list[tuple[int, str]]:
        """(seq, snippet) for the ranked `rows`, making the snippets FTS5 was not asked
        for (long messages) from a few pieces of their text, never all of it."""
        made = {seq: text for seq, text in rows if text is not None}
        long_rows = [seq for seq, text in rows if text is None]
        if long_rows:
            maker = snippets.LongSnippets(fts.any_word_expression(query) or expression,
                                          fts.query_words(query)[0])
            try:
                for seq in long_rows:
                    opened = [snippets.BlobColumn(self._conn, "messages", column, seq)
                              for column in self._text_columns()]
                    try:
                        made[seq] = maker.snippet(opened, HIT_START, HIT_END,
                                                  _SNIPPET_TOKENS)
                    finally:
                        for column in opened:
                            column.close()
            finally:
                maker.close()
        return [(seq, made.get(seq, "")) for seq, _ in rows]
