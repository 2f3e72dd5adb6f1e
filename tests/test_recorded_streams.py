"""Recorded provider streams (../shared/fixtures/sse) assemble to exactly what they hold.

The recordings are third-party data and stay outside the repo. Long texts are checked by
length, opening words and SHA-256 so the expectations are exact without copying them.
Every file is also decoded under many splittings (whole, 1-byte reads, random cuts with
fixed seeds) and with its line ends rewritten to CRLF and CR: all must agree.
"""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from chatterm.api.assemble import StreamAssembler
from chatterm.api.sse import SSEDecoder
from chatterm.api.types import ApiError, AssembledReply
from chatterm.conversation import MessageState


@dataclass(frozen=True)
class Text:
    """An exact text, described without copying it."""

    length: int
    starts: str
    sha256: str

    def check(self, value: str, what: str) -> None:
        assert len(value) == self.length, what
        assert value.startswith(self.starts), what
        assert hashlib.sha256(value.encode()).hexdigest() == self.sha256, what


EMPTY = Text(0, "", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")


@dataclass(frozen=True)
class Expected:
    model: str
    content: Text | str = EMPTY
    reasoning: Text | str = EMPTY
    refusal: str = ""
    tools: list[tuple[str, str, Any]] = field(default_factory=list)  # (id, name, args)
    finish_reason: str | None = None
    saw_done: bool = True
    usage: tuple[int, int, int] | None = None  # prompt, completion, total
    reasoning_tokens: int | None = None
    cost: float | None = None
    error: str | None = None  # substring of the in-stream error message
    error_status: int | None = None
    error_code: str | None = None
    state: MessageState = MessageState.COMPLETE


EXPECTED: dict[str, Expected] = {
    "openai_text_stream_usage.sse": Expected(
        model="gpt-4o-2024-08-06",
        content=Text(159, "I'm unable to provide real-time weather updates.",
                     "c8fffa3408ca8cdd0641db2340e5f985d98d5d2510dc869eb4dfd14f1d473d5b"),
        finish_reason="stop", usage=(14, 30, 44), reasoning_tokens=0,
    ),
    "openai_toolcall_stream.sse": Expected(
        model="gpt-4o-2024-08-06",
        tools=[("call_4XzlGBLtUe9dy3GVNV4jhq7h", "get_weather", {"city": "New York City"})],
        finish_reason="tool_calls", usage=(44, 16, 60), reasoning_tokens=0,
    ),
    "openai_parallel_toolcalls_stream.sse": Expected(
        model="gpt-4o-2024-08-06",
        tools=[
            ("call_JMW1whyEaYG438VE1OIflxA2", "GetWeatherArgs",
             {"city": "Edinburgh", "country": "GB", "units": "c"}),
            ("call_DNYTawLBoN8fj3KN6qU9N1Ou", "get_stock_price",
             {"ticker": "AAPL", "exchange": "NASDAQ"}),
        ],
        finish_reason="tool_calls", usage=(149, 60, 209), reasoning_tokens=0,
    ),
    "openai_refusal_stream.sse": Expected(
        model="gpt-4o-2024-08-06",
        refusal="I'm sorry, I can't assist with that request.",
        finish_reason="stop", usage=(79, 11, 90), reasoning_tokens=0,
    ),
    "mistral_toolcall_stream.sse": Expected(
        model="mistral-large-latest",
        tools=[("4dI1Jw6NX", "llm_version", {})],
        finish_reason="tool_calls", usage=(55, 18, 73),
    ),
    "mistral_magistral_thinking_stream.sse": Expected(
        model="magistral-medium-latest",
        content=Text(607, "To cross the street safely, follow these steps:",
                     "e61ff78a68761d944f21a92e5a89e365735022da8ffddd99ad9d87476548a8e2"),
        reasoning=Text(421, "Okay, the user is asking how to cross the street.",
                       "fcab447a2e58f5b6312bb390f5cc5d211f32288dd14592d8487ad50b876863d0"),
        finish_reason="stop", usage=(10, 232, 242),
    ),
    "deepseek_reasoning_content_stream.sse": Expected(
        model="deepseek-reasoner",
        content=Text(40, "Hello there! 😊",
                     "cf0e60278f7fbdc36fdaf5630f08ec831d6d051d936563171e86258ad95ae574"),
        reasoning=Text(882, 'Hmm, the user just said "Hello".',
                       "d29146ea4f40dfde7b6155babd3d948397e1b174950e603ef18518f0ff85585a"),
        finish_reason="stop", usage=(6, 212, 218), reasoning_tokens=198,
    ),
    "openrouter_keepalive_reasoning_error_midstream.sse": Expected(
        model="minimax/minimax-m2:free",
        reasoning="We need to respond to a greeting. The user",
        # Two chunks said "length" before the error chunk arrived.
        finish_reason="length", saw_done=False, usage=(43, 10, 53), reasoning_tokens=11,
        cost=0.0, error="Token limit reached", error_status=400,
    ),
    "groq_event_error_midstream.sse": Expected(
        model="openai/gpt-oss-120b",
        content="maybe",
        reasoning=Text(361, 'The user says: "dont make a tool call',
                       "5912a8b8200a425389e18d46d8f2b2f13231cb395f61c5464d5675be24a45d73"),
        saw_done=False, error="Tool choice is required, but model did not call a tool",
        error_status=400, error_code="tool_use_failed", state=MessageState.INTERRUPTED,
    ),
}


@dataclass
class Outcome:
    reply: AssembledReply
    error: ApiError | None
    streamed_content: str
    streamed_reasoning: str
    events_after_error: int


def run(reads: list[bytes]) -> Outcome:
    decoder = SSEDecoder()
    assembler = StreamAssembler()
    content: list[str] = []
    reasoning: list[str] = []
    error: ApiError | None = None
    after = 0

    def events() -> Any:
        for read in reads:
            yield from decoder.feed(read)
        yield from decoder.close()

    for event in events():
        if error is not None:
            after += 1  # only [DONE] may follow an error
            continue
        try:
            delta = assembler.feed_event(event)
        except ApiError as exc:
            error = exc
            continue
        content.append(delta.content)
        reasoning.append(delta.reasoning)
    return Outcome(assembler.reply, error, "".join(content), "".join(reasoning), after)


def splittings(data: bytes) -> dict[str, list[bytes]]:
    ways = {"whole": [data], "bytes": [data[i : i + 1] for i in range(len(data))]}
    for seed in (1, 2, 3):
        rng = random.Random(seed)
        cuts = sorted(rng.sample(range(1, len(data)), min(len(data) - 1, 40)))
        ways[f"seed{seed}"] = [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)],
                                                          strict=True)]
    ways["crlf"] = [data.replace(b"\n", b"\r\n")]
    crlf = data.replace(b"\n", b"\r\n")
    # CR and LF of each line end land in different reads.
    ways["crlf-split"] = [part + b"\r" for part in crlf.split(b"\r")[:-1]] + [
        crlf.split(b"\r")[-1]]
    ways["cr"] = [data.replace(b"\n", b"\r")]
    return ways


def summary(outcome: Outcome) -> Any:
    r = outcome.reply
    return (r.content, r.reasoning, r.refusal, [c.to_dict() for c in r.tool_calls],
            r.finish_reason, r.usage.to_dict() if r.usage else None, r.model, r.saw_done,
            r.warnings, str(outcome.error) if outcome.error else None)


@pytest.fixture(params=sorted(EXPECTED))
def recording(request: pytest.FixtureRequest, shared_fixtures: Path) -> tuple[str, bytes]:
    path = shared_fixtures / "sse" / request.param
    if not path.is_file():
        pytest.skip(f"recorded stream {path} is absent")
    return request.param, path.read_bytes()


def check_text(expected: Text | str, value: str, what: str) -> None:
    if isinstance(expected, Text):
        expected.check(value, what)
    else:
        assert value == expected, what


def test_recording_assembles_exactly(recording: tuple[str, bytes]) -> None:
    name, data = recording
    want = EXPECTED[name]
    outcome = run([data])
    reply = outcome.reply
    if want.error is None:
        assert outcome.error is None
    else:
        assert outcome.error is not None
        assert want.error in str(outcome.error)
        assert "\n" not in str(outcome.error)
        assert outcome.error.status == want.error_status
        if want.error_code:
            assert outcome.error.code == want.error_code
        assert outcome.error.partial is reply
        assert outcome.events_after_error <= 1
    assert reply.model == want.model
    check_text(want.content, reply.content, "content")
    check_text(want.reasoning, reply.reasoning, "reasoning")
    assert reply.refusal == want.refusal
    assert [(c.id, c.name, json.loads(c.arguments)) for c in reply.tool_calls] == want.tools
    assert reply.finish_reason == want.finish_reason
    assert reply.saw_done is want.saw_done
    assert reply.state is want.state
    if want.usage is None:
        assert reply.usage is None
    else:
        assert reply.usage is not None
        u = reply.usage
        assert (u.prompt_tokens, u.completion_tokens, u.total_tokens) == want.usage
        assert u.reasoning_tokens == want.reasoning_tokens
        assert u.cost == want.cost
    assert reply.warnings == []
    # What was streamed as deltas is what the reply holds.
    assert outcome.streamed_content == reply.content
    assert outcome.streamed_reasoning == reply.reasoning


def test_recording_is_split_proof(recording: tuple[str, bytes]) -> None:
    _, data = recording
    reference = summary(run([data]))
    for how, reads in splittings(data).items():
        assert summary(run(reads)) == reference, how


def test_every_recording_is_covered(shared_fixtures: Path) -> None:
    present = {p.name for p in (shared_fixtures / "sse").glob("*.sse")}
    assert present <= set(EXPECTED), f"add expectations for {sorted(present - set(EXPECTED))}"
