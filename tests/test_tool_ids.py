"""Mistral's 9-character tool-call ids: what a `kind = "mistral"` provider is sent, as a
real `chatterm ask -c --provider ...` against the loopback server, switching between an
OpenAI-style provider and a Mistral one in the middle of a conversation with a saved
tool exchange (tests/tool_exchange.py)."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest
from chatterm_env import run_cli
from loopback import LoopbackServer, sse_reply, stream_reply
from tool_exchange import CALL_PARIS, CALL_TOKYO, CALL_WIKI, tool_exchange

from chatterm.api import tool_ids
from chatterm.store import Store

CHAT = "chat/completions"
NINE = re.compile(r"[A-Za-z0-9]{9}")


def test_valid_ids_are_kept_and_the_others_mapped_without_collisions() -> None:
    ids = ["4dI1Jw6NX", CALL_TOKYO, CALL_PARIS, "", "call_1", "x" * 300]
    mapped = tool_ids.mapping(ids)
    assert mapped["4dI1Jw6NX"] == "4dI1Jw6NX"
    assert all(NINE.fullmatch(sent) for sent in mapped.values())
    assert len(set(mapped.values())) == len(ids)
    assert tool_ids.mapping(ids) == mapped  # deterministic
    # An id that is already valid and happens to be what another id hashes to keeps its
    # own; the other is drawn again.
    clash = tool_ids.mapping([CALL_TOKYO])[CALL_TOKYO]
    both = tool_ids.mapping([clash, CALL_TOKYO])
    assert both[clash] == clash and NINE.fullmatch(both[CALL_TOKYO])
    assert both[CALL_TOKYO] != clash


def test_a_history_without_tool_calls_is_sent_as_it_is() -> None:
    messages: list[dict[str, Any]] = [{"role": "user", "content": "hi"}]
    assert tool_ids.for_mistral(messages) is messages


def _config(url: str) -> None:
    path = Path(os.environ["CHATTERM_CONFIG"])
    path.parent.mkdir(parents=True, exist_ok=True)
    tables = "".join(
        f'[providers.{name}]\nbase_url = "{url}"\nkind = "{kind}"\nmax_retries = 0\n'
        "read_timeout = 5\n" for name, kind in (("test", "openai"), ("mis", "mistral")))
    path.write_text(f'default_provider = "test"\ndefault_model = "test-model"\n{tables}',
                    encoding="utf-8")
    path.chmod(0o600)


def _pairs(body: dict[str, Any]) -> tuple[list[str], list[str]]:
    """The ids of the tool calls and of the tool results of a request, in order."""
    calls = [call["id"] for m in body["messages"] for call in m.get("tool_calls") or ()]
    results = [m["tool_call_id"] for m in body["messages"] if m["role"] == "tool"]
    return calls, results


def _ask(*words: str) -> None:
    done = run_cli("ask", *words)
    assert done.returncode == 0, done.stderr.decode()


@pytest.mark.e2e
def test_switching_to_mistral_and_back_maps_ids_only_for_mistral(
        loopback: LoopbackServer) -> None:
    _config(loopback.url)
    conv = tool_exchange()
    loopback.script(CHAT, [sse_reply(["Mistral here"], model="mistral-large-latest"),
                           sse_reply(["back on OpenAI"]),
                           sse_reply(["Mistral again"], model="mistral-large-latest")])

    _ask("-c", "--provider", "mis", "-m", "mistral-large-latest", "Which version?")
    first = loopback.requests[0].json
    calls, results = _pairs(first)
    assert len(calls) == 3 and all(NINE.fullmatch(i) for i in calls + results), first
    assert results == calls and len(set(calls)) == 3  # each result meets its call
    assert CALL_TOKYO not in json.dumps(first)
    # The store keeps the original ids.
    with Store.open() as store:
        saved = store.get_conversation(conv.id).messages
    assert [c.id for c in saved[1].tool_calls] == [CALL_TOKYO, CALL_PARIS, CALL_WIKI]
    assert [m.tool_call_id for m in saved[2:5]] == [CALL_TOKYO, CALL_PARIS, CALL_WIKI]

    _ask("-c", "--provider", "test", "-m", "test-model", "And on OpenAI?")
    assert _pairs(loopback.requests[1].json) == ([CALL_TOKYO, CALL_PARIS, CALL_WIKI],) * 2

    _ask("-c", "--provider", "mis", "-m", "mistral-large-latest", "Mistral again")
    # The same history maps the same way every time.
    assert _pairs(loopback.requests[2].json) == (calls, calls)


@pytest.mark.e2e
def test_mistral_s_own_ids_from_its_recorded_stream_are_kept_both_ways(
        loopback: LoopbackServer, shared_fixtures: Path) -> None:
    _config(loopback.url)
    conv = tool_exchange()
    recorded = (shared_fixtures / "sse" / "mistral_toolcall_stream.sse").read_bytes()
    loopback.script(CHAT, [stream_reply([recorded])])
    # Whatever follows the recorded call (a result, another question) gets a plain answer.
    loopback.always(CHAT, sse_reply(["fine"]))

    _ask("-c", "--provider", "mis", "-m", "mistral-large-latest", "Which version?")
    with Store.open() as store:
        saved = store.get_conversation(conv.id).messages
    reply = next(m for m in saved if any(c.name == "llm_version" for c in m.tool_calls))
    assert [c.id for c in reply.tool_calls] == ["4dI1Jw6NX"]  # valid: saved as it came

    _ask("-c", "--provider", "test", "-m", "test-model", "And on OpenAI?")
    calls, results = _pairs(loopback.requests[-1].json)
    assert calls == [CALL_TOKYO, CALL_PARIS, CALL_WIKI, "4dI1Jw6NX"] and results == calls

    _ask("-c", "--provider", "mis", "-m", "mistral-large-latest", "Mistral again")
    calls, results = _pairs(loopback.requests[-1].json)
    assert calls[3] == "4dI1Jw6NX" and results == calls
    assert all(NINE.fullmatch(i) for i in calls) and len(set(calls)) == 4
