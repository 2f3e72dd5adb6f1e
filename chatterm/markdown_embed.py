"""Putting message text inside the Markdown export without letting it change the export.

The export's own structure is a `#` title and one `##` heading per message. Text from a
model (or pasted by the user) is Markdown too, and two things in it could break that:

- a code fence left open (a reply interrupted mid-code) would turn the rest of the
  document into code, so an open fence is closed where the message ends;
- a heading of level 1 or 2 (`## User`, or a line underlined with `===`/`---`) would read
  as a heading of the export, so headings move down two levels (`##` -> `####`) and a
  line that would underline a paragraph into a heading is set off by a blank line.

Only the (CommonMark) top level is tracked: a fence indented inside a list item or a
quote ends with its container, which the export's next line always closes.
"""

from __future__ import annotations

import re

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})(.*)$")
_ATX = re.compile(r"^( {0,3})(#{1,6})(?=[ \t]|$)")
_UNDERLINE = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_DEMOTE = 2


def embed(text: str) -> str:
    """`text` made safe to place under one of the export's `##` headings."""
    out: list[str] = []
    fence: str | None = None  # the opening run (e.g. "````") while inside a fence
    paragraph = False  # the previous line continues a paragraph (could be underlined)
    for line in text.splitlines():
        if fence is not None:
            out.append(line)
            if _closes(line, fence):
                fence = None
            continue
        opening = _FENCE.match(line)
        if opening and not (opening[1][0] == "`" and "`" in opening[2]):
            fence = opening[1]
            out.append(line)
            paragraph = False
            continue
        heading = _ATX.match(line)
        if heading:
            level = min(6, len(heading[2]) + _DEMOTE)
            out.append(heading[1] + "#" * level + line[heading.end():])
            paragraph = False
            continue
        if paragraph and _UNDERLINE.match(line):
            out.append("")  # `text\n---` is a level-2 heading; `text\n\n---` is a rule
        out.append(line)
        paragraph = bool(line.strip()) and not line.startswith("    ")
    if fence is not None:
        out.append(fence)
    return "\n".join(out)


def _closes(line: str, fence: str) -> bool:
    stripped = line.lstrip(" ")
    if len(line) - len(stripped) > 3:
        return False
    run = len(stripped) - len(stripped.lstrip(fence[0]))
    return run >= len(fence) and not stripped[run:].strip()
