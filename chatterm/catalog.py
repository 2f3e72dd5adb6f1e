"""Model metadata: the built-in catalog, every `/models` answer shape, merging and the cache.

Pure data work; the network call lives in chatterm.model_list.
"""

from __future__ import annotations

import difflib
import json
import re
import time
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Literal

from chatterm.errors import ChattermError

Source = Literal["catalog", "live", "both"]
# "other" only appears in a full live list (include_non_chat=True): it lets a merge tell
# "the server lists this id, just not as chat" from "the server does not list it".
Kind = Literal["chat", "moderation", "other"]

OTHER_VENDOR = "Other"
CACHE_VERSION = 1


class ModelListFormatError(ChattermError):
    """A `/models` answer in a shape chatterm does not understand."""


@dataclass(slots=True)
class ModelInfo:
    id: str
    vendor: str
    provider: str
    source: Source = "catalog"
    kind: Kind = "chat"
    name: str | None = None
    context_length: int | None = None
    # A catalog id the provider's live list did not include.
    missing_live: bool = False
    # Whether it takes images (chatterm.vision); None: not known.
    vision: bool | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "vendor": self.vendor,
            "provider": self.provider,
            "source": self.source,
            "kind": self.kind,
            "name": self.name,
            "context_length": self.context_length,
            "missing_live": self.missing_live,
            "vision": self.vision,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelInfo:
        return cls(
            id=str(data["id"]),
            vendor=str(data.get("vendor") or OTHER_VENDOR),
            provider=str(data.get("provider") or ""),
            source=data.get("source") or "catalog",
            kind=data.get("kind") or "chat",
            name=data.get("name"),
            context_length=_as_int(data.get("context_length")),
            missing_live=bool(data.get("missing_live", False)),
            vision=data["vision"] if isinstance(data.get("vision"), bool) else None,
        )


# ---- the built-in catalog ---------------------------------------------------------------


@cache
def _catalog_data() -> dict[str, Any]:
    # Read on first use only, and from the package so it works from a wheel or a zip.
    from importlib.resources import files

    text = files("chatterm").joinpath("data", "catalog.json").read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)  # our own shipped file: its shape is known
    return data


def builtin_catalog(provider_name: str) -> list[ModelInfo]:
    """Fresh ModelInfo objects for the provider's built-in list (only aimlapi has one)."""
    data = _catalog_data()
    if provider_name != data["provider"]:
        return []
    from chatterm.vision import name_takes_images

    # The seed's list is known model by model: the name rule's no is a no (chatterm.vision).
    return [
        ModelInfo(id=m["id"], vendor=m["vendor"], provider=provider_name, kind=m["kind"],
                  context_length=m.get("context_length"), vision=name_takes_images(m["id"]))
        for m in data["models"]
    ]


@cache
def _vendor_aliases() -> dict[str, str]:
    """Lower-case org prefixes and vendor names -> the catalog's vendor spelling, so a live
    model owned by "mistralai" groups with the catalog's "Mistral-AI"."""
    aliases = {
        "alibaba": "Alibaba-Cloud",
        "mistral": "Mistral-AI",
        "openai-internal": "OpenAI",
        "meta": "Meta",
    }
    for model in _catalog_data()["models"]:
        vendor = model["vendor"]
        aliases.setdefault(_fold(vendor), vendor)
        org, slash, _ = model["id"].partition("/")
        if slash:
            aliases.setdefault(_fold(org), vendor)
    return {_fold(key): value for key, value in aliases.items()}


def _fold(name: str) -> str:
    # "Open AI", "open-ai" and "OpenAI" are one vendor.
    return re.sub(r"[^a-z0-9]", "", name.lower())


def canonical_vendor(name: str) -> str:
    return _vendor_aliases().get(_fold(name), name.strip())


# ---- parsing /models answers -------------------------------------------------------------

_CHAT_TYPES = {"openai/chat-completions", "chat-completion", "chat"}
_CHAT_ENDPOINTS = {"/v1/chat/completions", "/chat/completions"}
# Types other servers use for "a text model" without saying whether it chats
# (LM Studio "llm"/"vlm", Together "language").
_GENERIC_TEXT_TYPES = {"llm", "vlm", "language", "model"}
# Owners that name the server, not who made the model.
_GENERIC_OWNERS = {"system", "library", "llamacpp", "user", "organization-owner", "vllm"}
# Ids that plainly are not chat models, for lists that carry no type information.
_NOT_CHAT_ID = re.compile(
    r"embed|whisper|tts|dall-e|moderation|transcribe|realtime|rerank|gpt-image"
    r"|^(?:text-)?(?:davinci|babbage|ada|curie)\b|^sora",
    re.IGNORECASE,
)


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def _items(data: Any) -> list[Any]:
    if isinstance(data, list):
        return data
    if isinstance(data, dict):
        for key in ("data", "models"):  # llama.cpp sends both; "data" is the OpenAI one
            items = data.get(key)
            if isinstance(items, list):
                return items
    raise ModelListFormatError("the model list is not in a known format (no 'data' list)")


def _classify(item: dict[str, Any], model_id: str) -> Kind:
    capabilities = item.get("capabilities")
    if isinstance(capabilities, dict) and "completion_chat" in capabilities:  # Mistral
        return "chat" if capabilities.get("completion_chat") is True else "other"
    model_type = item.get("type")
    model_type = model_type.strip().lower() if isinstance(model_type, str) else None
    endpoints = item.get("endpoints")
    if isinstance(endpoints, list) and any(e in _CHAT_ENDPOINTS for e in endpoints):
        return "moderation" if model_type and "moderation" in model_type else "chat"
    if model_type in _CHAT_TYPES:
        return "chat"
    if model_type in _GENERIC_TEXT_TYPES or (model_type is None and endpoints is None):
        # No usable type information: judge by the id.
        return "other" if _NOT_CHAT_ID.search(model_id) else "chat"
    return "other"


def _vendor(item: dict[str, Any], info: dict[str, Any], model_id: str) -> str:
    developer = info.get("developer")
    if isinstance(developer, str) and developer.strip():
        return canonical_vendor(developer)
    owner = item.get("owned_by")
    if isinstance(owner, str) and owner.strip() and owner.strip().lower() not in _GENERIC_OWNERS:
        return canonical_vendor(owner)
    org, slash, _ = model_id.partition("/")
    if slash and org:
        return canonical_vendor(org)
    return OTHER_VENDOR


def _dict_at(item: dict[str, Any], key: str) -> dict[str, Any]:
    """item[key] when it is an object, else an empty one (servers send anything)."""
    value = item.get(key)
    return value if isinstance(value, dict) else {}


def _context_length(item: dict[str, Any], info: dict[str, Any]) -> int | None:
    meta = _dict_at(item, "meta")
    for source, key in (
        (info, "contextLength"),
        (info, "context_length"),
        (item, "context_length"),
        (item, "max_context_length"),  # Mistral
        (item, "context_window"),
        (meta, "n_ctx_train"),  # llama.cpp
    ):
        value = _as_int(source.get(key))
        if value:
            return value
    return None


def parse_models_response(
    data: Any, provider: str, *, include_non_chat: bool = False
) -> list[ModelInfo]:
    """Chat models from any known `/models` answer shape, as source "live".

    With include_non_chat, the other models come too, with kind "other".
    """
    found: dict[str, ModelInfo] = {}
    for item in _items(data):
        if isinstance(item, str):
            item = {"id": item}
        if not isinstance(item, dict):
            continue
        model_id = next(
            (item[k] for k in ("id", "model", "name") if isinstance(item.get(k), str)), ""
        ).strip()
        if not model_id or model_id in found:
            continue
        kind = _classify(item, model_id)
        if kind == "other" and not include_non_chat:
            continue
        info = _dict_at(item, "info")
        name = info.get("name") if isinstance(info.get("name"), str) else None
        found[model_id] = ModelInfo(
            id=model_id,
            vendor=_vendor(item, info, model_id),
            provider=provider,
            source="live",
            kind=kind,
            name=name,
            context_length=_context_length(item, info),
            vision=_vision(item, model_id),
        )
    return list(found.values())


def _vision(item: dict[str, Any], model_id: str) -> bool | None:
    from chatterm.vision import live_takes_images, name_takes_images

    said = live_takes_images(item)
    # A list that says nothing: the name rule's yes, else not known.
    return said if said is not None else (True if name_takes_images(model_id) else None)


# ---- merging ------------------------------------------------------------------------------


def merge_models(catalog: list[ModelInfo], live: list[ModelInfo] | None, *,
                 flag_missing: bool = True) -> list[ModelInfo]:
    """Catalog entries kept (flagged when a live list lacks them), new live chat models added.

    A catalog entry is flagged `missing_live` only when a live list was actually read and
    names models: `live` None (none obtained) or empty (an answer that lists nothing)
    says nothing about what the server lacks. `flag_missing=False` merges without flags,
    for a list shown before this session has heard from the server.
    """
    flag = flag_missing and bool(live)
    live_by_id = {m.id: m for m in live or []}
    merged: list[ModelInfo] = []
    for entry in catalog:
        seen = live_by_id.get(entry.id)
        copy = ModelInfo.from_dict(entry.to_dict())
        if seen is not None:
            copy.source = "both"
            copy.name = seen.name or copy.name
            copy.context_length = seen.context_length or copy.context_length
            if seen.vision is not None:
                copy.vision = seen.vision
            copy.missing_live = False
        elif flag:
            copy.missing_live = True
        merged.append(copy)
    known = {m.id for m in catalog}
    for model in live or []:
        if model.id not in known and model.kind != "other":
            copy = ModelInfo.from_dict(model.to_dict())
            copy.source = "live"
            merged.append(copy)
    return merged


def group_by_vendor(models: list[ModelInfo]) -> dict[str, list[ModelInfo]]:
    """Vendors in alphabetical order ("Other" last), models by id within each."""
    groups: dict[str, list[ModelInfo]] = {}
    for model in models:
        groups.setdefault(model.vendor, []).append(model)
    order = sorted(groups, key=lambda v: (v == OTHER_VENDOR, v.lower()))
    return {v: sorted(groups[v], key=lambda m: m.id.lower()) for v in order}


def close_matches(model_id: str, models: list[ModelInfo], limit: int = 5) -> list[str]:
    """Ids a mistyped model id probably meant: containing it first, then similar ones."""
    wanted = model_id.strip().lower()
    if not wanted:
        return []
    ids = list(dict.fromkeys(m.id for m in models))
    result = sorted((i for i in ids if wanted in i.lower() and i.lower() != wanted), key=len)
    by_lower: dict[str, str] = {}
    for model_id_ in ids:
        by_lower.setdefault(model_id_.lower(), model_id_)
        # "llama-3.3-70b" should find "meta-llama/Llama-3.3-70B-...": compare the tails too.
        by_lower.setdefault(model_id_.lower().rpartition("/")[2], model_id_)
    for close in difflib.get_close_matches(wanted, list(by_lower), n=limit * 2, cutoff=0.6):
        result.append(by_lower[close])
    unique = [i for i in dict.fromkeys(result) if i.lower() != wanted]
    return unique[:limit]


def unknown_model_hint(provider: str, model: str) -> str:
    """"; did you mean: a, b?" for a model id the server did not know, or "".

    Matches come from the built-in catalog and the provider's last cached live list, so a
    local server with no catalog entries still gets suggestions once it has been listed.
    Both front ends show this through the reply's error (see ChatSession).
    """
    known = builtin_catalog(provider)
    cached = read_cache(provider)
    if cached is not None:
        known = merge_models(known, cached[1])
    matches = close_matches(model, known)
    return f"; did you mean: {', '.join(matches)}?" if matches else ""


# ---- the live-list cache ------------------------------------------------------------------


def _cache_file(provider: str) -> Path:
    from chatterm.locations import cache_dir

    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", provider)
    return cache_dir() / f"models-{safe}.json"


def write_cache(
    provider: str, models: list[ModelInfo], *, base_url: str | None = None,
    fetched_at: float | None = None,
) -> float:
    """Save a live list with its time (atomically, 0600); returns that time."""
    from chatterm.safe_write import ensure_private_dir

    stamp = time.time() if fetched_at is None else fetched_at
    path = _cache_file(provider)
    ensure_private_dir(path.parent)
    payload = {
        "version": CACHE_VERSION,
        "provider": provider,
        "base_url": base_url,
        "fetched_at": stamp,
        "models": [m.to_dict() for m in models],
    }
    from chatterm.safe_write import replace_atomically

    replace_atomically(path, json.dumps(payload).encode("utf-8"))
    return stamp


def read_cache(
    provider: str, *, base_url: str | None = None
) -> tuple[float, list[ModelInfo]] | None:
    """The last cached live list and its time; None when absent, unreadable, or fetched
    from another base_url (the provider was pointed elsewhere since)."""
    try:
        payload = json.loads(_cache_file(provider).read_text(encoding="utf-8"))
        if payload.get("version") != CACHE_VERSION:
            return None
        if base_url is not None and payload.get("base_url") not in (None, base_url):
            return None
        models = [ModelInfo.from_dict(m) for m in payload["models"]]
        return float(payload["fetched_at"]), models
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        # A damaged cache is only a missed optimisation; the catalog still answers.
        return None
