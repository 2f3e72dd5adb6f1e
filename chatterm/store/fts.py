"""Turning what a user typed into a safe FTS5 query.

User text is never passed to MATCH as syntax: each whitespace-separated word becomes a
quoted phrase (so `AND`, `(`, `"` or `col:` are just text), the phrases are ANDed, and the
last one matches as a prefix so results appear while a word is still being typed.
"""

from __future__ import annotations


def query_words(text: str) -> tuple[list[str], bool]:
    """The searchable words of `text`, and whether the last one is a prefix."""
    # Punctuation-only words tokenise to nothing; FTS5 would reject or ignore them.
    words = [word for word in text.split() if any(ch.isalnum() for ch in word)]
    return words, bool(words) and not text[-1].isspace()


def _phrases(text: str) -> list[str]:
    words, prefix_last = query_words(text)
    phrases = ['"' + word.replace('"', '""') + '"' for word in words]
    if prefix_last:
        phrases[-1] += " *"
    return phrases


def match_expression(text: str) -> str | None:
    """An FTS5 expression for `text`, or None when it holds nothing searchable."""
    return " ".join(_phrases(text)) or None


def any_word_expression(text: str) -> str | None:
    """Like match_expression, but matching any one of the words (to locate a snippet)."""
    return " OR ".join(_phrases(text)) or None
