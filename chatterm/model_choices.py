"""What the model picker lists: where the models come from and how a query ranks them.

No UI here: the picker (chatterm/ui/pickers/model_picker.py) draws the groups this module
returns, so the ranking is the same for any front end and is tested without Textual.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from chatterm.fuzzy import fuzzy_match

if TYPE_CHECKING:
    from chatterm.catalog import ModelInfo
    from chatterm.model_list import ModelListing
    from chatterm.providers import ProviderConfig


def format_context(tokens: int) -> str:
    """128000 -> "128K", 131072 -> "128K", 1048576 -> "1M", 200000 -> "200K"."""

    def scaled(unit: int) -> float:
        # Round decimal sizes stay decimal; powers of two (131072) read as binary (128K).
        binary = 1024 if unit == 1000 else 1_048_576
        if tokens % unit and tokens % binary == 0:
            return tokens / binary
        return tokens / unit

    if tokens >= 1_000_000:
        return f"{scaled(1_000_000):.1f}".removesuffix(".0") + "M"
    if tokens >= 1000:
        return f"{round(scaled(1000))}K"
    return str(tokens)


# ---- where the models come from -----------------------------------------------------------


class ModelSource(Protocol):
    def cached(self, provider: ProviderConfig) -> list[ModelInfo]:
        """What can be shown at once: catalog plus the last cached live list."""

    async def live(self, provider: ProviderConfig) -> ModelListing:
        """The live list merged with the catalog (a note when it fell back offline)."""


class CatalogModelSource:
    """The real source: chatterm.catalog for the instant list, chatterm.model_list live.

    `key_for` resolves a provider's API key (default: chatterm.config.resolve_api_key,
    which runs an api_key_command each time the picker opens; a caller with a cached
    lookup can pass it instead). It is called in a worker thread.
    """

    def __init__(self, key_for: Callable[[ProviderConfig], str | None] | None = None) -> None:
        self._key_for = key_for

    def cached(self, provider: ProviderConfig) -> list[ModelInfo]:
        from chatterm.catalog import builtin_catalog, merge_models, read_cache

        found = read_cache(provider.name, base_url=provider.base_url)
        # Shown before the server has answered this session: a cached list may be old, so
        # no row is called missing from it until the live answer comes.
        return merge_models(builtin_catalog(provider.name), found[1] if found else None,
                            flag_missing=False)

    async def live(self, provider: ProviderConfig) -> ModelListing:
        from chatterm.config import resolve_api_key
        from chatterm.model_list import ModelListing, fetch_models

        # An api_key_command may take a moment: keep it off the event loop.
        api_key = await asyncio.to_thread(self._key_for or resolve_api_key, provider)
        if api_key is None and provider.needs_key:
            listing = await fetch_models(provider, None, refresh=False)
            where = provider.api_key_env or "an API key"
            return ModelListing(
                listing.models,
                f"no API key ({where} is not set): showing the catalog and cached list",
                listing.fetched_at,
            )
        return await fetch_models(provider, api_key, refresh=True)


# ---- ranking ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RankedModel:
    model: ModelInfo
    score: float
    positions: tuple[int, ...]  # the matched letters of model.id


@dataclass(frozen=True, slots=True)
class VendorGroup:
    vendor: str
    models: list[RankedModel]


def chat_models(models: Sequence[ModelInfo]) -> list[ModelInfo]:
    """Only the models a chat can use (embeddings and the like are left out)."""
    return [model for model in models if model.kind == "chat"]


def rank_models(models: Sequence[ModelInfo], query: str) -> list[VendorGroup]:
    """Chat models matching `query`, grouped by vendor.

    A query matches a model's id fuzzily, or its vendor or name as plain text ("anthropic"
    lists all of that vendor's models). With a query the best groups and models come
    first; without one, vendors go alphabetically (the catch-all vendor last) and models
    by id.
    """
    from chatterm.catalog import OTHER_VENDOR

    query = query.strip()
    groups: dict[str, list[RankedModel]] = {}
    for model in chat_models(models):
        hit = fuzzy_match(query, model.id)
        if hit is not None:
            ranked = RankedModel(model, hit[0], hit[1])
        elif query.lower() in f"{model.vendor} {model.name or ''}".lower():
            ranked = RankedModel(model, 0.0, ())
        else:
            continue
        groups.setdefault(model.vendor, []).append(ranked)
    if query:
        order = sorted(groups, key=lambda v: -max(item.score for item in groups[v]))
    else:
        order = sorted(groups, key=lambda v: (v == OTHER_VENDOR, v.lower()))
    result = []
    for vendor in order:
        items = groups[vendor]
        items.sort(key=lambda item: (-item.score, item.model.id.lower()) if query
                   else item.model.id.lower())
        result.append(VendorGroup(vendor, items))
    return result


def offers_custom_id(query: str, models: Sequence[ModelInfo]) -> bool:
    """Whether to offer `query` itself as a model id: one word, not a listed chat model."""
    query = query.strip()
    known = {model.id for model in chat_models(models)}
    return bool(query) and query not in known and not any(ch.isspace() for ch in query)
