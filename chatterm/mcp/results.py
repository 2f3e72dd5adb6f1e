"""A tool's CallToolResult as the text kept in the conversation and sent to the model.

Text blocks are joined by blank lines; an embedded text resource is its text; binary
content (an image, audio, a blob) cannot go to a chat model as a tool result's text, so
it is named with its type and size instead ("[image: image/png, 12 KB]"); a resource
link is its URI. A result with no blocks but structured content is that content as JSON.
Read by attribute, so this module needs the SDK's types at no point.
"""

from __future__ import annotations

import json
from typing import Any

from chatterm.toolbox import ToolOutcome, ToolResult


def result_text(result: Any) -> str:
    parts = [part for block in (getattr(result, "content", None) or [])
             if (part := _block_text(block))]
    if not parts:
        structured = getattr(result, "structured_content", None)
        if structured is not None:
            return json.dumps(structured, ensure_ascii=False, indent=2)
    return "\n\n".join(parts)


def tool_result(result: Any) -> ToolResult:
    """The ToolResult of a CallToolResult: ERROR when the server set isError."""
    text = result_text(result)
    if getattr(result, "is_error", False):
        first = next((line.strip() for line in text.splitlines() if line.strip()), "")
        return ToolResult(text or "The tool failed without saying why.", ToolOutcome.ERROR,
                          _one_line(first) or "the tool reported an error")
    return ToolResult(text)


def _block_text(block: Any) -> str:
    kind = getattr(block, "type", None)
    if kind == "text":
        return str(getattr(block, "text", ""))
    if kind in ("image", "audio"):
        return f"[{kind}: {getattr(block, 'mime_type', '?')}, {_size(getattr(block, 'data', ''))}]"
    if kind == "resource":
        resource = getattr(block, "resource", None)
        text = getattr(resource, "text", None)
        if isinstance(text, str):
            return text
        mime = getattr(resource, "mime_type", None) or "binary"
        return f"[resource {getattr(resource, 'uri', '')}: {mime}, " \
               f"{_size(getattr(resource, 'blob', ''))}]"
    if kind == "resource_link":
        return f"[resource link: {getattr(block, 'uri', '')}]"
    return f"[{kind or 'unknown'} content]"


def _size(base64_data: str) -> str:
    raw = len(base64_data) * 3 // 4  # base64: 4 characters per 3 bytes
    if raw < 1024:
        return f"{raw} B"
    if raw < 1024 * 1024:
        return f"{round(raw / 1024)} KB"
    return f"{raw / (1024 * 1024):.1f} MB"


def _one_line(text: str, limit: int = 200) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"
