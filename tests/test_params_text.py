"""The parameters form's text parsing, in the core: no Textual needed."""

from __future__ import annotations

import subprocess
import sys

import pytest

from chatterm.conversation import Params
from chatterm.params_text import ParamsError, format_stop, parse_params, parse_stop


def test_params_parsing_loads_no_textual() -> None:
    code = ("import sys, chatterm.params_text as p; p.parse_stop('a, b'); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'textual'))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=60, check=True)
    assert result.stdout.strip() == "[]"


def test_stop_sequences_commas_newlines_and_escapes() -> None:
    assert parse_stop("") == []
    assert parse_stop("END, ###") == ["END", "###"]
    assert parse_stop("a,b\nc") == ["a,b", "c"]  # lines win when there are several
    assert parse_stop(r"\n\nHuman:, x\,y") == ["\n\nHuman:", "x,y"]
    for stop in (["END"], ["\n\n", "a,b", "back\\slash", "\t"]):
        assert parse_stop(format_stop(stop)) == stop


def test_parse_params_validates_each_field() -> None:
    base = Params(safe_prompt=True)
    fields = dict(temperature="0.7", top_p="", max_tokens="256", stop="END", seed="42",
                  safe_prompt=None)
    params = parse_params(base, **fields)  # type: ignore[arg-type]
    assert params == Params(temperature=0.7, max_tokens=256, stop=["END"], seed=42,
                            safe_prompt=True)
    for field, bad, message in (
        ("temperature", "abc", "Temperature must be a number from 0 up to 2 (got 'abc')."),
        ("temperature", "3", "Temperature must be from 0 up to 2 (got 3)."),
        ("top_p", "1.5", "Top P must be above 0 up to 1 (got 1.5)."),
        # The same range as the config's: a top_p of 0 is refused there too.
        ("top_p", "0", "Top P must be above 0 up to 1 (got 0)."),
        # NaN compares false with everything, so only a range check written this way
        # refuses it; it must never reach a conversation.
        ("temperature", "nan", "Temperature must be from 0 up to 2 (got nan)."),
        ("top_p", "inf", "Top P must be above 0 up to 1 (got inf)."),
        ("max_tokens", "1.5", "Max tokens must be a whole number (got '1.5')."),
        ("max_tokens", "0", "Max tokens must be at least 1 (got 0)."),
        ("seed", "-1", "Seed must be at least 0 (got -1)."),
    ):
        with pytest.raises(ParamsError) as caught:
            parse_params(base, **{**fields, field: bad})  # type: ignore[arg-type]
        assert str(caught.value) == message
