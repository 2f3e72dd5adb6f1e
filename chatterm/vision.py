"""Which models take images: True, False, or None (not known).

Two sources, the live one first:
- a provider's `/models` answer, where it says so: OpenRouter's
  `architecture.input_modalities` (or `architecture.modality` "text+image->text"),
  Mistral's `capabilities.vision`, a top-level `input_modalities` or
  `modalities.input` list, LM Studio's `type: "vlm"`, and a `capabilities` or `features`
  list naming vision (Ollama's "vision", AI/ML API's "...chat-completion.vision");
- the model's name (the rule below), for catalog entries and lists that say nothing.

The name rule (on the id after its last "/", case-insensitive) says True for: a name with
"vision", "-vl", "llava" or "pixtral"; GPT-4o (and chatgpt-4o), GPT-4.1, GPT-4.5, GPT-5,
GPT-4 Turbo (not the -preview ones), o1 (not o1-mini or o1-preview), o3 and o4 (not
o3-mini); Gemini (not gemini-pro, which is 1.0); Claude 3 and later; Gemma 3 and later;
Llama 4. A name in the built-in catalog that the rule does not take is known not to
(False): the catalog is the seed's list, read model by model. Anything else: None.

Catalogs lag behind providers, so a False or None never stops an image from being sent:
the CLI warns, the app asks first.
"""

from __future__ import annotations

import re
from typing import Any

_TAKES_IMAGES = re.compile(
    r"vision|-vl\b|-vl-|llava|pixtral"
    r"|^(?:chat)?gpt-4o|^gpt-4\.[15]|^gpt-5|^gpt-4-turbo(?!-preview)"
    r"|^o1(?!-mini|-preview)\b|^o3(?!-mini)\b|^o4\b"
    r"|^gemini-(?!pro\b|1\.0)|^claude-(?:3|[a-z]+-[4-9])|^claude-[4-9]"
    r"|^gemma-?[3-9]|^llama-4",
    re.IGNORECASE,
)


def name_takes_images(model_id: str) -> bool:
    """The name rule of the module docstring (True, or False when it does not match)."""
    return bool(_TAKES_IMAGES.search(model_id.rpartition("/")[2]))


def live_takes_images(item: dict[str, Any]) -> bool | None:
    """What one `/models` entry says about image input; None when it says nothing."""
    architecture = item.get("architecture")
    if isinstance(architecture, dict):
        said = _modalities(architecture.get("input_modalities"))
        if said is not None:
            return said
        modality = architecture.get("modality")
        if isinstance(modality, str) and "->" in modality:
            return "image" in modality.partition("->")[0]
    capabilities = item.get("capabilities")
    if isinstance(capabilities, dict) and isinstance(capabilities.get("vision"), bool):
        return bool(capabilities["vision"])  # Mistral
    modalities = item.get("modalities")
    for said in (_modalities(item.get("input_modalities")),
                 _modalities(modalities.get("input")) if isinstance(modalities, dict)
                 else None):
        if said is not None:
            return said
    if item.get("type") == "vlm":  # LM Studio: a vision language model
        return True
    for key in ("capabilities", "features"):
        names = item.get(key)
        if isinstance(names, list) and any(
                isinstance(name, str) and re.search(r"(?:^|[./_-])vision$", name.lower())
                for name in names):
            return True
    return None


def _modalities(value: Any) -> bool | None:
    if isinstance(value, list) and all(isinstance(v, str) for v in value) and value:
        return "image" in (v.lower() for v in value)
    return None


def takes_images(provider: str, model: str) -> bool | None:
    """Whether `model` on `provider` takes images: the provider's last cached live list
    first (where it says), then the built-in catalog and the name rule."""
    from chatterm.catalog import builtin_catalog, read_cache

    cached = read_cache(provider)
    if cached is not None:
        for info in cached[1]:
            if info.id == model and info.vision is not None:
                return info.vision
    if name_takes_images(model):
        return True
    if any(info.id == model for info in builtin_catalog(provider)):
        return False
    return None
