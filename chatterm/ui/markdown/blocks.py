"""Split streamed Markdown into top-level blocks that can be frozen once finished.

This module is pure Python (markdown-it only, no Textual) so the splitting rules can
be tested and reasoned about on their own. `BlockSplitter` keeps only the *open tail*
of the text: everything before it has been handed out as finished blocks and is
never parsed again, which is what keeps the cost per token flat as a reply grows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from markdown_it import MarkdownIt
from markdown_it.token import Token

from chatterm.sanitize import neutralise

CODE_CHUNK_LINES = 8
"""Finished lines of an open code fence are frozen in pieces of this many lines."""

LIST_RUN_ITEMS = 8
"""Finished items of an open top-level list are frozen in runs of this many items."""

BlockKind = Literal["markdown", "code"]


@dataclass(frozen=True, slots=True)
class Block:
    """One piece of the rendered reply.

    `kind == "code"`: `source` is the code itself (fence markers removed) and `lexer`
    names the language; `top`/`bottom` say whether this piece carries the fence's
    top/bottom padding (a fence frozen in pieces only has padding at its two ends).
    `joined` means the piece continues the previous one, so no gap is drawn between.
    """

    kind: BlockKind
    source: str
    lexer: str = ""
    joined: bool = False
    top: bool = True
    bottom: bool = True


# --- control characters -------------------------------------------------------------

# Rendered output must not contain \t or \n either: a stray one would break the cell
# arithmetic of the terminal line it lands on.
_OUTPUT_SPACES = str.maketrans({"\t": " ", "\n": " "})


def clean_source(text: str) -> str:
    """The source as the parser reads it: a \\r is dropped, so CRLF reads as LF.

    Model text reaches this widget already inert: it went through chatterm.sanitize
    once, where it entered the app (chatterm/ui/inert.py), which also made every line
    end \\n. So a \\r arrives only when the widget is fed directly (tests,
    benchmarks). Character by character, so chunks cleaned apart equal the whole.
    """
    return text.replace("\r", "")


def clean_output(text: str) -> str:
    """The renderer's own output made inert: Markdown entities such as `&#27;` decode
    to control characters only while parsing, after the text was neutralised, so each
    rendered segment is checked again (a segment with no control character is
    returned as it is)."""
    return neutralise(text).translate(_OUTPUT_SPACES)


# --- parsing ------------------------------------------------------------------------

def _block_parser() -> MarkdownIt:
    # Same dialect as rich's Markdown (CommonMark + tables + strikethrough), block
    # rules only: inline parsing is not needed to find block boundaries.
    return MarkdownIt("commonmark").enable(["strikethrough", "table"]).disable("inline")


_PARSER = _block_parser()


@dataclass(slots=True)
class _Top:
    """A top-level block found by markdown-it: its opening token and line range."""

    index: int
    token: Token
    start: int
    end: int


@dataclass(slots=True)
class _Parsed:
    lines: list[str]
    complete: int  # number of lines that end with a newline
    tokens: list[Token]
    tops: list[_Top]


def _parse(source: str) -> _Parsed:
    lines = source.splitlines(keepends=True)
    complete = len(lines) if source.endswith("\n") else len(lines) - 1
    tokens = _PARSER.parse(source)
    tops = [
        _Top(i, token, token.map[0], token.map[1])
        for i, token in enumerate(tokens)
        if token.level == 0 and token.map
    ]
    return _Parsed(lines, complete, tokens, tops)


def _lexer_of(token: Token) -> str:
    return token.info.strip().partition(" ")[0]


def _is_unterminated_fence(top: _Top, lines: list[str]) -> bool:
    token = top.token
    if token.type != "fence":
        return False
    if top.end - top.start < 2:
        return True
    closing = lines[top.end - 1].strip()
    marker = token.markup[0]
    return not (
        len(closing) >= len(token.markup) and closing == marker * len(closing)
    )


def _fence_code(token: Token) -> str:
    return token.content.rstrip("\n")


def _as_block(top: _Top, lines: list[str], joined: bool = False) -> Block:
    token = top.token
    if token.type == "fence":
        return Block("code", _fence_code(token), _lexer_of(token), joined=joined, top=not joined)
    return Block("markdown", "".join(lines[top.start : top.end]).rstrip(), joined=joined)


def final_blocks(text: str) -> list[Block]:
    """The blocks of a finished reply, parsed in one go (no pieces, no open tail)."""
    parsed = _parse(clean_source(text))
    return [_as_block(top, parsed.lines) for top in parsed.tops]


class BlockSplitter:
    """Incrementally turns streamed text into finished blocks plus an open tail.

    `feed()` appends text; `split()` returns the blocks that became final since the
    last call (each exactly once) and the blocks of the still-open tail (which the
    caller re-renders). Text fed here must already be cleaned (`clean_source`).
    """

    def __init__(self) -> None:
        self._tail = ""
        # While a long fence is frozen in pieces, the tail no longer holds its opening
        # line; `_prefix` re-supplies it so markdown-it still sees a fence.
        self._prefix = ""
        # "fence"/"list" while the open block continues pieces already handed out.
        self._continuing: Literal["fence", "list"] | None = None

    @property
    def tail(self) -> str:
        """The text not yet handed out as finished (bounded by the open block)."""
        return self._tail

    def feed(self, text: str) -> None:
        self._tail += text

    def split(self) -> tuple[list[Block], list[Block]]:
        finished: list[Block] = []
        parsed = _parse(self._prefix + self._tail)
        # A block is final once its successor starts on a complete line: characters
        # still arriving on the last line can no longer change where it ends.
        settled = sum(1 for top in parsed.tops if top.start < parsed.complete)
        if settled > 1:
            for top in parsed.tops[: settled - 1]:
                finished.append(self._finish_top(top, parsed.lines))
            self._cut(parsed.lines, parsed.tops[settled - 1].start)
            parsed = _parse(self._prefix + self._tail)
        if parsed.tops:
            piece = self._split_open(parsed)
            if piece is not None:
                finished.append(piece)
                parsed = _parse(self._prefix + self._tail)
        return finished, self._open_blocks(parsed)

    # -- helpers -------------------------------------------------------------------

    def _finish_top(self, top: _Top, lines: list[str]) -> Block:
        joined = self._continuing is not None
        self._continuing = None
        return _as_block(top, lines, joined=joined)

    def _cut(self, lines: list[str], start_line: int) -> None:
        """Drop everything before `start_line` of `prefix + tail` from the tail."""
        offset = sum(len(line) for line in lines[:start_line])
        if self._prefix:
            if start_line == 0:
                return
            offset -= len(self._prefix)
            self._prefix = ""
        self._tail = self._tail[offset:]

    def _split_open(self, parsed: _Parsed) -> Block | None:
        """Freeze a finished piece of the open block if it is a long fence or list."""
        top = parsed.tops[0]
        if _is_unterminated_fence(top, parsed.lines):
            return self._split_fence(top, parsed)
        if top.token.type in ("bullet_list_open", "ordered_list_open"):
            return self._split_list(top, parsed)
        return None

    def _split_fence(self, top: _Top, parsed: _Parsed) -> Block | None:
        done = parsed.complete - (top.start + 1)  # finished code lines after the opener
        take = (done // CODE_CHUNK_LINES) * CODE_CHUNK_LINES
        if take <= 0:
            return None
        code_lines = _fence_code(top.token).split("\n")[:take]
        joined = self._continuing == "fence"
        piece = Block("code", "\n".join(code_lines), _lexer_of(top.token),
                      joined=joined, top=not joined, bottom=False)
        opener = parsed.lines[top.start]
        self._cut(parsed.lines, top.start + 1 + take)
        # After the cut the tail starts inside the fence, so the opener is re-supplied.
        self._prefix = opener if opener.endswith("\n") else opener + "\n"
        self._continuing = "fence"
        return piece

    def _split_list(self, top: _Top, parsed: _Parsed) -> Block | None:
        items = [
            token.map[0]
            for token in parsed.tokens[top.index :]
            if token.type == "list_item_open" and token.level == 1 and token.map
        ]
        # An item is finished once the next item starts on a complete line.
        finished_items = sum(1 for start in items[1:] if start < parsed.complete)
        take = (finished_items // LIST_RUN_ITEMS) * LIST_RUN_ITEMS
        if take <= 0:
            return None
        cut_line = items[take]
        joined = self._continuing == "list"
        source = "".join(parsed.lines[top.start : cut_line]).rstrip()
        self._cut(parsed.lines, cut_line)
        self._continuing = "list"
        return Block("markdown", source, joined=joined)

    def _open_blocks(self, parsed: _Parsed) -> list[Block]:
        """The open tail as blocks, shaped exactly as they will be once frozen."""
        blocks: list[Block] = []
        for position, top in enumerate(parsed.tops):
            joined = position == 0 and self._continuing is not None
            blocks.append(_as_block(top, parsed.lines, joined=joined))
        return blocks
