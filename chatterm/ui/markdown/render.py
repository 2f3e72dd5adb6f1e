"""Turn one `Block` into terminal lines (lists of Rich segments).

Each block is rasterised on its own, once per width; the caller keeps the lines.
Links are rendered as plain "text (url)" — never as OSC 8 terminal hyperlinks —
and every rendered segment is scrubbed of control characters.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, ClassVar

from markdown_it import MarkdownIt
from pygments.lexer import Lexer
from pygments.lexers import get_lexer_by_name
from pygments.token import Token as PygmentsToken
from pygments.util import ClassNotFound
from rich.console import Console, ConsoleOptions, JustifyMethod, RenderableType
from rich.markdown import Heading, Markdown, MarkdownElement
from rich.segment import Segment
from rich.style import Style
from rich.syntax import Syntax

from chatterm.ui.markdown.blocks import Block, clean_output


class _LeftHeading(Heading):
    # Rich centres h1; in a chat column a centred heading reads like a banner.
    LEVEL_ALIGN: ClassVar[dict[str, JustifyMethod]] = {
        f"h{level}": "left" for level in range(1, 7)
    }


_PARSER = MarkdownIt("commonmark").enable(["strikethrough", "table"])


class ChatMarkdown(Markdown):
    """Rich Markdown with left-aligned headings and a shared parser.

    Rich builds a new MarkdownIt for every Markdown object, which costs more than
    parsing a paragraph; the open block is re-rendered many times per reply.
    """

    elements: ClassVar[dict[str, type[MarkdownElement]]] = {
        **Markdown.elements, "heading_open": _LeftHeading}

    def __init__(self, markup: str, code_theme: str) -> None:
        # Same attributes Markdown.__init__ sets, minus the per-object parser.
        self.markup = markup
        self.parsed = _PARSER.parse(markup)
        self.code_theme = code_theme
        self.justify = None
        self.style = "none"
        self.hyperlinks = False  # links render as "text (url)", never OSC 8
        self.inline_code_lexer = None
        self.inline_code_theme = code_theme


@lru_cache(maxsize=64)
def _lexer(name: str) -> Lexer | None:
    # Looking a lexer up by name scans Pygments' registry; a reply streams the same
    # language hundreds of times, so resolve each name once.
    try:
        return get_lexer_by_name(name or "text", stripnl=False, ensurenl=True)
    except ClassNotFound:
        return None


@lru_cache(maxsize=8)
def _palette(code_theme: str) -> tuple[Style, dict[Any, Style]]:
    theme = Syntax.get_theme(code_theme)
    return theme.get_background_style(), {}


def _token_style(code_theme: str, token_type: Any) -> Style:
    background, styles = _palette(code_theme)
    style = styles.get(token_type)
    if style is None:
        theme = Syntax.get_theme(code_theme)
        style = styles[token_type] = background + theme.get_style_for_token(token_type)
    return style


def code_lines(block: Block, width: int, code_theme: str) -> list[list[Segment]]:
    """Highlight a code block straight into padded lines.

    Rich's Syntax does the same but costs several times more (padding and
    wrapping go through generic layout code); code is the bulk of what a streamed
    reply re-renders, so this path is kept lean. One cell of padding left and
    right; a blank padding line above/below only if `block.top`/`block.bottom`.
    """
    background, _styles = _palette(code_theme)
    code = block.source.expandtabs(4)
    lexer = _lexer(block.lexer.lower())
    tokens = lexer.get_tokens(code) if lexer is not None else [(PygmentsToken.Text, code + "\n")]
    lines: list[list[Segment]] = [[]]
    for token_type, value in tokens:
        style = _token_style(code_theme, token_type)
        first, *rest = value.split("\n")
        if first:
            lines[-1].append(Segment(first, style))
        for part in rest:
            lines.append([Segment(part, style)] if part else [])
    if not lines[-1]:  # the lexer's closing newline
        lines.pop()
    inner = max(width - 2, 1)
    pad = Segment(" ", background)
    out: list[list[Segment]] = []
    if block.top:
        out.append([Segment(" " * width, background)])
    for line in lines:
        length = Segment.get_line_length(line)
        pieces = (
            Segment.divide(line, range(inner, length + inner, inner)) if length > inner else [line]
        )
        for piece in pieces:
            used = Segment.get_line_length(piece)
            out.append([pad, *piece, Segment(" " * (inner - used), background), pad])
    if block.bottom:
        out.append([Segment(" " * width, background)])
    if width < 3:  # too narrow for the padding: crop to the width we were given
        out = [Segment.adjust_line_length(line, width) for line in out]
    return out


def block_renderable(block: Block, code_theme: str) -> RenderableType:
    """A Rich renderable for `block` (top-level code goes through `code_lines`)."""
    if block.kind == "code":
        return Syntax(
            block.source,
            _lexer(block.lexer.lower()) or "text",
            theme=code_theme,
            word_wrap=True,
            padding=(1 if block.top else 0, 1, 1 if block.bottom else 0, 1),
        )
    return ChatMarkdown(block.source, code_theme)


Line = list[Segment]
"""One terminal line, exactly `width` cells wide."""


def _safe_line(line: list[Segment], width: int) -> Line:
    cleaned: Line = []
    changed = False
    for text, style, control in line:
        if control:  # cursor movement etc. never goes to the screen
            changed = True
            continue
        safe = clean_output(text)
        if safe != text:
            changed = True
        cleaned.append(Segment(safe, style))
    # A control character replaced by a visible picture is one cell wider.
    return Segment.adjust_line_length(cleaned, width) if changed else cleaned


def rasterize(
    block: Block, width: int, console: Console, options: ConsoleOptions, code_theme: str
) -> list[Line]:
    """Render `block` at `width` cells into padded, sanitised lines."""
    if block.kind == "code":
        return [_safe_line(line, width) for line in code_lines(block, width, code_theme)]
    render_options = options.update(width=width, height=None, highlight=False)
    lines = console.render_lines(
        block_renderable(block, code_theme), render_options, pad=True, new_lines=False
    )
    if block.kind == "markdown":
        # Rich pads lists, tables and quotes with empty lines of their own; the widget
        # draws the gaps between blocks itself, so trim them for even spacing.
        start, end = 0, len(lines)
        while start < end and _is_blank(lines[start]):
            start += 1
        while end > start and _is_blank(lines[end - 1]):
            end -= 1
        lines = lines[start:end]
    return [_safe_line(line, width) for line in lines]


def _is_blank(line: list[Segment]) -> bool:
    # A line of spaces on a background (a code block's padding) is not blank.
    return all(
        not text.strip() and (style is None or style.bgcolor is None)
        for text, style, _control in line
    )
