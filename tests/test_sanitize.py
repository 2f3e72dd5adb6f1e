"""Model text must never reach a terminal with its control sequences intact."""

from __future__ import annotations

import pytest

from chatterm.redact import mask_key, redact
from chatterm.sanitize import StreamNeutraliser, has_controls, neutralise

HOSTILE = {
    "osc52 clipboard write": "\x1b]52;c;ZWNobyBwd25lZA==\x07",
    "osc8 file link": "\x1b]8;;file:///etc/passwd\x1b\\click\x1b]8;;\x1b\\",
    "clear screen": "\x1b[2J\x1b[H",
    "title change": "\x1b]0;owned\x07",
    "c1 csi": "\x9b31m red \x9d0;title\x9c",
    "carriage return overwrite": "safe\rEVIL",
    "backspace": "abc\x08\x08\x08xyz",
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_sequences_are_neutralised(name: str) -> None:
    cleaned = neutralise(HOSTILE[name])
    assert not has_controls(cleaned)
    assert "\x1b" not in cleaned
    assert not any(0x80 <= ord(ch) <= 0x9F for ch in cleaned)


def test_newline_tab_and_unicode_survive() -> None:
    text = "line one\n\tindented — ünïcödé ✓ 日本語\n"
    assert neutralise(text) == text


def test_every_kind_of_line_end_is_a_line_break() -> None:
    assert neutralise("one\r\ntwo\rthree\n\r\nfour") == "one\ntwo\nthree\n\nfour"


def test_a_crlf_split_across_pieces_is_one_line_break() -> None:
    pieces = ["one\r", "\ntwo\r", "three\r", "\n", "\nfour\r\n"]
    stream = StreamNeutraliser()
    assert "".join(stream.feed(piece) for piece in pieces) == neutralise("".join(pieces))


def test_escape_becomes_visible_symbol() -> None:
    assert neutralise("a\x1b[2Jb") == "a\u241b[2Jb"
    assert neutralise("\x7f") == "\u2421"
    assert neutralise("\x9b") == "\\x9b"


def test_redact_masks_keys_but_keeps_model_ids_and_conversation_ids() -> None:
    text = (
        "Incorrect API key provided: sk-proj-abcdefghijklmnop1234 "
        "(Authorization: Bearer abcdefghijk123) for model meta-llama/Llama-3-70b-chat-hf "
        "in conversation 3f2a9b1c4d5e6f708192a3b4c5d6e7f8"
    )
    cleaned = redact(text)
    assert "sk-proj-abcdefghijklmnop1234" not in cleaned
    assert "abcdefghijk123" not in cleaned
    assert "meta-llama/Llama-3-70b-chat-hf" in cleaned
    assert "3f2a9b1c4d5e6f708192a3b4c5d6e7f8" in cleaned


def test_redact_known_secret_anywhere() -> None:
    assert "hunter22" not in redact("the key hunter22 failed", secrets=["hunter22"])


def test_mask_key_shows_at_most_a_sixth_and_never_the_start() -> None:
    masked = mask_key("sk-abcdefghijklmnopqrstuvwxyz")
    assert masked == "…wxyz"
    assert mask_key("abc123def456") == "…56"  # 12 characters: 2 shown, not 7
    assert mask_key("short") == "…"


def test_a_remembered_key_is_redacted_mangled_and_short_values_are_not_remembered() -> None:
    from chatterm.redact import remember

    key = "plain-words-key-for-redact-test"
    remember(key, "prod")  # "prod" is a header value too short to be a credential
    half = len(key) // 2
    for echo in (key, key.upper(), key[:half] + "\x00" + key[half:],
                 key[:4] + "\u200b" + key[4:9] + "\u2060" + key[9:], key[:3] + "\x1b" + key[3:]):
        cleaned = redact(f"echo: {echo}!")
        assert cleaned == "echo: [REDACTED]!", repr(cleaned)
    assert redact("deployed to production") == "deployed to production"
    assert redact("SK-ABCDEFGHIJKLMNOP123") == "[REDACTED]"  # key-shaped, upper-cased
