"""Reply assembly from chunks of every dialect chatterm meets."""

from __future__ import annotations

import json
from typing import Any

import pytest

from chatterm.api.assemble import StreamAssembler, assemble_response, assemble_stream
from chatterm.api.sse import SSEEvent
from chatterm.api.types import ApiError, Delta
from chatterm.conversation import MessageState


def chunk(delta: dict[str, Any] | None = None, finish: str | None = None, **top: Any) -> dict:
    choices = [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish}]
    return {"object": "chat.completion.chunk", "model": "m", "choices": choices, **top}


def sse(*objs: Any, done: bool = True) -> bytes:
    out = b"".join(b"data: " + json.dumps(o).encode() + b"\n\n" for o in objs)
    return out + (b"data: [DONE]\n\n" if done else b"")


def feed_all(assembler: StreamAssembler, chunks: list[dict]) -> str:
    """Feed chunks; return the concatenated content deltas."""
    return "".join(assembler.feed(c).content for c in chunks)


def test_plain_content_and_finish() -> None:
    a = StreamAssembler()
    streamed = feed_all(a, [chunk({"role": "assistant", "content": ""}), chunk({"content": "Hel"}),
                            chunk({"content": "lo"}), chunk({}, finish="stop")])
    assert streamed == a.reply.content == "Hello"
    assert a.reply.finish_reason == "stop"
    assert a.reply.model == "m"
    assert a.reply.state is MessageState.COMPLETE


def test_mistral_list_content_with_text_and_thinking_parts() -> None:
    a = StreamAssembler()
    d1 = a.feed(chunk({"content": [{"type": "thinking", "thinking": [
        {"type": "text", "text": "Let me "}, {"type": "text", "text": "think."}]}]}))
    think = {"type": "thinking", "thinking": [{"type": "text", "text": "!"}]}
    d2 = a.feed(chunk({"content": [{"type": "text", "text": "Answer"}, think]}))
    d3 = a.feed(chunk({"content": " done"}, finish="stop"))
    assert d1 == Delta(reasoning="Let me think.")
    assert d2 == Delta(content="Answer", reasoning="!")
    assert d3.content == " done"
    assert a.reply.content == "Answer done"
    assert a.reply.reasoning == "Let me think.!"


@pytest.mark.parametrize("key", ["reasoning_content", "reasoning"])
def test_reasoning_keys(key: str) -> None:
    a = StreamAssembler()
    a.feed(chunk({key: "hmm", "content": None}))
    a.feed(chunk({key: None, "content": "ok"}))
    assert (a.reply.reasoning, a.reply.content) == ("hmm", "ok")


def test_both_reasoning_keys_with_same_text_are_not_doubled() -> None:
    a = StreamAssembler()
    a.feed(chunk({"reasoning_content": "x", "reasoning": "x"}))
    assert a.reply.reasoning == "x"


def test_refusal() -> None:
    a = StreamAssembler()
    a.feed(chunk({"role": "assistant", "content": None, "refusal": ""}))
    d = a.feed(chunk({"refusal": "No."}, finish="stop"))
    assert d.refusal == "No." and a.reply.refusal == "No." and a.reply.content == ""


def test_tool_calls_merged_by_index() -> None:
    a = StreamAssembler()
    a.feed(chunk({"tool_calls": [
        {"index": 0, "id": "c0", "type": "function", "function": {"name": "f", "arguments": ""}},
        {"index": 1, "id": "c1", "type": "function", "function": {"name": "g", "arguments": "{"}},
    ]}))
    a.feed(chunk({"tool_calls": [{"index": 1, "function": {"arguments": '"b": 2}'}}]}))
    a.feed(chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"a": 1}',
                                                             "name": "f"}}]}))
    a.feed(chunk({}, finish="tool_calls"))
    calls = [(c.id, c.name, json.loads(c.arguments)) for c in a.reply.tool_calls]
    assert calls == [("c0", "f", {"a": 1}), ("c1", "g", {"b": 2})]
    assert a.reply.finish_reason == "tool_calls"


def test_tool_calls_without_index_or_type_fall_back_to_id_and_position() -> None:
    a = StreamAssembler()
    a.feed(chunk({"tool_calls": [{"id": "A", "function": {"name": "one", "arguments": "{"}}]}))
    a.feed(chunk({"tool_calls": [{"function": {"arguments": "}"}}]}))  # bare fragment
    a.feed(chunk({"tool_calls": [{"id": "B", "function": {"name": "two", "arguments": "[]"}}]}))
    a.feed(chunk({"tool_calls": [{"id": "A", "function": {"arguments": ""}}]}))
    assert [(c.id, c.name, c.arguments) for c in a.reply.tool_calls] == [
        ("A", "one", "{}"), ("B", "two", "[]")]


def test_tool_call_arguments_given_as_object() -> None:
    a = StreamAssembler()
    a.feed(chunk({"tool_calls": [{"id": "x", "function": {"name": "f", "arguments": {"k": 1}}}]}))
    assert json.loads(a.reply.tool_calls[0].arguments) == {"k": 1}


def test_usage_in_separate_chunk_with_empty_choices() -> None:
    reply = assemble_stream([sse(chunk({"content": "a"}), chunk({}, finish="stop"),
                                 chunk(None, usage={"prompt_tokens": 3, "completion_tokens": 2,
                                                    "total_tokens": 5,
                                                    "completion_tokens_details":
                                                        {"reasoning_tokens": 1}}))])
    u = reply.usage
    assert u is not None
    counts = (u.prompt_tokens, u.completion_tokens, u.total_tokens, u.reasoning_tokens)
    assert counts == (3, 2, 5, 1)


def test_usage_on_last_chunk_and_null_usage_never_wipes() -> None:
    reply = assemble_stream([sse(
        chunk({"content": "a"}, usage=None),
        chunk({"content": ""}, finish="stop", usage={"prompt_tokens": 1, "completion_tokens": 1,
                                                     "total_tokens": 2}),
        chunk(None, usage=None),
    )])
    assert reply.usage is not None and reply.usage.total_tokens == 2


def test_meta_usage_with_cost() -> None:
    a = StreamAssembler()
    a.feed(chunk({"content": "x"}, finish="stop",
                 usage={"prompt_tokens": 4, "completion_tokens": 6, "total_tokens": 10}))
    a.feed(chunk(None, meta={"usage": {"credits_used": 42}}))
    u = a.reply.usage
    assert u is not None
    assert (u.total_tokens, u.cost) == (10, 42.0)
    assert u.raw["meta"] == {"credits_used": 42}


def test_openrouter_style_usage_cost() -> None:
    a = StreamAssembler()
    a.feed(chunk(None, usage={"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3,
                              "cost": 0.0012}))
    assert a.reply.usage is not None and a.reply.usage.cost == pytest.approx(0.0012)


def test_stream_without_finish_or_done_is_interrupted() -> None:
    reply = assemble_stream([sse(chunk({"content": "half"}), done=False)])
    assert reply.content == "half"
    assert reply.state is MessageState.INTERRUPTED


def test_done_alone_marks_complete() -> None:
    reply = assemble_stream([sse(chunk({"content": "x"}))])
    assert reply.finish_reason is None and reply.saw_done
    assert reply.state is MessageState.COMPLETE


def test_event_error_raises_with_partial() -> None:
    body = sse(chunk({"content": "part"}), done=False) + (
        b'event: error\ndata: {"error": {"message": "overloaded", "type": "server_error"}}\n\n')
    with pytest.raises(ApiError) as info:
        assemble_stream([body])
    err = info.value
    assert "overloaded" in str(err) and "\n" not in str(err)
    assert err.code == "server_error"
    assert err.partial is not None and err.partial.content == "part"
    assert err.partial.state is MessageState.INTERRUPTED


def test_event_error_with_non_json_data() -> None:
    with pytest.raises(ApiError, match="upstream went away"):
        assemble_stream([b"event: error\ndata: upstream went away\n\n"])


def test_error_object_in_a_chunk_applies_the_chunk_first() -> None:
    a = StreamAssembler()
    a.feed(chunk({"content": "Hello"}))
    bad = chunk({"content": " world"}, error={"code": 502, "message": "Provider down"},
                usage={"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3})
    with pytest.raises(ApiError) as info:
        a.feed(bad)
    assert info.value.status == 502
    assert "Provider down" in info.value.message
    partial = info.value.partial
    assert partial is not None
    assert partial.content == "Hello world"
    assert partial.usage is not None and partial.usage.total_tokens == 3


def test_malformed_chunks_are_skipped_with_warnings() -> None:
    body = (sse(chunk({"content": "keep"}), done=False) + b"data: {not json\n\n"
            + b"data: [1, 2]\n\n" + sse(chunk({"content": " going"}, finish="stop")))
    reply = assemble_stream([body])
    assert reply.content == "keep going"
    assert len(reply.warnings) == 2
    assert "not valid JSON" in reply.warnings[0]
    assert reply.state is MessageState.COMPLETE


def test_junk_field_types_never_raise() -> None:
    a = StreamAssembler()
    for junk in [{"choices": "x"}, {"choices": [1, None, {"delta": "str"}]},
                 {"choices": [{"delta": {"content": 5, "tool_calls": "no",
                                         "refusal": 3}}]},
                 {"choices": [{"delta": {"tool_calls": [None, {"function": "x"}]}}]},
                 {"usage": "lots", "meta": {"usage": [1]}}]:
        a.feed(junk)
    assert a.reply.content == ""


def test_decoder_warnings_reach_the_reply() -> None:
    from chatterm.api.sse import SSEDecoder

    body = b"data: " + b"x" * 3000 + b"\n\n" + sse(chunk({"content": "ok"}, finish="stop"))
    reply = assemble_stream([body], decoder=SSEDecoder(max_line=1000))
    assert reply.content == "ok"
    assert any("longer than" in w for w in reply.warnings)


# ---- prefix -----------------------------------------------------------------------


@pytest.mark.parametrize("pieces", [
    ["Once upon", " a time", " there was"],          # echoed whole
    ["Once", " upon a", " time there was"],          # echoed across chunks
    ["O", "nce upon a ti", "me", " there was"],
    [" there was"],                                  # not echoed
])
def test_prefix_appears_exactly_once(pieces: list[str]) -> None:
    a = StreamAssembler(prefix="Once upon a time")
    streamed = feed_all(a, [chunk({"content": p}) for p in pieces])
    assert a.reply.content == "Once upon a time there was"
    # Deltas carry only what follows the prefix, which the caller already shows.
    assert streamed == " there was"


def test_prefix_partial_match_that_diverges_is_given_back() -> None:
    a = StreamAssembler(prefix="Dear Sir")
    streamed = feed_all(a, [chunk({"content": "Dear"}), chunk({"content": " Madam"})])
    # "Dear" looked like an echo but the reply went elsewhere: nothing is lost.
    assert a.reply.content == "Dear SirDear Madam"
    assert "Dear Sir" + streamed == a.reply.content


def test_prefix_is_in_the_reply_from_the_start_and_in_partials() -> None:
    a = StreamAssembler(prefix="Hi")
    assert a.reply.content == "Hi"
    assert a.feed(chunk({"role": "assistant"})).content == ""
    with pytest.raises(ApiError) as info:
        a.feed_event(SSEEvent("error", '{"message": "x"}'))
    assert info.value.partial is not None and info.value.partial.content == "Hi"


def test_reply_cut_inside_the_echo_keeps_the_prefix_once() -> None:
    reply = assemble_stream([sse(chunk({"content": "Once up"}), done=False)],
                            prefix="Once upon a time")
    assert reply.content == "Once upon a time"


# ---- non-streaming ----------------------------------------------------------------


def test_assemble_response_non_streaming() -> None:
    body = {"id": "x", "model": "mm", "choices": [{"index": 0, "finish_reason": "stop", "message": {
        "role": "assistant", "content": "Whole answer", "reasoning_content": "why",
        "tool_calls": [{"id": "t1", "type": "function",
                        "function": {"name": "f", "arguments": "{}"}},
                       {"id": "t2", "type": "function",
                        "function": {"name": "g", "arguments": "[]"}}]}}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3}}
    reply = assemble_response(body)
    assert (reply.content, reply.reasoning, reply.finish_reason, reply.model) == (
        "Whole answer", "why", "stop", "mm")
    assert [(c.id, c.name) for c in reply.tool_calls] == [("t1", "f"), ("t2", "g")]
    assert reply.usage is not None and reply.usage.total_tokens == 3


def test_assemble_response_prefix_and_errors() -> None:
    ok = {"choices": [{"message": {"content": "Yes: indeed"}, "finish_reason": "stop"}]}
    assert assemble_response(ok, prefix="Yes:").content == "Yes: indeed"
    with pytest.raises(ApiError, match="bad things"):
        assemble_response({"error": {"message": "bad things"}})
    with pytest.raises(ApiError, match="no choices"):
        assemble_response({"id": "x"})
    with pytest.raises(ApiError):
        assemble_response([1, 2])


def test_split_surrogate_pairs_join_in_every_text_field_and_lone_halves_are_replaced() -> None:
    def chunk(delta: str) -> bytes:
        return f'data: {{"choices":[{{"index":0,"delta":{delta}}}]}}\n\n'.encode()

    reply = assemble_stream([
        chunk('{"content":"a\\ud83d"}'), chunk('{"content":"\\ude00b\\udc00"}'),
        chunk('{"reasoning_content":"r\\ud83d"}'), chunk('{"reasoning_content":"x"}'),
        chunk('{"tool_calls":[{"id":"c1","function":{"name":"f","arguments":"{\\ud83d"}}]}'),
        chunk('{"tool_calls":[{"id":"c1","function":{"arguments":"\\ude00}"}}]}'),
        chunk('{"content":"end\\ud83d"}'),
    ])
    assert reply.content == "a\U0001f600b\ufffdend\ufffd"
    assert reply.reasoning == "r\ufffdx"
    assert [(c.id, c.name, c.arguments) for c in reply.tool_calls] == [
        ("c1", "f", "{\U0001f600}")]


def test_many_id_only_tool_call_fragments_each_continue_their_own_call() -> None:
    assembler = StreamAssembler()
    for round_ in range(2):
        for n in range(500):
            assembler.feed({"choices": [{"index": 0, "delta": {"tool_calls": [
                {"id": f"call{n}", "function": {"name": "f", "arguments": str(round_)}}]}}]})
    calls = assembler.reply.tool_calls
    assert len(calls) == 500
    assert {call.arguments for call in calls} == {"01"}
