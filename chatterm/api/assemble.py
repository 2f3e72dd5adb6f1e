"""Build one reply out of streamed chat-completion chunks, whatever dialect they are in.

Providers differ in small ways (Mistral's list-of-chunks content, DeepSeek's
`reasoning_content`, OpenRouter's `reasoning`, usage in a separate chunk, on the last
chunk or in `meta.usage`, errors inside a 200 stream). All of it lands in one
`AssembledReply`, and every returned `Delta` is exactly what was appended to it: a
consumer that starts from the prefix (if any) and appends the deltas sees `reply`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from chatterm.api import safe_json
from chatterm.api.server_errors import clean, error_from_stream
from chatterm.api.sse import SSEDecoder, SSEEvent
from chatterm.api.types import ApiError, AssembledReply, Delta
from chatterm.conversation import ToolCall, Usage
from chatterm.numbers import finite_json, is_finite_number
from chatterm.redact import redact_tree

DONE = "[DONE]"


def _quoted(data: str) -> str:
    """The start of a bad chunk for a warning: redacted *before* it is cut to 60
    characters, so a key it quotes is caught whole (cut first, a key's tail could show)."""
    return clean(data[:4096], limit=60)

# Keys whose value is a money figure in the provider's unit (AI/ML API `meta.usage`
# reports credits, OpenRouter reports `usage.cost`).
_COST_KEYS = ("cost", "usd_spent", "cost_usd", "total_cost", "credits_used")


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _number(value: Any) -> float | None:
    # A cost of 1e999 parses as inf: a server's NaN or infinity is no figure at all.
    if not is_finite_number(value):
        return None
    try:
        return float(value)
    except OverflowError:  # an integer too big for a float
        return None


def merge_usage(current: Usage | None, raw: Any, *, meta: bool = False) -> Usage | None:
    """Fold a usage object into what we have; `null` or junk never wipes earlier figures."""
    if not isinstance(raw, dict) or not raw:
        return current
    usage = current or Usage()
    for name in ("prompt_tokens", "completion_tokens", "total_tokens"):
        value = _int(raw.get(name))
        if value is not None:
            setattr(usage, name, value)
    details = raw.get("completion_tokens_details")
    reasoning = _int(details.get("reasoning_tokens")) if isinstance(details, dict) else None
    if reasoning is None:
        reasoning = _int(raw.get("reasoning_tokens"))
    if reasoning is not None:
        usage.reasoning_tokens = reasoning
    for key in _COST_KEYS:
        cost = _number(raw.get(key))
        if cost is not None:
            usage.cost = cost
            break
    # Kept for the record, so a key a server echoes in it must not be kept with it.
    raw = finite_json(raw)  # kept as sent, but as JSON that export and import can carry
    if meta:
        usage.raw["meta"] = redact_tree(raw)
    else:
        usage.raw.update(redact_tree(raw))
    return usage


def _text_parts(content: Any) -> tuple[str, str]:
    """(text, thinking) from a content value: a string or Mistral's list of chunks."""
    if isinstance(content, str):
        return content, ""
    if not isinstance(content, list):
        return "", ""
    text: list[str] = []
    thinking: list[str] = []
    for part in content:
        if isinstance(part, str):
            text.append(part)
            continue
        if not isinstance(part, dict):
            continue
        kind = part.get("type")
        if kind == "thinking":
            inner_text, inner_thinking = _text_parts(part.get("thinking"))
            thinking.append(inner_text + inner_thinking)
        elif kind in (None, "text", "output_text") and isinstance(part.get("text"), str):
            text.append(part["text"])
    return "".join(text), "".join(thinking)


def _reasoning_of(delta: dict[str, Any]) -> str:
    # Providers send either key; a few send both with the same text, so take one.
    for key in ("reasoning_content", "reasoning"):
        value = delta.get(key)
        if isinstance(value, str) and value:
            return value
    return ""


class _PrefixFilter:
    """Makes the reply start with the prefix exactly once, echoed by the server or not.

    Incoming content that repeats the prefix is swallowed as it arrives. If the content
    turns out to differ, the swallowed part is given back.
    """

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.matched = 0
        self.decided = False

    def feed(self, text: str) -> str:
        if self.decided or not text:
            return text
        want = self.prefix[self.matched :]
        common = 0
        limit = min(len(want), len(text))
        while common < limit and want[common] == text[common]:
            common += 1
        if common == len(want):
            self.decided = True  # the whole prefix was echoed
            return text[common:]
        if common == len(text):
            self.matched += common  # still matching; wait for more
            return ""
        self.decided = True  # not an echo after all: restore what we held back
        held = self.prefix[: self.matched]
        return held + text


class StreamAssembler:
    """feed(chunk) -> Delta for one parsed chunk; feed_event(sse_event) for raw events.

    Raises ApiError(partial=reply) when the stream carries an error.
    """

    def __init__(self, prefix: str | None = None) -> None:
        # The prefix is the reply's start from the outset (the caller already shows it),
        # so deltas only carry what the server adds after it.
        self.reply = AssembledReply(content=prefix or "")
        self._prefix = _PrefixFilter(prefix) if prefix else None
        self._calls: dict[Any, int] = {}  # fragment key -> slot
        self._by_id: dict[str, int] = {}  # tool call id -> slot
        self._call_list: list[ToolCall] = []  # the reply's calls, without joining arguments
        self.chunks = 0

    @property
    def done(self) -> bool:
        return self.reply.saw_done

    def finish(self) -> Delta:
        """The stream is over: what is still held back (half a surrogate pair) as U+FFFD."""
        content, reasoning, refusal = self.reply.flush()
        return Delta(content=content, reasoning=reasoning, refusal=refusal)

    # ---- raw SSE events -------------------------------------------------------------

    def feed_event(self, event: SSEEvent) -> Delta:
        data = event.data.strip()
        if event.event == "error":
            payload = self._parse(data, warn=False)
            self._raise(payload if payload is not None else data)
        if not data:
            return Delta()
        if data == DONE:
            self.reply.saw_done = True
            return Delta()
        payload = self._parse(data, warn=True)
        if payload is None:
            return Delta()
        if not isinstance(payload, dict):
            self._warn(f"skipped a chunk that is not a JSON object: {_quoted(data)}")
            return Delta()
        return self.feed(payload)

    def _parse(self, data: str, *, warn: bool) -> Any:
        try:
            return safe_json.loads(data)  # never RecursionError: see safe_json
        except ValueError:
            if warn:
                self._warn(f"skipped a chunk that is not valid JSON: {_quoted(data)}")
            return None

    def _warn(self, message: str) -> None:
        self.reply.warnings.append(message)

    # ---- parsed chunks --------------------------------------------------------------

    def feed(self, chunk: dict[str, Any]) -> Delta:
        self.chunks += 1
        reply = self.reply
        delta = Delta()
        model = chunk.get("model")
        if isinstance(model, str) and model:
            reply.model = model
        choices = chunk.get("choices")
        if isinstance(choices, list):
            for choice in choices:
                if isinstance(choice, dict):
                    self._apply_choice(choice, delta)
        elif choices is not None:
            self._warn("ignored a chunk whose `choices` is not a list")
        reply.usage = merge_usage(reply.usage, chunk.get("usage"))
        meta = chunk.get("meta")
        if isinstance(meta, dict):
            reply.usage = merge_usage(reply.usage, meta.get("usage"), meta=True)
        if chunk.get("error"):
            # The chunk's own content is kept before reporting the error (OpenRouter
            # sends both in one chunk).
            self._raise(chunk)
        if delta.content or delta.reasoning or delta.refusal:
            delta.chunks = 1
        return delta

    def _apply_choice(self, choice: dict[str, Any], delta: Delta) -> None:
        # Only the first choice is shown; n>1 is not something chatterm asks for.
        index = choice.get("index", 0)
        if isinstance(index, int) and index != 0:
            return
        body = choice.get("delta")
        if not isinstance(body, dict):
            body = choice.get("message")  # some servers stream full messages
        if isinstance(body, dict):
            text, thinking = _text_parts(body.get("content"))
            reasoning = _reasoning_of(body) + thinking
            if reasoning:
                delta.reasoning += self.reply.add_reasoning(reasoning)
            if text:
                self._add_content(text, delta)
            refusal = body.get("refusal")
            if isinstance(refusal, str) and refusal:
                delta.refusal += self.reply.add_refusal(refusal)
            calls = body.get("tool_calls")
            if isinstance(calls, list):
                self._merge_tool_calls(calls, delta)
        finish = choice.get("finish_reason")
        if isinstance(finish, str) and finish:
            self.reply.finish_reason = finish

    def _add_content(self, text: str, delta: Delta) -> None:
        if self._prefix:
            text = self._prefix.feed(text)
        if text:
            delta.content += self.reply.add_content(text)

    def _merge_tool_calls(self, calls: list[Any], delta: Delta) -> None:
        for position, raw in enumerate(calls):
            if not isinstance(raw, dict):
                continue
            slot = self._find_call(raw, position, len(calls))
            call = self._call_list[slot]
            function = raw.get("function")
            if not isinstance(function, dict):
                function = {}
            call_id = raw.get("id")
            if isinstance(call_id, str) and call_id and not call.id:
                call.id = call_id
                self._by_id.setdefault(call_id, slot)
            name = function.get("name")
            if isinstance(name, str) and name and not call.name:
                call.name = name
            arguments = function.get("arguments")
            if isinstance(arguments, dict | list):
                arguments = json.dumps(arguments, ensure_ascii=False)
            if isinstance(arguments, str):
                added = self.reply.add_arguments(slot, arguments)
                if added:
                    delta.tool_arguments.append((slot, added))

    def _find_call(self, raw: dict[str, Any], position: int, count: int) -> int:
        """The slot (position in the reply's tool calls) this fragment belongs to."""
        index = raw.get("index")
        call_id = raw.get("id") if isinstance(raw.get("id"), str) else None
        if isinstance(index, int) and not isinstance(index, bool):
            key: Any = ("index", index)
        elif call_id:
            # Mistral may omit index; an id we have seen continues that call (a dict, not
            # a scan of every call: many id-only fragments would be quadratic).
            seen = self._by_id.get(call_id)
            if seen is not None:
                return seen
            key = ("id", call_id)
        elif count == 1 and self._call_list:
            return len(self._call_list) - 1  # a bare fragment continues the last call
        else:
            key = ("position", position)
        slot = self._calls.get(key)
        if slot is None:
            slot = self._calls[key] = len(self._call_list)
            self._call_list.append(self.reply.new_tool_call())
        return slot

    def _raise(self, payload: Any) -> None:
        if payload in ("", None):
            payload = "(no details given)"
        message, code, status = error_from_stream(payload)
        raise ApiError(message, status=status, code=code, partial=self.reply)


def assemble_response(data: Any, prefix: str | None = None) -> AssembledReply:
    """An AssembledReply from a non-streaming chat-completion body (a parsed JSON object)."""
    if not isinstance(data, dict):
        raise ApiError("the server answered with JSON that is not a chat completion")
    assembler = StreamAssembler(prefix)
    assembler.feed(data)
    assembler.finish()
    reply = assembler.reply
    if not isinstance(data.get("choices"), list) or not data["choices"]:
        raise ApiError("the server's answer holds no choices", partial=reply)
    return reply


def assemble_stream(
    chunks: Iterable[bytes], prefix: str | None = None, decoder: SSEDecoder | None = None
) -> AssembledReply:
    """Decode and assemble a whole byte stream (handy for tests and tools)."""
    decoder = decoder or SSEDecoder()
    assembler = StreamAssembler(prefix)
    for chunk in chunks:
        for event in decoder.feed(chunk):
            assembler.feed_event(event)
    for event in decoder.close():
        assembler.feed_event(event)
    assembler.finish()
    assembler.reply.warnings.extend(decoder.warnings)
    return assembler.reply
