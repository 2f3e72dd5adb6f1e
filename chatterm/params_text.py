"""Sampling parameters and stop sequences as typed in a form: text in, Params out.

No UI here, so the parsing is tested without Textual and any front end can share it.
The ranges are the config's (config rules), and each error names the field in one line.
"""

from __future__ import annotations

from dataclasses import replace

from chatterm.conversation import Params


class ParamsError(ValueError):
    """One field of the parameters form is invalid; the message is shown as is."""


def _number(text: str, label: str, low: float, high: float, *,
            low_open: bool = False) -> float | None:
    """The same ranges as the config (`low_open`: above `low`, as top_p must be)."""
    text = text.strip()
    if not text:
        return None
    span = f"{'above' if low_open else 'from'} {low:g} up to {high:g}"
    try:
        value = float(text)
    except ValueError:
        raise ParamsError(f"{label} must be a number {span} (got {text!r}).") from None
    if not low <= value <= high or (low_open and value == low):
        raise ParamsError(f"{label} must be {span} (got {text}).")
    return value


def _integer(text: str, label: str, low: int) -> int | None:
    text = text.strip()
    if not text:
        return None
    try:
        value = int(text)
    except ValueError:
        raise ParamsError(f"{label} must be a whole number (got {text!r}).") from None
    if value < low:
        raise ParamsError(f"{label} must be at least {low} (got {value}).")
    return value


_ESCAPES = {"n": "\n", "t": "\t", "\\": "\\", ",": ","}


def _unescape(text: str) -> str:
    out: list[str] = []
    chars = iter(text)
    for ch in chars:
        if ch == "\\":
            nxt = next(chars, "")
            out.append(_ESCAPES.get(nxt, "\\" + nxt))
        else:
            out.append(ch)
    return "".join(out)


def parse_stop(text: str) -> list[str]:
    """Stop sequences typed one per line, or comma separated on one line.

    Escapes let a sequence hold what the separators would eat: \\n newline, \\t tab,
    \\, comma, \\\\ backslash. Surrounding spaces are dropped; blanks are skipped.
    """
    if "\n" in text.strip():
        pieces = text.splitlines()
    else:
        # Split on commas that are not escaped.
        pieces, current, escaped = [], [], False
        for ch in text:
            if escaped:
                current.append("\\" + ch)
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == ",":
                pieces.append("".join(current))
                current = []
            else:
                current.append(ch)
        if escaped:
            current.append("\\")
        pieces.append("".join(current))
    return [_unescape(piece.strip()) for piece in pieces if piece.strip()]


def format_stop(stop: list[str]) -> str:
    """The inverse of parse_stop, for showing saved stop sequences in the form."""
    def escape(sequence: str) -> str:
        return (sequence.replace("\\", "\\\\").replace("\n", "\\n").replace("\t", "\\t")
                .replace(",", "\\,"))

    return ", ".join(escape(s) for s in stop)


def parse_params(
    base: Params, *, temperature: str, top_p: str, max_tokens: str, stop: str, seed: str,
    safe_prompt: bool | None,
) -> Params:
    """The form's text turned into Params; ParamsError names the first bad field."""
    return replace(
        base,
        temperature=_number(temperature, "Temperature", 0, 2),
        top_p=_number(top_p, "Top P", 0, 1, low_open=True),
        max_tokens=_integer(max_tokens, "Max tokens", 1),
        stop=parse_stop(stop),
        seed=_integer(seed, "Seed", 0),
        safe_prompt=base.safe_prompt if safe_prompt is None else safe_prompt,
    )
