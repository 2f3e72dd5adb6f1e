"""Turning what a user typed into a safe FTS5 query.

User text is never passed to MATCH as syntax: each whitespace-separated word becomes a
quoted phrase (so `AND`, `(`, `"` or `col:` are just text), the phrases are ANDed, and the
last one matches as a prefix so results appear while a word is still being typed.
"""

from __future__ import annotations


def match_expression(text: str) -> str | None:
    """An FTS5 expression for `text`, or None when it holds nothing searchable."""
    words = [word for word in text.split() if any(ch.isalnum() for ch in word)]
    if not words:
        # Punctuation-only words tokenise to nothing; FTS5 would reject or ignore them.
        return None
    phrases = ['"' + word.replace('"', '""') + '"' for word in words]
    if not text[-1].isspace():
        phrases[-1] += " *"
    return " ".join(phrases)
