"""The event-stream decoder against the WHATWG rules and hostile input."""

from __future__ import annotations

import random

import pytest

from chatterm.api.sse import SSEDecoder, SSEEvent


def decode(data: bytes, splits: list[int] | None = None, **kwargs: int) -> list[SSEEvent]:
    decoder = SSEDecoder(**kwargs)
    events: list[SSEEvent] = []
    if splits is None:
        events += decoder.feed(data)
    else:
        last = 0
        for pos in [*splits, len(data)]:
            events += decoder.feed(data[last:pos])
            last = pos
    events += decoder.close()
    return events


def every_split(data: bytes) -> list[list[SSEEvent]]:
    """Decode with every single split point and with 1-byte reads."""
    results = [decode(data, [i]) for i in range(len(data) + 1)]
    results.append(decode(data, list(range(1, len(data)))))
    return results


@pytest.mark.parametrize("newline", [b"\n", b"\r\n", b"\r"])
def test_line_ends(newline: bytes) -> None:
    body = newline.join([b"data: one", b"", b"event: ping", b"data: two", b"", b""])
    expected = [SSEEvent("message", "one"), SSEEvent("ping", "two")]
    for events in every_split(body):
        assert events == expected


def test_cr_at_end_of_read_and_lf_at_start_of_next_is_one_line_end() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: a\r") == []
    # If the LF were taken as a second (blank) line, "a" would be dispatched here.
    assert decoder.feed(b"\ndata: b\r") == []
    assert decoder.feed(b"\n\r\n") == [SSEEvent("message", "a\nb")]
    assert decoder.close() == []


def test_comments_and_keepalive_are_ignored() -> None:
    body = b": ping\n\n: OPENROUTER PROCESSING\n\ndata: x\n: inside\ndata: y\n\n"
    for events in every_split(body):
        assert events == [SSEEvent("message", "x\ny")]


def test_multiline_data_and_field_forms() -> None:
    body = b"data:no-space\ndata:  two spaces\ndata\nid: 7\nretry: 1500\nbogus: z\n\n"
    decoder = SSEDecoder()
    events = decoder.feed(body) + decoder.close()
    assert events == [SSEEvent("message", "no-space\n two spaces\n", id="7")]
    assert decoder.retry == 1500


def test_event_without_data_is_not_dispatched_and_type_resets() -> None:
    body = b"event: error\n\ndata: after\n\n"
    assert decode(body) == [SSEEvent("message", "after")]


def test_id_persists_across_events() -> None:
    body = b"id: 1\ndata: a\n\ndata: b\n\nid\ndata: c\n\n"
    assert [e.id for e in decode(body)] == ["1", "1", ""]


def test_event_error_type() -> None:
    body = b'event: error\ndata: {"error": {"message": "boom"}}\n\n'
    assert decode(body) == [SSEEvent("error", '{"error": {"message": "boom"}}')]


@pytest.mark.parametrize("tail", [b"data: [DONE]\n\n", b"data: [DONE]\n", b"data: [DONE]"])
def test_done_with_or_without_final_blank_line(tail: bytes) -> None:
    body = b"data: hi\n\n" + tail
    for events in every_split(body):
        assert [e.data for e in events] == ["hi", "[DONE]"]


def test_close_flushes_once_and_feed_after_close_fails() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: last") == []
    assert decoder.close() == [SSEEvent("message", "last")]
    assert decoder.close() == []
    with pytest.raises(ValueError):
        decoder.feed(b"x")


def test_utf8_split_across_reads() -> None:
    text = "data: héllo 😊 — 日本\n\n"
    body = text.encode()
    for events in every_split(body):
        assert events == [SSEEvent("message", "héllo 😊 — 日本")]


def test_invalid_bytes_become_replacement_characters() -> None:
    body = b"data: a\xffb\xc3\n\ndata: \xe2\x82\n"
    events = decode(body)
    assert [e.data for e in events] == ["a\ufffdb\ufffd", "\ufffd"]


def test_leading_bom_is_stripped_once() -> None:
    body = "\ufeffdata: x\n\ndata: \ufeffy\n\n".encode()
    for events in every_split(body):
        assert [e.data for e in events] == ["x", "\ufeffy"]


def test_huge_line_is_dropped_with_a_warning_and_memory_stays_bounded() -> None:
    cap = 1000
    decoder = SSEDecoder(max_line=cap)
    events: list[SSEEvent] = []
    events += decoder.feed(b"data: before\n\n")
    events += decoder.feed(b"data: ")
    for _ in range(5000):  # 5 MB of one line, in 1 kB reads
        events += decoder.feed(b"x" * 1000)
        assert decoder._part_len <= cap  # the buffer never grows past the cap
    events += decoder.feed(b"\n\ndata: after\n\n")
    events += decoder.close()
    assert [e.data for e in events] == ["before", "after"]
    assert len(decoder.warnings) == 1
    assert "longer than 1000" in decoder.warnings[0]


def test_huge_line_inside_one_read_is_dropped() -> None:
    body = b"data: ok\n\ndata: " + b"y" * 5000 + b"\ndata: rest\n\ndata: next\n\n"
    decoder = SSEDecoder(max_line=1000)
    events = decoder.feed(body) + decoder.close()
    # The whole event holding the over-long line is dropped, not half of it.
    assert [e.data for e in events] == ["ok", "next"]
    assert decoder.warnings


def test_many_data_lines_cannot_grow_an_event_without_bound() -> None:
    body = b"data: aaaaaaaaa\n" * 500 + b"\ndata: fine\n\n"
    decoder = SSEDecoder(max_line=1000)
    events = decoder.feed(body) + decoder.close()
    assert [e.data for e in events] == ["fine"]
    assert decoder._data_len <= 1000
    assert len(decoder.warnings) == 1


def test_default_cap_handles_a_several_megabyte_line() -> None:
    line = b"data: " + b"z" * (6 * 1024 * 1024) + b"\n\n"
    decoder = SSEDecoder()
    events: list[SSEEvent] = []
    for i in range(0, len(line), 65536):
        events += decoder.feed(line[i : i + 65536])
    events += decoder.close()
    assert len(events) == 1 and len(events[0].data) == 6 * 1024 * 1024


@pytest.mark.parametrize("seed", range(5))
def test_random_splits_match_whole(seed: int) -> None:
    rng = random.Random(seed)
    body = (
        b": ping\r\n\r\nevent: a\rdata: 1\r\rdata: \xc3\xa9\xf0\x9f\x98\x8a\r\n"
        b"data: 2\n\nid: q\ndata: [DONE]"
    )
    whole = decode(body)
    cuts = sorted(rng.sample(range(1, len(body)), 12))
    assert decode(body, cuts) == whole
    assert [e.data for e in whole] == ["1", "é😊\n2", "[DONE]"]
