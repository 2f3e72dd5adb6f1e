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
# CommonMark HTML blocks of kinds 1-5 run until their own closer, not a blank line, so
# one left open (`<pre>`, `<!--`) would swallow the rest of the export: closed at the end.
_HTML_OPEN = (
    (re.compile(r"^ {0,3}<(pre|script|style|textarea)(\s|>|$)", re.IGNORECASE), None),
    (re.compile(r"^ {0,3}<!--"), "-->"),
    (re.compile(r"^ {0,3}<\?"), "?>"),
    (re.compile(r"^ {0,3}<![A-Za-z]"), ">"),
    (re.compile(r"^ {0,3}<!\[CDATA\["), "]]>"),
)


def embed(text: str) -> str:
    """`text` made safe to place under one of the export's `##` headings."""
    out: list[str] = []
    fence: str | None = None  # the opening run (e.g. "````") while inside a fence
    paragraph = False  # the previous line continues a paragraph (could be underlined)
    html: str | None = None  # the closer of an open HTML block
    for line in text.splitlines():
        if html is not None:
            out.append(line)
            if html.lower() in line.lower():
                html = None
            continue
        if fence is None and (closer := _html_block(line)) is not None:
            out.append(line)
            if closer.lower() not in line.lower()[4:]:
                html = closer
            paragraph = False
            continue
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
    if html is not None:
        out.append(html)
    return "\n".join(out)


def _html_block(line: str) -> str | None:
    """The closer of the HTML block `line` starts (kinds 1-5), or None."""
    for pattern, closer in _HTML_OPEN:
        found = pattern.match(line)
        if found:
            return closer if closer is not None else f"</{found[1].lower()}>"
    return None


def _closes(line: str, fence: str) -> bool:
    stripped = line.lstrip(" ")
    if len(line) - len(stripped) > 3:
        return False
    run = len(stripped) - len(stripped.lstrip(fence[0]))
    return run >= len(fence) and not stripped[run:].strip()
