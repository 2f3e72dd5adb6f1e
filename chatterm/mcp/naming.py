"""The names the model sees for the tools of every server.

OpenAI and Mistral take function names matching `^[A-Za-z0-9_-]{1,64}$`. A tool keeps
its own name when it is unique among the servers' tools; when two servers have a tool of
the same name, each of those becomes `server__tool`, so the clash is visible and both
stay callable. A name with other characters has them replaced by `_`; one longer than
64 is cut and ends with a short hash of the whole, so two long names that share their
first 64 characters still differ. The same tools always give the same names.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Iterable

MAX_NAME = 64
_BAD = re.compile(r"[^A-Za-z0-9_-]")


def model_names(tools: Iterable[tuple[str, str]]) -> dict[tuple[str, str], str]:
    """{(server, tool): model-visible name} for each (server, tool), unique and valid."""
    pairs = list(dict.fromkeys(tools))
    counts = Counter(clean(tool) for _server, tool in pairs)
    names: dict[tuple[str, str], str] = {}
    for server, tool in pairs:
        own = clean(tool)
        names[(server, tool)] = own if counts[own] == 1 else clean(f"{server}__{tool}")
    # Cleaning can still make two different names one ("a.b" and "a_b" on one server):
    # the later ones get a hash of their original, which is what told them apart.
    seen: set[str] = set()
    for key in names:
        name = names[key]
        if name in seen:
            name = _with_hash(name, "\0".join(key))
        seen.add(name)
        names[key] = name
    return names


def clean(name: str) -> str:
    """`name` with every character a function name cannot hold replaced, at most 64 long."""
    cleaned = _BAD.sub("_", name) or "tool"
    return _with_hash(cleaned, name) if len(cleaned) > MAX_NAME else cleaned


def _with_hash(name: str, original: str) -> str:
    digest = hashlib.sha256(original.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    return f"{name[: MAX_NAME - 9]}_{digest}"
