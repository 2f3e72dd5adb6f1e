"""The one fuzzy matcher: what the model picker, the theme picker and any filter box rank by.

A query's letters must appear in order in the candidate (case-insensitive); hits at the
start of a word and contiguous runs score higher, skipped letters cost a little. No UI
here: the pickers style the matched positions themselves.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

_SEPARATORS = frozenset("-_/.: @")
_MATCH = 1.0
_WORD_START = 2.0  # a hit at the start of a word ("4o" in "gpt-4o") counts extra
_RUN = 2.0  # a hit right after the previous hit: contiguous runs beat scattered letters
_FIRST = 1.0  # a hit on the very first character
_GAP_OPEN = 1.0  # leaving letters out between two hits costs a little...
_GAP_EACH = 0.05  # ...and a little more per letter skipped


def _word_starts(text: str) -> list[bool]:
    starts = []
    previous = ""
    for index, ch in enumerate(text):
        starts.append(
            index == 0
            or previous in _SEPARATORS
            or (previous.isalpha() and ch.isdigit())
            or (previous.isdigit() and ch.isalpha())
            or (previous.islower() and ch.isupper())
        )
        previous = ch
    return starts


def fuzzy_match(query: str, candidate: str) -> tuple[float, tuple[int, ...]] | None:
    """Score `candidate` for `query` as a case-insensitive subsequence.

    Returns (score, matched positions) or None. Words of the query match on their own,
    in any order ("70b llama" finds "llama-3-70b"), and all of them must match.
    """
    terms = query.lower().split()
    if not terms:
        return 0.0, ()
    total = 0.0
    positions: set[int] = set()
    for term in terms:
        found = _match_term(term, candidate)
        if found is None:
            return None
        total += found[0]
        positions.update(found[1])
    # Between equal alignments, prefer the shorter candidate (closer to what was typed).
    return total - len(candidate) * 0.01, tuple(sorted(positions))


def _match_term(needle: str, candidate: str) -> tuple[float, tuple[int, ...]] | None:
    """Best alignment of one lower-case word, by dynamic programming in
    O(len(needle) * len(candidate)), so a long id with many repeated letters cannot
    blow up the way enumerating every alignment can."""
    # Per character, so positions still line up where lower() lengthens one ("İ").
    hay = "".join(ch.lower()[0] for ch in candidate)
    # Cheap rejection first: most candidates fail the plain subsequence test.
    position = 0
    for ch in needle:
        position = hay.find(ch, position) + 1
        if position == 0:
            return None
    starts = _word_starts(candidate)
    n = len(hay)
    neg = float("-inf")
    # score[j]: best score of the needle so far with its last letter on hay[j].
    previous_scores: list[float] = []
    back: list[list[int]] = []
    for row, ch in enumerate(needle):
        scores = [neg] * n
        links = [-1] * n
        # Best previous-row score at k <= j - 2, as prev[k] + _GAP_EACH * k, so the gap
        # cost for any k is a constant away: a running maximum replaces an inner loop.
        best_before, best_at = neg, -1
        for j in range(n):
            if row > 0 and j >= 2:
                shifted = previous_scores[j - 2] + _GAP_EACH * (j - 2)
                if shifted > best_before:
                    best_before, best_at = shifted, j - 2
            if hay[j] != ch:
                continue
            gain = _MATCH + (_WORD_START if starts[j] else 0.0)
            if row == 0:
                scores[j] = gain + (_FIRST if j == 0 else 0.0)
                continue
            run = previous_scores[j - 1] + _RUN if j >= 1 else neg
            gap = best_before - _GAP_OPEN - _GAP_EACH * (j - 1) if best_at >= 0 else neg
            if run >= gap and run > neg:
                scores[j], links[j] = gain + run, j - 1
            elif gap > neg:
                scores[j], links[j] = gain + gap, best_at
        previous_scores = scores
        back.append(links)
    end = max(range(n), key=lambda j: previous_scores[j])
    total = previous_scores[end]
    if total == neg:
        return None
    positions = [end]
    for links in reversed(back[1:]):
        positions.append(links[positions[-1]])
    positions.reverse()
    return total, tuple(positions)


@dataclass(frozen=True, slots=True)
class Ranked:
    """One candidate that matched: where it was in the input, its score, its matched letters."""

    index: int
    text: str
    score: float
    positions: tuple[int, ...]


def rank(query: str, candidates: Sequence[str]) -> list[Ranked]:
    """The candidates matching `query`, best first (ties keep the given order).

    An empty query matches everything, in the given order, so a list can be pre-sorted
    the way it reads best unfiltered.
    """
    found: list[Ranked] = []
    for index, text in enumerate(candidates):
        hit = fuzzy_match(query, text)
        if hit is not None:
            found.append(Ranked(index, text, hit[0], hit[1]))
    if query.strip():
        found.sort(key=lambda ranked: -ranked.score)  # stable: ties keep their order
    return found
