"""Search snippets for long messages, at a cost bounded by the snippet, not the message.

FTS5's snippet() scores every candidate fragment against every hit of the document, so
it is quadratic in the hits per document: 1 MB of text took 1.4 s and 50 MB never
finished. Short messages still get snippet() as it is. For a long one, the first stretch
of text that matches is found by asking FTS5 itself (same tokenizer, so diacritics,
case and prefixes behave exactly as in the search) on pieces of the text, halving the
piece until a window of about WINDOW bytes is left; snippet() then runs on that window
only. The text is read through SQLite's incremental blob I/O, piece by piece, so the
text before the first hit is tokenised once (plus the halving), never all of a message.
"""

from __future__ import annotations

import sqlite3
import unicodedata
from collections.abc import Iterator

# Messages up to this many bytes (content plus reasoning) use snippet() directly: even
# one made of a single repeated word takes ~10 ms there.
LONG = 16_384
PIECE = 65_536  # bytes tokenised by the first step while looking for the first hit
MAX_PIECE = 4 * 1024 * 1024  # ... growing to this, so a late hit costs few steps
WINDOW = 2_048  # bytes snippet() finally runs on
# Bytes at the start checked by FTS5 itself when str.find finds no spelling there.
EARLY = 1024 * 1024
# Places str.find proposes per piece before giving that piece up.
MAX_CANDIDATES = 20
# Overlap between neighbouring pieces, so a word cut by a boundary is whole in one of them.
OVERLAP = 256
TOKENIZER = "unicode61 remove_diacritics 2"  # must stay the same as messages_fts's
ELLIPSIS = "…"


class BlobColumn:
    """One column of one row, read in pieces through an incremental blob handle."""

    def __init__(self, conn: sqlite3.Connection, table: str, column: str, rowid: int) -> None:
        self._blob = conn.blobopen(table, column, rowid, readonly=True)
        self.size = len(self._blob)  # bytes, known without reading the text

    def read(self, start: int, end: int) -> bytes:
        self._blob.seek(start)
        return self._blob.read(end - start)

    def close(self) -> None:
        self._blob.close()


class LongSnippets:
    """Snippets of long texts for one query; owns a private in-memory FTS5 table."""

    def __init__(self, expression: str, words: list[str]) -> None:
        """`expression` matches any one of the query's `words` (an OR of them): in a long
        message the words of a query are seldom within one window."""
        self.expression = expression
        self._spellings = _spellings(words)
        self._conn: sqlite3.Connection | None = None

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            conn = sqlite3.connect(":memory:", check_same_thread=False)
            conn.execute(f"CREATE VIRTUAL TABLE piece USING fts5(text, tokenize='{TOKENIZER}')")
            self._conn = conn
        return self._conn

    def _load(self, text: str) -> sqlite3.Connection:
        conn = self._db()
        conn.execute("DELETE FROM piece")
        conn.execute("INSERT INTO piece(rowid, text) VALUES (1, ?)", (text,))
        return conn

    def _matches(self, text: str) -> bool:
        conn = self._load(text)
        return conn.execute("SELECT 1 FROM piece WHERE piece MATCH ?",
                            (self.expression,)).fetchone() is not None

    def _pieces(self, column: BlobColumn) -> Iterator[tuple[int, int]]:
        start, size, piece = 0, column.size, PIECE
        while start < size:
            end = min(size, start + piece)
            yield start, end
            if end == size:
                return
            start = end - OVERLAP
            # Far from the start, bigger pieces: fewer steps for a hit at the very end.
            piece = min(piece * 2, MAX_PIECE)

    def _first_window(self, column: BlobColumn) -> tuple[int, int] | None:
        """(start, end) byte offsets of a window of about WINDOW bytes holding a hit.

        Fast path: str.find proposes where a word may be, FTS5 confirms it. When no
        spelling tried is in the text as FTS5 sees it (other marks than the query's, a
        word of several tokens such as e-mail), FTS5 itself checks the piece: always for
        the first EARLY bytes, and for the rest of the message once no spelling was found
        anywhere.
        """
        for start, end in self._pieces(column):
            text = _text(column, start, end)
            at = _find_first(text, self._spellings, 0)
            for _ in range(MAX_CANDIDATES):
                if at < 0:
                    break
                offset = start + len(text[:at].encode("utf-8"))
                low, high = max(0, offset - WINDOW // 2), min(column.size, offset + WINDOW // 2)
                if self._matches(_text(column, low, high)):
                    return low, high
                at = _find_first(text, self._spellings, at + 1)
            if start < EARLY and self._matches(text):
                return self._narrow(column, start, end)
        for start, end in self._pieces(column):
            if start >= EARLY and self._matches(_text(column, start, end)):
                return self._narrow(column, start, end)
        return None

    def _narrow(self, column: BlobColumn, start: int, end: int) -> tuple[int, int]:
        """Halve a matching piece until about WINDOW bytes are left."""
        while end - start > WINDOW:
            middle = (start + end) // 2
            if self._matches(_text(column, start, middle + OVERLAP)):
                end = middle + OVERLAP
            else:
                start = middle - OVERLAP
        return start, end

    def snippet(self, columns: list[BlobColumn], start_mark: str, end_mark: str,
                tokens: int) -> str:
        """A snippet around the first hit in the first column that has one.

        The columns are read piece by piece, so a 50 MB message is never loaded whole.
        """
        for column in columns:
            found = self._first_window(column)
            if found is None:
                continue
            start, end = found
            conn = self._load(_text(column, start, end))
            row = conn.execute(
                "SELECT snippet(piece, 0, ?, ?, ?, ?) FROM piece WHERE piece MATCH ?",
                (start_mark, end_mark, ELLIPSIS, tokens, self.expression)).fetchone()
            if row is None:  # cannot happen: the window matched a moment ago
                continue
            shown = str(row[0])
            # The window is a cut of the message: say so when snippet() did not.
            if start > 0 and not shown.startswith(ELLIPSIS):
                shown = ELLIPSIS + shown
            if end < column.size and not shown.endswith(ELLIPSIS):
                shown += ELLIPSIS
            return shown
        # No word matched on its own within a piece (a word longer than OVERLAP): the start.
        for column in columns:
            if column.size:
                return _text(column, 0, min(column.size, 600))[:200] + ELLIPSIS
        return ""


def _fold(text: str) -> str:
    """Roughly what the tokenizer compares: no diacritics, no case."""
    decomposed = unicodedata.normalize("NFD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()


def _spellings(words: list[str]) -> list[str]:
    """The spellings a word is likely to have in the text: as typed and without marks,
    in lower, capitalised and upper case (str.find is ~50x faster than any regex)."""
    found: set[str] = set()
    for word in words:
        for form in (word, _fold(word)):
            found.update((form.lower(), form.capitalize(), form.upper()))
    return sorted(found)


def _find_first(text: str, spellings: list[str], start: int) -> int:
    positions = [at for at in (text.find(spelling, start) for spelling in spellings)
                 if at >= 0]
    return min(positions) if positions else -1


def _text(column: BlobColumn, start: int, end: int) -> str:
    # A cut may fall inside a UTF-8 sequence: the broken edges are dropped (the overlap
    # between pieces makes sure no whole word is lost).
    return column.read(start, end).decode("utf-8", "ignore")
