"""The JSON body of a chat/completions request, in the dialect of the provider's kind."""

from __future__ import annotations

from typing import Any

from chatterm.api.types import ApiError, ChatRequest
from chatterm.providers import ProviderConfig
from chatterm.text_parts import mend_surrogates


def build_payload(provider: ProviderConfig, request: ChatRequest) -> dict[str, Any]:
    """Only set parameters are sent, so the server's defaults apply to the rest.

    Raises ApiError (before any request is made) when the request asks for a feature
    the provider's kind does not have.
    """
    mistral = provider.kind == "mistral"
    params = request.params
    # A lone surrogate (undecodable bytes in argv or a file) cannot be encoded as UTF-8:
    # sent as U+FFFD rather than failing the request with UnicodeEncodeError.
    messages = [{key: mend_surrogates(value) if isinstance(value, str) else value
                 for key, value in m.items()} for m in request.messages]
    if request.prefix:
        if not provider.supports_prefix:
            raise ApiError(
                f"{provider.name} does not support a reply prefix; only providers of kind "
                f"\"mistral\" do (set kind = \"mistral\" for this provider if it is one)",
                provider=provider.name,
                url=provider.base_url,
            )
        messages.append({"role": "assistant", "content": request.prefix, "prefix": True})

    payload: dict[str, Any] = {
        "model": request.model,
        "messages": messages,
        "stream": request.stream,
    }
    # Mistral's API rejects fields it does not know and reports usage on the last chunk
    # anyway, so stream_options is only sent to OpenAI-style servers.
    if request.tools:
        payload["tools"] = request.tools
    if request.stream and not mistral:
        payload["stream_options"] = {"include_usage": True}
    if params.temperature is not None:
        payload["temperature"] = params.temperature
    if params.top_p is not None:
        payload["top_p"] = params.top_p
    if params.max_tokens is not None:
        payload["max_tokens"] = params.max_tokens
    if params.stop:
        payload["stop"] = list(params.stop)
    if params.seed is not None:
        payload["random_seed" if mistral else "seed"] = params.seed
    if mistral and params.safe_prompt:
        payload["safe_prompt"] = True
    return payload


def ignored_params(provider: ProviderConfig, request: ChatRequest) -> list[str]:
    """Parameters the request sets that build_payload leaves out for this provider."""
    ignored = []
    if request.params.safe_prompt and provider.kind != "mistral":
        ignored.append("safe_prompt")
    return ignored
