"""Provider settings and the providers chatterm knows without any config."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

ProviderKind = Literal["openai", "mistral"]

# Headers whose values are never secrets. Any other configured header may carry one
# (`X-Goog-Api-Client`, `X-Custom-Auth`, `Cf-Access-Jwt`…), so it is masked and redacted.
PUBLIC_HEADERS = frozenset({
    "accept", "accept-language", "content-type", "user-agent", "referer", "http-referer",
    "x-title", "openai-beta", "openai-organization", "openai-project", "anthropic-version",
})


def is_public_header(name: str) -> bool:
    return name.strip().lower() in PUBLIC_HEADERS


# RFC 9110 "token": the only characters a header name may hold.
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")


def header_name_problem(name: str) -> str | None:
    """Why `name` cannot be sent as an HTTP header name, or None when it can."""
    if not _HEADER_NAME.fullmatch(name):
        return (f"{name[:40]!r} is not a valid HTTP header name (only letters, digits "
                "and !#$%&'*+-.^_`|~ are allowed: no spaces, colons or accents)")
    return None


@dataclass(slots=True)
class ProviderConfig:
    name: str
    base_url: str
    kind: ProviderKind = "openai"
    api_key_env: str | None = None
    api_key: str | None = None
    api_key_command: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    connect_timeout: float = 10.0
    # The longest silence allowed between two bytes of a reply, not a total deadline.
    read_timeout: float = 60.0
    max_retries: int = 3
    default_model: str | None = None

    @property
    def needs_key(self) -> bool:
        return bool(self.api_key_env or self.api_key or self.api_key_command)

    @property
    def supports_prefix(self) -> bool:
        return self.kind == "mistral"

    @property
    def secret_values(self) -> list[str]:
        """What in this provider's settings is secret besides the key itself."""
        values = [v for k, v in self.headers.items() if not is_public_header(k)]
        return [v for v in (self.api_key, self.url_userinfo, *values) if v]

    @property
    def url_userinfo(self) -> str | None:
        """The `user:password` part of base_url, if any: a secret like the key."""
        authority = self.base_url.partition("://")[2].partition("/")[0]
        return authority.rsplit("@", 1)[0] if "@" in authority else None

    @property
    def shown_url(self) -> str:
        """base_url as messages may show it, without its user:password part."""
        userinfo = self.url_userinfo
        return self.base_url.replace(userinfo + "@", "…@", 1) if userinfo else self.base_url


DEFAULT_PROVIDER = "aimlapi"


def builtin_providers() -> dict[str, ProviderConfig]:
    """Fresh copies each call, so a caller's edits never leak into another's."""
    return {
        "aimlapi": ProviderConfig(
            name="aimlapi",
            base_url="https://api.aimlapi.com/v1",
            api_key_env="AIMLAPI_API_KEY",
            default_model="gpt-4o-mini",
        ),
        "mistral": ProviderConfig(
            name="mistral",
            base_url="https://api.mistral.ai/v1",
            kind="mistral",
            api_key_env="MISTRAL_API_KEY",
            default_model="mistral-small-latest",
        ),
        "openai": ProviderConfig(
            name="openai",
            base_url="https://api.openai.com/v1",
            api_key_env="OPENAI_API_KEY",
            default_model="gpt-4o-mini",
        ),
        "ollama": ProviderConfig(
            name="ollama",
            base_url="http://localhost:11434/v1",
            default_model="llama3.2",
        ),
    }
