"""Finite numbers only: NaN and infinities never enter a conversation, a request or a file.

JSON has no NaN or Infinity, but Python's json reads `NaN`, `Infinity` and `1e999`
(as inf) and writes them back, and TOML has `nan` and `inf`. Stored in a conversation, a
NaN temperature made every later request fail to encode, and an infinite cost made an
export that `import` refuses. Values read from outside (servers, the store, old files)
go through these helpers; values typed by the user are refused with one line instead.
"""

from __future__ import annotations

import math
from typing import Any


def is_finite_number(value: Any) -> bool:
    """An int or float (not a bool) that is neither NaN nor infinite."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return isinstance(value, int) or math.isfinite(value)


def finite_or_none(value: Any) -> float | int | None:
    """`value` if it is a finite number, else None."""
    return value if is_finite_number(value) else None


def int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def finite_json(value: Any) -> Any:
    """`value` (parsed JSON) with every NaN or infinite float replaced by None."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: finite_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [finite_json(item) for item in value]
    return value
