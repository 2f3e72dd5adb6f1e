"""The tool loop: a reply that ends with tool calls gets them run, and the model is asked again.

After send, regenerate, edit and continue (not compare, which offers no tools), when the
reply is complete and holds tool calls and the session has a ToolBox (`session.tools`):

1. every call is reported (ToolCallPending), in order;
2. calls are settled in order: a tool nobody offers, or arguments that are not a JSON
   object, get an UNKNOWN result telling the model; an "ask" call waits for the
   session's approver (none: DECLINED); an approved or "auto" call starts at once
   (ToolCallStarted), so the calls of a round run concurrently;
3. each result is saved as a tool message the moment it arrives (a crash loses none
   that came), chained below the reply in the order results came (ToolCallFinished);
4. a new assistant reply, the child of the last tool message, streams with the whole
   exchange, and the loop goes on until a reply has no tool calls, or max_tool_rounds
   rounds ran (ToolRoundsExhausted: the last calls are left unrun).

A tool's failure is its result (ERROR): the model sees it and can react; the loop never
ends for it. Stopping (cancelling the awaiting task: Esc, quit) cancels a waiting
approval and the running calls; every call of the round without a result is saved as
STOPPED, and the cancellation goes on. Decision.STOP declines the call and the rest of
the round, stops the running ones, and does not ask the model again.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from typing import TYPE_CHECKING, Any

from chatterm.api import safe_json
from chatterm.conversation import Message, MessageState, Role, ToolCall
from chatterm.engine import attached, branches
from chatterm.engine.events import (
    EventSink,
    ToolCallFinished,
    ToolCallPending,
    ToolCallStarted,
    ToolRoundsExhausted,
)
from chatterm.errors import ChattermError, StoreError
from chatterm.toolbox import (
    DECLINED_TEXT,
    STOPPED_TEXT,
    ApprovalRequest,
    Decision,
    ServerState,
    ToolOutcome,
    ToolResult,
    ToolSpec,
)

if TYPE_CHECKING:
    from chatterm.config import Config
    from chatterm.engine.session import ChatSession

def max_tool_rounds(config: Config) -> int:
    return config.mcp.max_tool_rounds


def max_result_bytes(config: Config) -> int:
    return config.mcp.max_result_bytes


def offered(session: ChatSession) -> list[ToolSpec]:
    """The tools the model is offered now: the ready servers' tools the filter allows."""
    if session.tools is None:
        return []
    return [spec for spec in session.tools.specs() if session.tool_filter.allows(spec)]


def has_calls_to_run(session: ChatSession, reply: Message) -> bool:
    return (session.tools is not None and reply.state is MessageState.COMPLETE
            and bool(reply.tool_calls))


async def follow(session: ChatSession, reply: Message, on_event: EventSink) -> Message:
    """Run the tool rounds that `reply` starts; returns the last reply (`reply` itself
    when it asks for no tools)."""
    if not has_calls_to_run(session, reply):
        return reply
    limit = max_tool_rounds(session.config)
    conversation = session.conversation
    rounds = 0
    session._tool_rounds += 1
    try:
        while has_calls_to_run(session, reply):
            if rounds >= limit:
                on_event(ToolRoundsExhausted(reply, limit))
                break
            rounds += 1
            if not await _Round(session, reply, on_event).run():
                break
            # The same model carries on: the exchange is one answer being worked out.
            provider = reply.provider or conversation.provider
            key = session.key_for(provider)
            nxt = Message(role=Role.ASSISTANT, conversation_id=conversation.id,
                          parent_id=conversation.messages[-1].id,
                          state=MessageState.STREAMING, provider=provider,
                          model=reply.model or conversation.model)
            await branches.attach(session, [nxt])
            history = await attached.history(session, upto=-1)
            request = session._request(history, model=nxt.model)
            reply = await session._stream_into(nxt, request, key, on_event)
    finally:
        session._tool_rounds -= 1
    return reply


def parse_arguments(text: str) -> dict[str, Any] | None:
    """The call's arguments as a JSON object; None when they are not one. No text at all
    is no arguments (models send "" for a tool without parameters)."""
    if not text.strip():
        return {}
    try:
        value = safe_json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def pretty_arguments(text: str) -> str:
    """The arguments as a person reads them: indented JSON, or as sent if not JSON."""
    try:
        value = safe_json.loads(text) if text.strip() else {}
    except ValueError:
        return text
    return json.dumps(value, indent=2, ensure_ascii=False)


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class _Round:
    """One round: every call of `reply` settled, each with a saved tool message."""

    def __init__(self, session: ChatSession, reply: Message, on_event: EventSink) -> None:
        self.session = session
        self.reply = reply
        self.on_event = on_event
        self.results: dict[int, Message] = {}
        self.running: dict[int, asyncio.Task[None]] = {}
        # Saves one at a time: each result is chained below the one saved before it.
        self.saving = asyncio.Lock()

    async def run(self) -> bool:
        """True when the model should be asked again (False after Decision.STOP)."""
        session, reply = self.session, self.reply
        assert session.tools is not None
        specs = {spec.name: spec for spec in offered(session)}
        calls: list[tuple[int, ToolCall, ToolSpec | None]] = []
        asks: list[tuple[int, ToolCall, ToolSpec | None]] = []
        for index, call in enumerate(reply.tool_calls):
            spec = specs.get(call.name)
            needs = spec is not None and session.tools.needs_approval(spec)
            self.on_event(ToolCallPending(reply, index, call, spec, needs))
            (asks if needs else calls).append((index, call, spec))
        # The calls that need nobody's word start first, so they run while a person
        # reads the others; those are asked one at a time, in the model's order.
        calls += asks
        try:
            for position, (index, call, spec) in enumerate(calls):
                if not await self._settle(index, call, spec):
                    # STOP: this call is declined (saved); so is every call not asked.
                    for later, later_call, later_spec in calls[position + 1:]:
                        await self._save(later, later_call, later_spec,
                                         ToolResult(DECLINED_TEXT, ToolOutcome.DECLINED,
                                                    "declined"))
                    await self._stop_running()
                    return False
            if self.running:
                await asyncio.gather(*self.running.values())
        except BaseException:
            # Esc or quit (or a store failure): what ran stays, the rest is STOPPED.
            await self._stop_running()
            with contextlib.suppress(StoreError):
                for index, call, spec in calls:
                    if index not in self.results:
                        await self._save(index, call, spec, _stopped())
            raise
        return True

    async def _settle(self, index: int, call: ToolCall, spec: ToolSpec | None) -> bool:
        """Decline, refuse or start one call; False for Decision.STOP."""
        session = self.session
        assert session.tools is not None
        warning: str | None = None
        if spec is None:
            names = ", ".join(sorted(s.name for s in offered(session))) or "none"
            # A server still starting may hold it: say so, the model may try again later.
            starting = [status.name for status in session.tools.statuses()
                        if status.state is ServerState.STARTING]
            later = f"; still starting: {', '.join(starting)}" if starting else ""
            await self._save(index, call, None, ToolResult(
                f"unknown tool {call.name!r}: no tool of that name is available "
                f"(available: {names}{later})", ToolOutcome.UNKNOWN, "no such tool"))
            return True
        if session.tools.needs_approval(spec):
            if session.approver is None:
                await self._save(index, call, spec, ToolResult(
                    DECLINED_TEXT, ToolOutcome.DECLINED, "nobody to approve it"))
                return True
            try:
                approval = await session.approver(
                    ApprovalRequest(spec, call.id, pretty_arguments(call.arguments)))
            except Exception as exc:
                # A front end that fails to ask has not said yes: declined, and on.
                await self._save(index, call, spec, ToolResult(
                    DECLINED_TEXT, ToolOutcome.DECLINED,
                    f"could not ask for approval: {_one_line(exc)}"))
                return True
            if approval.decision in (Decision.DENY, Decision.STOP):
                await self._save(index, call, spec, ToolResult(
                    DECLINED_TEXT, ToolOutcome.DECLINED, "declined"))
                return approval.decision is Decision.DENY
            if approval.arguments is not None and approval.arguments != call.arguments:
                # What runs is what the conversation says was asked.
                call.arguments = approval.arguments
                await session._save_message(self.reply)
            if approval.decision is Decision.ALWAYS:
                # Saving "always" may fail (a config file that cannot be written): the
                # person still said yes to this call, so it runs, and hears why.
                try:
                    session.tools.allow_always(spec)
                except ChattermError as exc:
                    warning = exc.message
                except Exception as exc:
                    warning = f"could not save always_allow: {_one_line(exc)}"
        arguments = parse_arguments(call.arguments)
        if arguments is None:
            await self._save(index, call, spec, ToolResult(
                f"the arguments of {call.name} are not a JSON object, so it was not run; "
                f"call it again with a JSON object of its parameters",
                ToolOutcome.UNKNOWN, "arguments not a JSON object"))
            return True
        self.on_event(ToolCallStarted(self.reply, index, call, spec, time.monotonic(),
                                      warning))
        self.running[index] = asyncio.create_task(self._execute(index, call, spec, arguments))
        return True

    async def _execute(self, index: int, call: ToolCall, spec: ToolSpec,
                       arguments: dict[str, Any]) -> None:
        assert self.session.tools is not None
        try:
            result = await self.session.tools.call(spec, arguments)
        except asyncio.CancelledError:
            result = _stopped()
        except Exception as exc:
            # The ToolBox promises not to raise for a tool's failure; if it does all the
            # same, that is the call's error, for the model to see.
            result = ToolResult("", ToolOutcome.ERROR, _one_line(exc))
        try:
            await self._save(index, call, spec, result)
        except asyncio.CancelledError:
            # Stopped while its result was being saved: the round's cleanup saves it.
            return

    async def _stop_running(self) -> None:
        tasks = [task for task in self.running.values() if not task.done()]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _save(self, index: int, call: ToolCall, spec: ToolSpec | None,
                    result: ToolResult) -> None:
        if index in self.results:
            return
        session = self.session
        content = result.text
        if not content and result.error:
            content = f"error: {result.error}"
        async with self.saving:
            if index in self.results:
                return
            message = Message(
                role=Role.TOOL, content=content,
                conversation_id=session.conversation.id,
                parent_id=session.conversation.messages[-1].id,
                provider=spec.server if spec is not None else None,
                model=spec.tool if spec is not None else call.name,
                finish_reason=str(result.outcome),
                error=result.error if result.outcome is not ToolOutcome.OK else None,
                tool_call_id=call.id,
            )
            await branches.attach(session, [message])
            self.results[index] = message
        self.on_event(ToolCallFinished(self.reply, index, call, message, result.outcome))


def _stopped() -> ToolResult:
    return ToolResult(STOPPED_TEXT, ToolOutcome.STOPPED, "stopped")
