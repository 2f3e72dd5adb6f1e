"""What the model picker lists (chatterm/model_choices.py), in the core: no Textual needed."""

from __future__ import annotations

from chatterm.catalog import OTHER_VENDOR, ModelInfo
from chatterm.model_choices import format_context, offers_custom_id, rank_models

MODELS = [
    ModelInfo("gpt-4o-mini", "OpenAI", "p"),
    ModelInfo("gpt-4o", "OpenAI", "p"),
    ModelInfo("claude-3-5-sonnet", "Anthropic", "p", name="Claude 3.5 Sonnet"),
    ModelInfo("mystery-1", OTHER_VENDOR, "p"),
    ModelInfo("acme/rocket-1", "Acme", "p"),
    ModelInfo("text-embedding-3-small", "OpenAI", "p", kind="embedding"),
]


def shown(query: str) -> list[tuple[str, list[str]]]:
    return [(g.vendor, [r.model.id for r in g.models]) for g in rank_models(MODELS, query)]


def test_without_a_query_vendors_go_alphabetically_and_other_last() -> None:
    assert shown("") == [
        ("Acme", ["acme/rocket-1"]),
        ("Anthropic", ["claude-3-5-sonnet"]),
        ("OpenAI", ["gpt-4o", "gpt-4o-mini"]),  # by id; the embedding model is left out
        (OTHER_VENDOR, ["mystery-1"]),
    ]


def test_a_query_ranks_groups_and_models_best_first() -> None:
    assert shown("4o") == [("OpenAI", ["gpt-4o", "gpt-4o-mini"])]
    assert shown("rockt1") == [("Acme", ["acme/rocket-1"])]
    # A vendor or display name matches as plain text: all of that vendor's models.
    assert shown("anthropic") == [("Anthropic", ["claude-3-5-sonnet"])]
    [group] = rank_models(MODELS, "gpt4o")
    assert group.models[0].positions == (0, 1, 2, 4, 5)
    assert shown("embedding") == []


def test_a_typed_id_is_offered_when_it_is_one_unlisted_word() -> None:
    assert offers_custom_id("zz-finetune:v2", MODELS)
    assert not offers_custom_id("gpt-4o", MODELS)
    assert not offers_custom_id("two words", MODELS)
    assert not offers_custom_id("  ", MODELS)
    # Only chat models count as listed: an embedding id can still be typed in.
    assert offers_custom_id("text-embedding-3-small", MODELS)


def test_format_context() -> None:
    assert [format_context(n) for n in (4096, 32768, 128000, 131072, 200000, 1048576)] == [
        "4K", "32K", "128K", "128K", "200K", "1M"]
