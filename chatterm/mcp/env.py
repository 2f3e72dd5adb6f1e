"""The environment a stdio server process gets: a minimal one, plus the server's `env`.

Never the whole of ours: it holds the provider keys (OPENAI_API_KEY, MISTRAL_API_KEY,
...) and whatever else the user exported, and a tool server is third-party code that
needs none of it. What is passed is what a program needs to run and to behave like the
user's shell (find programs, a home, a locale, a terminal type, a temp dir, a zone).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping

PASSED = ("PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG", "TERM", "TMPDIR", "TZ")


def server_environment(extra: Iterable[tuple[str, str]],
                       source: Mapping[str, str] | None = None) -> dict[str, str]:
    """The minimal environment taken from `source` (os.environ), with `extra` over it."""
    source = os.environ if source is None else source
    env = {name: value for name, value in source.items()
           if (name in PASSED or name.startswith("LC_"))
           # A bash-exported function (`BASH_FUNC_x%%` or a value starting "() {") is
           # code, not a setting: never handed on.
           and not value.startswith("() {")}
    env.update(extra)
    return env
