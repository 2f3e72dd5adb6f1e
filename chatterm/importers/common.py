"""What every importer shares: stable ids, times, JSON loading and the tree builder.

An importer turns another program's history into `Raw` nodes (one per message of the
source, with the source's own ids and parent links) and `build` makes them chatterm
messages: nodes that hold nothing are dropped and their children moved up to the nearest
node kept, a reply the source stored in several pieces (ChatGPT's code, tool output and
answer; llm's tool calls and the answer) becomes one assistant message, and every id is
derived from the source's ids, so importing the same file twice gives the same ids.
"""

from __future__ import annotations

import heapq
import json
import math
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from chatterm import tree
from chatterm.conversation import Conversation, Message, MessageState, Role, Usage
from chatterm.errors import ImportFormatError

# The namespace of every id an import derives (uuid5): a fixed, arbitrary value, so the
# same source id always gives the same chatterm id, on any machine.
_NAMESPACE = uuid.UUID("6f1c1c2e-1f7b-4d0e-9a55-8c1d2b7e4a10")


def stable_id(*parts: str) -> str:
    """A chatterm id (32 hex digits, like new ones) that depends only on `parts`."""
    return uuid.uuid5(_NAMESPACE, "\x1f".join(parts)).hex


@dataclass(frozen=True, slots=True)
class Defaults:
    """What an imported conversation continues with: the provider and model a new chat
    would use (the source's own model ids are kept on each reply)."""

    provider: str
    model: str


@dataclass(slots=True)
class Raw:
    """One message of the source, before it becomes a chatterm message."""

    key: str                      # the source's id for it
    parent: str | None            # the source's id of its parent (may be dropped or unknown)
    role: Role | None             # None: not a message (a root, a hidden node)
    content: str = ""
    reasoning: str = ""
    created_at: float | None = None
    model: str | None = None
    provider: str | None = None
    finish_reason: str | None = None
    usage: Usage | None = None
    state: MessageState = MessageState.COMPLETE


@dataclass(slots=True)
class Built:
    messages: list[Message] = field(default_factory=list)
    current_id: str | None = None


def timestamp(value: Any, fallback: float | None = None) -> float | None:
    """Unix time from a number or an ISO 8601 string (no zone: UTC); `fallback` if not."""
    if isinstance(value, bool):
        return fallback
    if isinstance(value, int | float):
        number = float(value)
        return number if math.isfinite(number) and 0 <= number < 1e11 else fallback
    if isinstance(value, str) and value:
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return fallback
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        return parsed.timestamp()
    return fallback


def load_json(data: bytes, what: str) -> Any:
    """The JSON value of a file's bytes; one line naming the problem if it is not JSON."""
    try:
        text = data.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        raise ImportFormatError(f"{what} is not valid UTF-8: bad byte 0x{data[exc.start]:02x} "
                                f"at byte offset {exc.start}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ImportFormatError(f"{what} is broken JSON at line {exc.lineno}, column "
                                f"{exc.colno}: {exc.msg}") from None
    except RecursionError:
        raise ImportFormatError(f"{what} is broken JSON: nested too deeply") from None


def read_each(items: list[Any], source: str,
              convert: Callable[[dict[str, Any], str], Conversation]) -> list[Conversation]:
    """Every conversation of a JSON export (ChatGPT's, Claude's), each through `convert`
    with where it is ("ChatGPT export: conversation 4"). A conversation that is not an
    object, or whose fields have the wrong types, is one line naming it, never a traceback."""
    found = []
    for number, item in enumerate(items, start=1):
        where = f"{source}: conversation {number}"
        if not isinstance(item, dict):
            raise ImportFormatError(f"{where} is not an object")
        try:
            found.append(convert(item, where))
        except ImportFormatError:
            raise
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ImportFormatError(f"{where} is damaged ({type(exc).__name__}: {exc})"
                                    ) from None
    return found


def text_of(value: Any) -> str:
    """A string field that may be missing or null; anything else is not text."""
    return value if isinstance(value, str) else ""


def fence(text: str, info: str = "") -> str:
    """A Markdown code fence longer than any backtick run inside `text`."""
    longest = run = 0
    for char in text:
        run = run + 1 if char == "`" else 0
        longest = max(longest, run)
    ticks = "`" * max(3, longest + 1)
    return f"{ticks}{info}\n{text.rstrip(chr(10))}\n{ticks}"


def join(*pieces: str) -> str:
    return "\n\n".join(piece for piece in pieces if piece.strip())


def _mergeable(node: Raw, into: Raw) -> bool:
    return node.role is Role.ASSISTANT and into.role is Role.ASSISTANT


def build(conversation_id: str, raws: Sequence[Raw], current_key: str | None,
          *, created_at: float) -> Built:
    """chatterm messages (parents before children, siblings oldest first) from the source's
    nodes, and the id of the current branch's leaf (None: let the store pick the latest)."""
    nodes = {raw.key: raw for raw in raws}
    kept = {raw.key for raw in raws if raw.role is not None and (raw.content.strip()
                                                                  or raw.reasoning.strip())}
    memo: dict[str, str | None] = {}

    def kept_above(key: str | None) -> str | None:
        """The nearest kept node at or above `key` (None: a root)."""
        seen: list[str] = []
        while key is not None and key not in kept:
            if key in memo:
                key = memo[key]
                break
            if key in seen or key not in nodes:
                key = None  # a parent that is not in the file, or a cycle: a root
                break
            seen.append(key)
            key = nodes[key].parent
        for visited in seen:
            memo[visited] = key
        return key

    parent = {key: kept_above(nodes[key].parent) for key in kept}
    for key in list(parent):  # a cycle among kept nodes: cut it where it closes
        walk: list[str] = []
        at: str | None = key
        while at is not None and at not in walk:
            walk.append(at)
            at = parent[at]
        if at is not None:
            parent[at] = None
    children: dict[str | None, list[str]] = {}
    for key in kept:
        children.setdefault(parent[key], []).append(key)

    # A reply stored in pieces (a chain of assistant nodes, one child each) becomes one
    # message: the first piece absorbs the ones below it.
    owner: dict[str, str] = {}

    def absorb(key: str) -> None:
        node = nodes[key]
        while True:
            below = children.get(key, [])
            if len(below) != 1 or not _mergeable(nodes[below[0]], node):
                return
            child = nodes[below[0]]
            node.content = join(node.content, child.content)
            node.reasoning = join(node.reasoning, child.reasoning)
            node.model = child.model or node.model
            node.finish_reason = child.finish_reason or node.finish_reason
            node.usage = child.usage or node.usage
            node.state = child.state
            owner[child.key] = key
            children[key] = children.pop(child.key, [])
            for grandchild in children[key]:
                parent[grandchild] = key

    order = _parents_first(children, nodes, created_at)
    for key in order:
        if key not in owner:
            absorb(key)
    order = [key for key in order if key not in owner]

    ids = {key: stable_id(conversation_id, key) for key in order}
    built = Built()
    last_time = created_at
    for key in order:
        node = nodes[key]
        when = node.created_at if node.created_at is not None else last_time
        last_time = when
        assert node.role is not None
        up = parent[key]
        built.messages.append(Message(
            role=node.role, content=node.content, id=ids[key],
            conversation_id=conversation_id, parent_id=ids[up] if up is not None else None,
            created_at=when, state=node.state,
            provider=node.provider if node.role is Role.ASSISTANT else None,
            model=node.model if node.role is Role.ASSISTANT else None,
            finish_reason=node.finish_reason, usage=node.usage, reasoning=node.reasoning))
    built.current_id = _current(built.messages, current_key, kept_above, owner, ids)
    return built


def _parents_first(children: dict[str | None, list[str]], nodes: dict[str, Raw],
                   created_at: float) -> list[str]:
    """Every kept node, a parent before its children, otherwise oldest first (chatterm's
    positions order siblings)."""
    def when(key: str) -> float:
        value = nodes[key].created_at
        return value if value is not None else created_at

    heap: list[tuple[float, int, str]] = []
    count = 0
    for key in children.get(None, []):
        heapq.heappush(heap, (when(key), count, key))
        count += 1
    order: list[str] = []
    while heap:
        _, _, key = heapq.heappop(heap)
        order.append(key)
        for child in children.get(key, []):
            heapq.heappush(heap, (when(child), count, child))
            count += 1
    return order


def _current(messages: list[Message], current_key: str | None,
             kept_above: Callable[[str | None], str | None], owner: dict[str, str],
             ids: dict[str, str]) -> str | None:
    """The leaf of the source's current branch, as a chatterm id."""
    if current_key is None or not messages:
        return None
    key = kept_above(current_key)
    if key is None:
        return None
    key = owner.get(key, key)
    shape = tree.Shape(tree.Node(m.id, m.parent_id, index, m.created_at)
                       for index, m in enumerate(messages))
    # The source's current node may sit above a branch point (a hidden node was current):
    # its most recent branch below is the current one.
    return shape.latest_leaf(ids[key])


def conversation(conversation_id: str, *, title: str, created_at: float,
                 updated_at: float | None, defaults: Defaults, built: Built,
                 system_prompt: str = "") -> Conversation:
    last = max((m.created_at for m in built.messages), default=created_at)
    return Conversation(
        provider=defaults.provider, model=defaults.model, id=conversation_id,
        title=title, created_at=created_at,
        updated_at=max(updated_at or last, created_at), system_prompt=system_prompt,
        messages=built.messages, current_id=built.current_id)


def first_prompt(built: Built) -> str:
    return next((m.content for m in built.messages if m.role is Role.USER), "")
