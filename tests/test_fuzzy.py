"""The one fuzzy matcher (chatterm/fuzzy.py), in the core: no Textual needed."""

from __future__ import annotations

import subprocess
import sys

from chatterm.fuzzy import fuzzy_match, rank


def test_the_matcher_loads_no_textual() -> None:
    code = ("import sys, chatterm.fuzzy as f; f.rank('gpt', ['gpt-4o']); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'textual'))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=60, check=True)
    assert result.stdout.strip() == "[]"


def test_fuzzy_match_prefers_contiguous_and_word_starts() -> None:
    assert fuzzy_match("xyz", "gpt-4o") is None
    assert fuzzy_match("", "anything") == (0.0, ())
    _score, positions = fuzzy_match("4o", "gpt-4o-mini") or (0, ())
    assert positions == (4, 5)
    contiguous = fuzzy_match("mini", "gpt-4o-mini")
    scattered = fuzzy_match("mini", "mistral-nemo-instruct")
    assert contiguous and scattered and contiguous[0] > scattered[0]
    # Case does not matter; words match on their own, in any order, and all must match.
    assert fuzzy_match("GPT 4o", "gpt-4o") is not None
    words = fuzzy_match("70b llama", "meta-llama/Llama-3.3-70B")
    assert words is not None and words[1] == (5, 6, 7, 8, 9, 21, 22, 23)
    assert fuzzy_match("70b mistral", "meta-llama/Llama-3.3-70B") is None
    assert fuzzy_match("i", "İstanbul-model") is not None
    # A long id with many repeats stays quick (no combinatorial blow-up).
    assert fuzzy_match("a" * 30, "a" * 200) is not None



def test_rank_puts_the_best_first_and_keeps_the_order_without_a_query() -> None:
    names = ["chatterm-dark", "nord", "gruvbox", "textual-dark"]
    assert [r.text for r in rank("", names)] == names
    assert [r.index for r in rank("  ", names)] == [0, 1, 2, 3]
    dark = rank("dark", names)
    assert [r.text for r in dark] == ["textual-dark", "chatterm-dark"]  # shorter wins a tie
    assert dark[0].positions == (8, 9, 10, 11) and dark[0].index == 3
    assert rank("zzz", names) == []
