"""`chatterm ask`: one prompt, the reply streamed to stdout, saved unless --no-save."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import TYPE_CHECKING, Any, TypeVar

from chatterm.cli.common import load_config, open_store
from chatterm.cli.output import Out, warn
from chatterm.conversation import Conversation, Message, MessageState, Params
from chatterm.errors import UsageError

if TYPE_CHECKING:
    from collections.abc import Callable, Coroutine

    from chatterm.config import Config
    from chatterm.engine.events import ReplyRestored, SessionEvent
    from chatterm.engine.session import ChatSession
    from chatterm.store import Store

T = TypeVar("T")


def read_prompt(words: list[str]) -> str:
    """The prompt: the words, then a blank line, then whatever was piped on stdin.

    `git diff | chatterm ask "Review this"` sends both, as llm does. A lone `-` among the
    words marks where the piped text goes (`ask "Translate" - "into French"`); without
    one it goes after the words. Stdin is read only when something is piped or
    redirected into it (a pipe or a file), never from a terminal.
    """
    marker = words.count("-")
    if marker > 1:
        raise UsageError("'-' (read the prompt from stdin) can be given only once")
    piped = _read_stdin(required=marker == 1 or not words)
    if marker:
        at = words.index("-")
        before, after = words[:at], words[at + 1:]
    else:
        before, after = words, []
    if after:
        piped = piped.rstrip("\n")  # its own line end, then the blank line, not two
    parts = [" ".join(before), piped, " ".join(after)]
    prompt = "\n\n".join(part for part in parts if part.strip())
    if not prompt.strip():
        raise UsageError("no prompt: give it as arguments, or pipe it on stdin")
    return prompt


def _read_stdin(*, required: bool) -> str:
    """The piped text exactly as it came, or "" when nothing is piped."""
    stdin = sys.stdin
    if stdin is None or stdin.isatty():
        if required:
            raise UsageError("no prompt: give it as arguments, or pipe it on stdin"
                             " ('-' reads stdin, which is a terminal here)")
        return ""
    if not required and not _stdin_is_data():
        # A socket or character device (`< /dev/null`, an inherited handle) may never end;
        # only a pipe or a regular file is read when the words already make a prompt.
        return ""
    data = stdin.buffer.read()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise UsageError(f"stdin is not valid UTF-8 (byte {error.start})") from None
    return text


def _stdin_is_data() -> bool:
    import os
    import stat

    try:
        mode = os.fstat(sys.stdin.fileno()).st_mode
    except (OSError, ValueError):
        return False
    return stat.S_ISFIFO(mode) or stat.S_ISREG(mode)


def params_from_args(args: argparse.Namespace) -> Params:
    return Params(
        temperature=args.temperature,
        top_p=args.top_p,
        max_tokens=args.max_tokens,
        stop=list(args.stop),
        seed=args.seed,
        safe_prompt=args.safe_prompt,
    )


def pick_conversation(
    args: argparse.Namespace, config: Config, store: Store | None
) -> Conversation:
    # Comparing, the first -m is the conversation's model (its reply is the current one).
    chosen = args.model[0] if args.model else None
    if args.continue_last or args.conversation is not None:
        if store is None:
            raise UsageError("no saved conversations to continue")
        if args.conversation is not None:
            conversation_id = store.resolve_id(args.conversation)
        else:
            last = store.last_conversation_id()
            if last is None:
                raise UsageError("there is no conversation to continue yet")
            conversation_id = last
        conversation = store.get_conversation(conversation_id)
        if args.provider or chosen:
            provider = config.provider(args.provider or conversation.provider)
            conversation.provider = provider.name
            conversation.model = (
                chosen or config.model_for(provider.name) or conversation.model
            )
        if args.system is not None:
            conversation.system_prompt = args.system
        conversation.params = conversation.params.merged(params_from_args(args))
        return conversation
    provider = config.provider(args.provider)
    model = chosen or config.model_for(provider.name)
    if not model:
        raise UsageError(f"no model chosen for provider '{provider.name}': pass -m MODEL")
    return Conversation(
        provider=provider.name,
        model=model,
        system_prompt=args.system if args.system is not None else config.system_prompt,
        params=params_from_args(args),
    )


def reply_json(message: Message, conversation: Conversation | None) -> dict[str, Any]:
    return {
        "id": message.id,
        "parent_id": message.parent_id,
        "role": str(message.role),
        "content": message.content,
        "reasoning": message.reasoning,
        "refusal": message.refusal,
        "tool_calls": [call.to_dict() for call in message.tool_calls],
        "finish_reason": message.finish_reason,
        "usage": message.usage.to_dict() if message.usage else None,
        "model": message.model,
        "provider": message.provider,
        "state": str(message.state),
        "error": message.error,
        "conversation_id": conversation.id if conversation else None,
    }


def run_ask(args: argparse.Namespace) -> int:
    from chatterm.cli.ask_modes import check_mode

    mode = check_mode(args)
    config = load_config()
    if args.no_stream:
        config.stream = False
    if mode in ("regenerate", "edit"):
        from chatterm.cli.ask_versions import run_version

        return run_version(mode, args, config)
    prompt = read_prompt(args.prompt)
    if args.no_save:
        # Reading an earlier conversation is fine; nothing of this exchange is written.
        store = None
        if args.continue_last or args.conversation is not None:
            with open_store(read_only=True) as reader:
                conversation = pick_conversation(args, config, reader)
        else:
            conversation = pick_conversation(args, config, None)
    else:
        from chatterm.store import Store

        store = Store.open()
        conversation = pick_conversation(args, config, store)
    if args.prefix is not None and not config.provider(conversation.provider).supports_prefix:
        raise UsageError(
            f"--prefix needs a provider of kind mistral; '{conversation.provider}' "
            "does not support an assistant prefix"
        )
    out = Out()
    session = new_session(store, config, conversation)
    saved = conversation if store is not None else None
    if mode == "compare":
        from chatterm.cli import compare

        turn = session.new_compare(prompt, compare.compare_models(args, config, conversation))
        printer = compare.ComparePrinter(out, turn.replies, quiet=args.json)
        replies = drive(session, store, lambda: session.compare(turn, printer))
        if args.json:
            out.json([reply_json(reply, saved) for reply in replies])
        else:
            printer.finish(replies)
        return compare.report(replies)
    single = _Printer(out, quiet=args.json)
    message = drive(session, store, lambda: session.send(prompt, single, prefix=args.prefix))
    return single.done(message, saved, as_json=args.json)


def new_session(store: Store | None, config: Config, conversation: Conversation) -> ChatSession:
    from chatterm.engine.session import ChatSession

    return ChatSession(store, config, conversation, persisted=bool(conversation.messages))


def drive(session: ChatSession, store: Store | None,
          work: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run one exchange of `session` to its end, then close the session and the store
    (after the last queued save has landed)."""
    async def exchange() -> T:
        try:
            return await work()
        finally:
            await session.aclose()

    try:
        return asyncio.run(exchange())
    finally:
        if store is not None:
            from chatterm.engine.writer import settle

            settle(store)  # a second Ctrl+C stops the wait for the last save, not the save
            store.close()


class _Printer:
    """Streams reply text to stdout as it arrives; nothing else goes there."""

    def __init__(self, out: Out, *, quiet: bool) -> None:
        self.out = out
        self.quiet = quiet
        self.printed = 0
        self.restored: ReplyRestored | None = None

    def __call__(self, event: SessionEvent) -> None:
        from chatterm.engine.events import (
            ReplyFinished,
            ReplyRestored,
            ReplyRetrying,
            ReplyStarted,
            TextArrived,
        )

        if isinstance(event, ReplyStarted):
            if not self.quiet and event.message.content:
                # An assistant prefix is part of the reply the user sees.
                self._write(event.message.content)
        elif isinstance(event, TextArrived):
            if not self.quiet and event.kind in ("content", "refusal"):
                self._write(event.text)
        elif isinstance(event, ReplyFinished) and event.warnings:
            count = len(event.warnings)
            warn(f"warning: skipped {count} unreadable chunk{'s' if count > 1 else ''} "
                 f"of the stream (first: {event.warnings[0]})")
        elif isinstance(event, ReplyRestored):
            self.restored = event
        elif isinstance(event, ReplyRetrying):
            retry = event.retrying
            warn(
                f"{retry.reason}; retrying in {retry.delay:.1f} s "
                f"(attempt {retry.attempt} of {retry.max_retries})"
            )

    def _write(self, text: str) -> None:
        if text:
            self.out.write(text)
            self.printed += len(text)

    def done(self, message: Message, conversation: Conversation | None, *,
             as_json: bool) -> int:
        """Print the end of the reply (or all of it as JSON); the exit code."""
        if self.restored is not None:
            # A new version that failed or was stopped holding nothing is dropped; the
            # version before it is current again, as it was.
            error = self.restored.error or "stopped"
            warn(f"error: {error} (nothing arrived; the previous version is current again)")
            return 1
        if as_json:
            self.out.json(reply_json(message, conversation))
        else:
            self.finish(message)
        return _report(message)

    def finish(self, message: Message) -> None:
        # Without streaming (or when the server sent everything in the final chunk), the
        # text only exists on the finished message.
        text = message.content or message.refusal
        if self.printed < len(text):
            self.out.write(text[self.printed:])
        self.out.end_line()
        if message.tool_calls:
            # A reply that only asks for tools printed nothing: say what it asked for.
            warn(tool_calls_line(message))


def tool_calls_line(message: Message) -> str:
    """One line naming the tools a reply asked for, which chatterm does not run."""
    from chatterm.api.server_errors import one_line

    calls = ", ".join(f"{call.name}({one_line(call.arguments, 120)})"
                      for call in message.tool_calls)
    return (f"the reply asks to run {calls}; chatterm cannot run tools yet "
            "(the next prompt tells the model they were not run)")


def _report(message: Message) -> int:
    if message.state is MessageState.COMPLETE:
        return 0
    # For an unknown model, the session already added close catalog matches to the error.
    detail = message.error or "the stream ended before the reply was complete"
    if message.state is MessageState.INTERRUPTED:
        received = message.content or message.reasoning or message.refusal or message.tool_calls
        if not received:
            kept = "no reply text arrived"  # "the partial reply was kept" would be untrue
        elif message.conversation_id:
            kept = "the partial reply was kept"
        else:
            kept = "nothing was saved"
        warn(f"error: {detail} ({kept}, marked interrupted)")
    else:
        warn(f"error: {detail}")
    return 1
