"""The model list a user sees: the catalog, merged with the provider's live list when asked,
falling back to the last cached list when the provider cannot be reached."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

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
from chatterm.errors import ChattermError
from chatterm.providers import ProviderConfig
from chatterm.timefmt import relative_time

__all__ = [
    "ModelListFormatError",
    "ModelListing",
    "close_matches",
    "fetch_models",
    "group_by_vendor",
]

# (provider, api_key) -> an object with `async list_models()` and `async aclose()`,
# normally chatterm.api.client.ChatClient.
ClientFactory = Callable[[ProviderConfig, str | None], Any]


@dataclass(slots=True)
class ModelListing:
    models: list[ModelInfo] = field(default_factory=list)
    # One line for stderr when the list is not what was asked for (offline, no list yet).
    note: str | None = None
    # When the live part of the list was fetched; None when there is none.
    fetched_at: float | None = None
    # Why a refresh that was asked for failed (one line); None when it worked or wasn't asked.
    refresh_error: str | None = None
    # What is shown instead, e.g. "the built-in catalog and the list cached 2 h ago".
    fallback: str | None = None


def _default_factory(provider: ProviderConfig, api_key: str | None) -> Any:
    # Imported here so that listing the catalog never loads httpx.
    from chatterm.api.client import ChatClient

    return ChatClient(provider, api_key)


async def _fetch_live(
    provider: ProviderConfig, api_key: str | None, factory: ClientFactory
) -> list[ModelInfo]:
    client = factory(provider, api_key)
    try:
        data = await client.list_models()
    finally:
        await client.aclose()
    return parse_models_response(data, provider.name, include_non_chat=True)


async def fetch_models(
    provider: ProviderConfig,
    api_key: str | None,
    *,
    refresh: bool,
    client_factory: ClientFactory | None = None,
) -> ModelListing:
    """The provider's models. With refresh, ask the server, merge and cache its answer;
    otherwise (or when the server cannot be reached) use the catalog and the last cache."""
    catalog = builtin_catalog(provider.name)
    error: str | None = None
    if refresh:
        try:
            live = await _fetch_live(provider, api_key, client_factory or _default_factory)
        except (ChattermError, OSError) as exc:
            # ApiError already reads as one line naming the provider; keys never appear in it.
            error = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        except ValueError:
            error = f"the answer from {provider.shown_url}/models is not JSON"
        else:
            note = None
            fetched_at = time.time()
            try:
                write_cache(provider.name, live, base_url=provider.base_url,
                            fetched_at=fetched_at)
            except OSError as exc:
                note = f"could not cache the model list: {exc.strerror or exc}"
            return ModelListing(merge_models(catalog, live), note, fetched_at)

    cached = read_cache(provider.name, base_url=provider.base_url)
    cached_at, live_cached = cached if cached else (None, None)
    models = merge_models(catalog, live_cached)
    return ModelListing(models, _note(provider, error, catalog, cached_at), cached_at,
                        refresh_error=error, fallback=_fallback(catalog, cached_at))


def _fallback(catalog: list[ModelInfo], fetched_at: float | None) -> str | None:
    parts = []
    if catalog:
        parts.append("the built-in catalog")
    if fetched_at is not None:
        parts.append(f"the list cached {relative_time(fetched_at)}")
    return " and ".join(parts) or None


def _note(
    provider: ProviderConfig,
    error: str | None,
    catalog: list[ModelInfo],
    fetched_at: float | None,
) -> str | None:
    fallback = _fallback(catalog, fetched_at)
    if error is None:
        if fallback:
            return None
        return (
            f"no model list for provider {provider.name!r} yet; "
            "use --refresh to ask the server"
        )
    showing = f"showing {fallback}" if fallback else "no model list to show"
    return f"offline: {showing} (error: {error})"

