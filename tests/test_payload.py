"""The request body for each provider kind."""

from __future__ import annotations

import json

import pytest

from chatterm.api.payload import build_payload, ignored_params
from chatterm.api.types import ApiError, ChatRequest
from chatterm.conversation import Params
from chatterm.providers import ProviderConfig

OPENAI = ProviderConfig(name="aimlapi", base_url="https://api.aimlapi.com/v1")
MISTRAL = ProviderConfig(name="mistral", base_url="https://api.mistral.ai/v1", kind="mistral")
MESSAGES = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}]


def test_minimal_streaming_openai() -> None:
    body = build_payload(OPENAI, ChatRequest(model="gpt-4o-mini", messages=MESSAGES))
    assert body == {"model": "gpt-4o-mini", "messages": MESSAGES, "stream": True,
                    "stream_options": {"include_usage": True}}
    json.dumps(body)  # serialisable as is


def test_non_streaming_has_no_stream_options() -> None:
    body = build_payload(OPENAI, ChatRequest(model="m", messages=MESSAGES, stream=False))
    assert body["stream"] is False and "stream_options" not in body


def test_all_params_openai() -> None:
    params = Params(temperature=0.2, top_p=0.9, max_tokens=50, stop=["END", "##"], seed=7,
                    safe_prompt=True)
    body = build_payload(OPENAI, ChatRequest(model="m", messages=MESSAGES, params=params))
    assert body["temperature"] == 0.2 and body["top_p"] == 0.9 and body["max_tokens"] == 50
    assert body["stop"] == ["END", "##"]
    assert body["seed"] == 7 and "random_seed" not in body
    assert "safe_prompt" not in body  # a Mistral-only field
    assert ignored_params(OPENAI, ChatRequest(model="m", messages=[], params=params)) == [
        "safe_prompt"]


def test_zero_values_are_sent() -> None:
    params = Params(temperature=0.0, top_p=0.0, seed=0, max_tokens=0)
    body = build_payload(OPENAI, ChatRequest(model="m", messages=MESSAGES, params=params))
    assert (body["temperature"], body["top_p"], body["seed"], body["max_tokens"]) == (0, 0, 0, 0)


def test_mistral_seed_safe_prompt_and_no_stream_options() -> None:
    params = Params(seed=42, safe_prompt=True, stop=["x"])
    body = build_payload(MISTRAL, ChatRequest(model="mistral-small-latest", messages=MESSAGES,
                                              params=params))
    assert body["random_seed"] == 42 and "seed" not in body
    assert body["safe_prompt"] is True
    assert body["stop"] == ["x"]
    assert "stream_options" not in body
    assert ignored_params(MISTRAL, ChatRequest(model="m", messages=[], params=params)) == []


def test_mistral_safe_prompt_false_is_not_sent() -> None:
    body = build_payload(MISTRAL, ChatRequest(model="m", messages=MESSAGES))
    assert "safe_prompt" not in body


def test_mistral_prefix_appends_an_assistant_message() -> None:
    request = ChatRequest(model="m", messages=MESSAGES, prefix="Once upon a time")
    body = build_payload(MISTRAL, request)
    assert body["messages"] == [*MESSAGES, {"role": "assistant", "content": "Once upon a time",
                                            "prefix": True}]
    assert request.messages == MESSAGES  # the caller's list is untouched


def test_prefix_on_a_provider_without_support_is_a_clear_error() -> None:
    with pytest.raises(ApiError) as info:
        build_payload(OPENAI, ChatRequest(model="m", messages=MESSAGES, prefix="Hi"))
    assert "aimlapi does not support a reply prefix" in info.value.message
    assert "\n" not in info.value.message
    assert info.value.provider == "aimlapi"
