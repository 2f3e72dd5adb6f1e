"""Which models take images (chatterm.vision): the name rule, live /models fields, and
takes_images() over the cache and the catalog."""

from __future__ import annotations

from pathlib import Path

import pytest

from chatterm.catalog import builtin_catalog, merge_models, parse_models_response, write_cache
from chatterm.vision import live_takes_images, name_takes_images, takes_images


@pytest.mark.parametrize("model", [
    "meta-llama/Llama-3.2-11B-Vision-Instruct-Turbo", "meta-llama/Llama-Vision-Free",
    "gpt-4o", "gpt-4o-mini-2024-07-18", "chatgpt-4o-latest", "gpt-4.1-nano", "gpt-4.5-preview",
    "gpt-5", "gpt-4-turbo", "gpt-4-turbo-2024-04-09", "o1", "o1-2024-12-17", "o3", "o4-mini",
    "gemini-1.5-flash", "gemini-2.0-flash-exp", "google/gemini-2.5-pro",
    "claude-3-haiku-20240307", "claude-3-5-sonnet-20241022", "claude-sonnet-4-20250514",
    "claude-opus-4-1", "pixtral-12b-2409", "mistralai/pixtral-large-latest",
    "Qwen/Qwen2-VL-72B-Instruct", "qwen2.5-vl-7b", "llava-v1.6", "gemma-3-27b-it",
    "meta-llama/Llama-4-Scout-17B-16E-Instruct",
])
def test_the_name_rule_takes(model: str) -> None:
    assert name_takes_images(model)


@pytest.mark.parametrize("model", [
    "gpt-3.5-turbo", "gpt-4", "gpt-4-1106-preview", "gpt-4-turbo-preview", "o1-mini",
    "o1-preview", "o3-mini", "gemini-pro", "claude-2.1", "mistralai/Mistral-7B-Instruct-v0.3",
    "meta-llama/Llama-3.3-70B-Instruct-Turbo", "Qwen/Qwen2.5-72B-Instruct-Turbo",
    "google/gemma-2-9b-it", "deepseek-ai/deepseek-llm-67b-chat",
])
def test_the_name_rule_does_not_take(model: str) -> None:
    assert not name_takes_images(model)


def test_the_catalog_marks_every_seed_model() -> None:
    catalog = {m.id: m.vision for m in builtin_catalog("aimlapi")}
    assert catalog["meta-llama/Llama-3.2-90B-Vision-Instruct-Turbo"] is True
    assert catalog["gpt-4o"] is True and catalog["claude-3-opus-20240229"] is True
    assert catalog["gpt-3.5-turbo"] is False and catalog["gemini-pro"] is False
    assert None not in catalog.values()


@pytest.mark.parametrize(("item", "said"), [
    ({"architecture": {"input_modalities": ["text", "image"]}}, True),  # OpenRouter
    ({"architecture": {"input_modalities": ["text"]}}, False),
    ({"architecture": {"modality": "text+image->text"}}, True),
    ({"architecture": {"modality": "text->text"}}, False),
    ({"capabilities": {"completion_chat": True, "vision": True}}, True),  # Mistral
    ({"capabilities": {"completion_chat": True, "vision": False}}, False),
    ({"input_modalities": ["TEXT", "IMAGE"]}, True),
    ({"modalities": {"input": ["text"], "output": ["text"]}}, False),
    ({"type": "vlm"}, True),  # LM Studio
    ({"capabilities": ["completion", "vision"]}, True),  # Ollama
    ({"features": ["openai/chat-completion", "openai/chat-completion.vision"]}, True),
    ({"features": ["openai/chat-completion"]}, None),
    ({"owned_by": "x"}, None),
    ({"architecture": "weird", "capabilities": 3}, None),
])
def test_live_fields_where_a_provider_says(item: dict[str, object], said: bool | None) -> None:
    assert live_takes_images({"id": "m", **item}) is said


def test_live_says_win_over_the_name_and_merge_into_the_catalog() -> None:
    live = parse_models_response({"data": [
        {"id": "gpt-4o", "architecture": {"input_modalities": ["text"]}},
        {"id": "my-vision-thing"},
        {"id": "plain-model"},
    ]}, "aimlapi")
    by_id = {m.id: m.vision for m in live}
    assert by_id == {"gpt-4o": False, "my-vision-thing": True, "plain-model": None}
    merged = {m.id: m.vision for m in merge_models(builtin_catalog("aimlapi"), live)}
    assert merged["gpt-4o"] is False  # the provider said so
    assert merged["gpt-4"] is False and merged["plain-model"] is None


def test_takes_images_reads_the_cache_then_the_catalog_then_the_name(
        isolated_env: Path) -> None:
    assert takes_images("aimlapi", "gpt-4o") is True
    assert takes_images("aimlapi", "gpt-3.5-turbo") is False
    assert takes_images("local", "llama3") is None
    assert takes_images("local", "llava:13b") is True
    live = parse_models_response({"data": [{"id": "llama3", "type": "vlm"}]}, "local")
    write_cache("local", live)
    assert takes_images("local", "llama3") is True
