"""The built-in catalog, `/models` answer shapes, merging, grouping and the cache."""

from __future__ import annotations

import json
import os
import re
import stat
from pathlib import Path

import pytest

from chatterm.catalog import (
    ModelInfo,
    ModelListFormatError,
    builtin_catalog,
    close_matches,
    group_by_vendor,
    merge_models,
    parse_models_response,
    read_cache,
    write_cache,
)

SEED = (
    Path(__file__).resolve().parent.parent.parent / "shared" / "seeds"
    / "000_7a4291df11ef2b0e.txt"
)


# ---- the built-in catalog -------------------------------------------------------------


def test_packaged_catalog() -> None:
    models = builtin_catalog("aimlapi")
    assert len(models) == 82
    by_id = {m.id: m for m in models}
    assert len(by_id) == 82
    assert all(m.provider == "aimlapi" and m.source == "catalog" for m in models)
    assert by_id["gpt-4o"].vendor == "OpenAI"
    assert by_id["claude-3-5-haiku-20241022"].vendor == "Anthropic"  # lower-case folder
    assert by_id["qwen-max-2025-01-25"].vendor == "Alibaba-Cloud"  # shares a doc page
    assert by_id["x-ai/grok-beta"].vendor == "xAI"
    assert by_id["MiniMax-Text-01"].vendor == "MiniMax"
    moderation = sorted(m.id for m in models if m.kind == "moderation")
    assert moderation == [
        "meta-llama/Llama-Guard-3-11B-Vision-Turbo",
        "meta-llama/LlamaGuard-2-8b",
        "meta-llama/Meta-Llama-Guard-3-8B",
    ]
    assert by_id["meta-llama/Llama-3.3-70B-Instruct-Turbo"].kind == "chat"
    assert {m.vendor for m in models} == {
        "AI21-Labs", "Alibaba-Cloud", "Anthracite", "Anthropic", "Cohere", "DeepSeek",
        "Google", "Gryphe", "Meta", "Microsoft", "MiniMax", "Mistral-AI", "NVIDIA",
        "NeverSleep", "NousResearch", "OpenAI", "Upstage-AI", "xAI",
    }


def test_catalog_context_lengths_each_name_their_source() -> None:
    import json
    from importlib.resources import files

    data = json.loads(files("chatterm.data").joinpath("catalog.json").read_text("utf-8"))
    sources = data["context_sources"]
    with_length = [m for m in data["models"] if "context_length" in m]
    assert len(with_length) >= 80  # all but the two with no public figure
    for entry in with_length:
        assert isinstance(entry["context_length"], int) and entry["context_length"] >= 2048
        assert entry["context_source"] in sources, entry["id"]
    assert set(sources) == {m["context_source"] for m in with_length}  # none unused
    by_id = {m.id: m for m in builtin_catalog("aimlapi")}
    assert by_id["gpt-4o"].context_length == 128000
    assert by_id["claude-3-opus-20240229"].context_length == 200000
    assert by_id["anthracite-org/magnum-v4-72b"].context_length is None


def test_other_providers_have_no_catalog() -> None:
    assert builtin_catalog("openai") == []
    assert builtin_catalog("mistral") == []


def test_catalog_copies_are_independent() -> None:
    first = builtin_catalog("aimlapi")
    first[0].vendor = "changed"
    assert builtin_catalog("aimlapi")[0].vendor != "changed"


def _seed_entries() -> list[tuple[str, str, str]]:
    if not SEED.is_file():
        pytest.skip(f"seed not available: {SEED} is absent")
    text = SEED.read_text(encoding="utf-8")
    section = text.split("## Models That Support Chat Completion", 1)[1]
    entries = []
    for model_id, doc in re.findall(r"^\* \[([^\]]+)\]\(([^)]+)\)", section, re.MULTILINE):
        parts = doc.split("/")
        kind = "moderation" if "moderation-safety-models" in parts else "chat"
        entries.append((model_id, parts[-2], kind))
    return entries


def test_catalog_matches_the_seed_exactly() -> None:
    entries = _seed_entries()
    models = builtin_catalog("aimlapi")
    assert [m.id for m in models] == [e[0] for e in entries]
    for model, (model_id, folder, kind) in zip(models, entries, strict=True):
        assert model.vendor.lower() == folder.lower(), model_id
        assert model.kind == kind, model_id


# ---- parsing /models answers ---------------------------------------------------------------


def test_cerebras_openai_style_fixture(shared_fixtures: Path) -> None:
    data = json.loads((shared_fixtures / "models_list_cerebras_openai_style.json").read_text())
    models = parse_models_response(data, "cerebras")
    assert [m.id for m in models] == ["gemma-4-31b", "gpt-oss-120b", "zai-glm-4.7"]
    assert all(m.vendor == "Cerebras" and m.kind == "chat" and m.source == "live"
               and m.provider == "cerebras" for m in models)


AIMLAPI_LIST = [
    {
        "id": "gpt-4o",
        "type": "chat-completion",
        "info": {"name": "GPT-4o", "developer": "Open AI", "contextLength": 128000},
    },
    {
        "id": "new-org/fresh-model",
        "type": "openai/chat-completions",
        "info": {"name": "Fresh", "developer": "Fresh Labs", "context_length": "32000"},
    },
    {"id": "anthropic/claude-x", "type": "unknown-type", "endpoints": ["/v1/chat/completions"]},
    {"id": "flux/schnell", "type": "image", "endpoints": ["/v1/images/generations"]},
    {"id": "text-embedding-3-small", "type": "embedding"},
    {"id": "meta-llama/Llama-Guard-3-11B-Vision-Turbo", "type": "moderation",
     "endpoints": ["/v1/chat/completions"]},
    {"id": "meta-llama/LlamaGuard-2-8b", "type": "moderation"},
]


@pytest.mark.parametrize("wrap", [True, False], ids=["data", "bare-list"])
def test_aimlapi_shapes(wrap: bool) -> None:
    data = {"object": "list", "data": AIMLAPI_LIST} if wrap else AIMLAPI_LIST
    models = {m.id: m for m in parse_models_response(data, "aimlapi")}
    assert list(models) == [
        "gpt-4o", "new-org/fresh-model", "anthropic/claude-x",
        "meta-llama/Llama-Guard-3-11B-Vision-Turbo",
    ]
    assert models["gpt-4o"].name == "GPT-4o"
    assert models["gpt-4o"].context_length == 128000
    assert models["gpt-4o"].vendor == "OpenAI"  # "Open AI" in the catalog's spelling
    assert models["new-org/fresh-model"].vendor == "Fresh Labs"
    assert models["new-org/fresh-model"].context_length == 32000
    assert models["anthropic/claude-x"].vendor == "Anthropic"  # org prefix, catalog spelling
    assert models["meta-llama/Llama-Guard-3-11B-Vision-Turbo"].kind == "moderation"


def test_include_non_chat_marks_the_rest_other() -> None:
    models = {m.id: m.kind for m in parse_models_response(AIMLAPI_LIST, "aimlapi",
                                                          include_non_chat=True)}
    assert models["flux/schnell"] == "other"
    assert models["text-embedding-3-small"] == "other"
    assert models["meta-llama/LlamaGuard-2-8b"] == "other"
    assert models["gpt-4o"] == "chat"


def test_mistral_shape() -> None:
    data = {
        "object": "list",
        "data": [
            {"id": "mistral-large-latest", "object": "model", "owned_by": "mistralai",
             "type": "base", "max_context_length": 131072,
             "capabilities": {"completion_chat": True, "completion_fim": False}},
            {"id": "codestral-latest", "object": "model", "owned_by": "mistralai",
             "type": "base", "capabilities": {"completion_chat": True, "completion_fim": True}},
            {"id": "mistral-embed", "object": "model", "owned_by": "mistralai",
             "type": "base", "capabilities": {"completion_chat": False}},
            {"id": "mistral-moderation-latest", "object": "model", "owned_by": "mistralai",
             "type": "base", "capabilities": {"completion_chat": False}},
        ],
    }
    models = parse_models_response(data, "mistral")
    assert [m.id for m in models] == ["mistral-large-latest", "codestral-latest"]
    assert models[0].vendor == "Mistral-AI"
    assert models[0].context_length == 131072


def test_openai_shape_filters_non_chat_ids() -> None:
    data = {
        "object": "list",
        "data": [
            {"id": name, "object": "model", "created": 1, "owned_by": owner}
            for name, owner in [
                ("gpt-4o", "system"), ("o3-mini", "system"), ("text-embedding-3-large", "system"),
                ("whisper-1", "openai-internal"), ("tts-1-hd", "system"), ("dall-e-3", "system"),
                ("omni-moderation-latest", "system"), ("gpt-4o-realtime-preview", "system"),
                ("babbage-002", "system"), ("gpt-4o-mini", "openai"),
            ]
        ],
    }
    models = parse_models_response(data, "openai")
    assert [m.id for m in models] == ["gpt-4o", "o3-mini", "gpt-4o-mini"]
    # "system" names the server, not the vendor.
    assert [m.vendor for m in models] == ["Other", "Other", "OpenAI"]


def test_ollama_shape() -> None:
    data = {"object": "list", "data": [
        {"id": "llama3.2:latest", "object": "model", "created": 1, "owned_by": "library"},
        {"id": "nomic-embed-text:latest", "object": "model", "created": 1, "owned_by": "library"},
        {"id": "hf.co/bartowski/Qwen2.5-7B:Q4", "object": "model", "created": 1,
         "owned_by": "library"},
    ]}
    models = parse_models_response(data, "ollama")
    assert [(m.id, m.vendor) for m in models] == [
        ("llama3.2:latest", "Other"), ("hf.co/bartowski/Qwen2.5-7B:Q4", "hf.co"),
    ]


def test_llama_cpp_shapes() -> None:
    both = {
        "models": [{"name": "qwen.gguf", "model": "qwen.gguf", "type": "model"}],
        "object": "list",
        "data": [{"id": "qwen.gguf", "object": "model", "created": 1, "owned_by": "llamacpp",
                  "meta": {"n_ctx_train": 32768, "n_params": 1}}],
    }
    [model] = parse_models_response(both, "local")
    assert (model.id, model.vendor, model.context_length) == ("qwen.gguf", "Other", 32768)
    only_models = {"models": [{"name": "phi.gguf", "model": "phi.gguf"}]}
    assert [m.id for m in parse_models_response(only_models, "local")] == ["phi.gguf"]


@pytest.mark.parametrize("data", [{"error": "nope"}, "text", 3, None])
def test_unknown_shape_is_a_clear_error(data: object) -> None:
    with pytest.raises(ModelListFormatError, match="not in a known format"):
        parse_models_response(data, "x")


def test_junk_items_are_skipped() -> None:
    data = {"data": [None, 3, {"object": "model"}, {"id": ""}, "plain-id", {"id": "plain-id"}]}
    assert [m.id for m in parse_models_response(data, "x")] == ["plain-id"]


# ---- merging -----------------------------------------------------------------------------


def _catalog() -> list[ModelInfo]:
    return [
        ModelInfo("gpt-4o", "OpenAI", "aimlapi"),
        ModelInfo("o1", "OpenAI", "aimlapi"),
        ModelInfo("meta-llama/LlamaGuard-2-8b", "Meta", "aimlapi", kind="moderation"),
    ]


def test_merge_with_live_list() -> None:
    live = parse_models_response(AIMLAPI_LIST, "aimlapi", include_non_chat=True)
    merged = {m.id: m for m in merge_models(_catalog(), live)}
    assert merged["gpt-4o"].source == "both"
    assert merged["gpt-4o"].vendor == "OpenAI"  # the catalog's vendor stays
    assert merged["gpt-4o"].name == "GPT-4o"
    assert merged["gpt-4o"].context_length == 128000
    assert not merged["gpt-4o"].missing_live
    assert merged["o1"].source == "catalog" and merged["o1"].missing_live
    # Listed by the server as non-chat: present, so not flagged, and still a catalog entry.
    guard = merged["meta-llama/LlamaGuard-2-8b"]
    assert guard.source == "both" and guard.kind == "moderation" and not guard.missing_live
    assert merged["new-org/fresh-model"].source == "live"
    assert merged["anthropic/claude-x"].source == "live"
    assert merged["meta-llama/Llama-Guard-3-11B-Vision-Turbo"].kind == "moderation"
    assert "flux/schnell" not in merged
    assert "text-embedding-3-small" not in merged


def test_merge_without_live_list_flags_nothing() -> None:
    catalog = _catalog()
    merged = merge_models(catalog, None)
    assert [m.to_dict() for m in merged] == [m.to_dict() for m in catalog]
    assert merged[0] is not catalog[0]
    # An answer that lists nothing says nothing about what the server lacks.
    assert not any(m.missing_live for m in merge_models(catalog, []))
    live = [ModelInfo("gpt-4o", "OpenAI", "aimlapi", source="live")]
    assert any(m.missing_live for m in merge_models(catalog, live))
    assert not any(m.missing_live for m in merge_models(catalog, live, flag_missing=False))


def test_to_dict_has_the_json_fields() -> None:
    data = ModelInfo("gpt-4o", "OpenAI", "aimlapi").to_dict()
    assert {"id", "vendor", "provider", "source", "kind"} <= set(data)
    assert ModelInfo.from_dict(data) == ModelInfo("gpt-4o", "OpenAI", "aimlapi")


def test_group_by_vendor() -> None:
    models = [
        ModelInfo("b", "zeta", "p"), ModelInfo("z", "Other", "p"), ModelInfo("B2", "Alpha", "p"),
        ModelInfo("a1", "Alpha", "p"),
    ]
    groups = group_by_vendor(models)
    assert list(groups) == ["Alpha", "zeta", "Other"]
    assert [m.id for m in groups["Alpha"]] == ["a1", "B2"]


def test_close_matches() -> None:
    models = builtin_catalog("aimlapi")
    assert close_matches("gpt-4o-mni", models)[0] == "gpt-4o-mini"
    assert "meta-llama/Llama-3.3-70B-Instruct-Turbo" in close_matches(
        "llama-3.3-70b-instruct-turbo", models)
    assert close_matches("claude-3-5-sonet-20241022", models)[0] == "claude-3-5-sonnet-20241022"
    assert close_matches("gpt-4o", models)[0] != "gpt-4o"  # never suggests itself
    assert close_matches("zzzzzzzzzzzz", models) == []
    assert close_matches("", models) == []
    assert len(close_matches("gpt", models)) == 5


# ---- the cache --------------------------------------------------------------------------------


def test_cache_round_trip(isolated_env: Path) -> None:
    models = parse_models_response(AIMLAPI_LIST, "aimlapi", include_non_chat=True)
    stamp = write_cache("aimlapi", models, base_url="https://x/v1", fetched_at=1234.5)
    assert stamp == 1234.5
    path = isolated_env / "cache" / "models-aimlapi.json"
    assert path.is_file()
    if os.name == "posix":
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    cached = read_cache("aimlapi")
    assert cached is not None
    fetched_at, again = cached
    assert fetched_at == 1234.5
    assert [m.to_dict() for m in again] == [m.to_dict() for m in models]
    assert read_cache("aimlapi", base_url="https://x/v1") is not None
    assert read_cache("aimlapi", base_url="https://elsewhere/v1") is None
    assert read_cache("mistral") is None


def test_cache_file_name_is_safe(isolated_env: Path) -> None:
    write_cache("../evil/name", [])
    assert (isolated_env / "cache" / "models-.._evil_name.json").is_file()
    cached = read_cache("../evil/name")
    assert cached is not None and cached[1] == []


@pytest.mark.parametrize("content", ["{not json", '{"version": 1}', "[]", '{"version": 99}'])
def test_damaged_cache_is_ignored(isolated_env: Path, content: str) -> None:
    path = isolated_env / "cache" / "models-aimlapi.json"
    path.parent.mkdir(parents=True)
    path.write_text(content)
    assert read_cache("aimlapi") is None
