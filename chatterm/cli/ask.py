"""`chatterm ask`: one prompt, the reply streamed to stdout, saved unless --no-save."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import TYPE_CHECKING, Any, TypeVar

from chatterm.cli.ask_output import NO_TOOLS, Printer
from chatterm.cli.common import load_config, open_store
from chatterm.cli.output import Out
from chatterm.conversation import Conversation, Params
from chatterm.errors import UsageError

if TYPE_CHECKING:
    from collections.abc import Callable, Coroutine

    from chatterm.cli.tools import AskTools
    from chatterm.config import Config
    from chatterm.engine.session import ChatSession
    from chatterm.store import Store

T = TypeVar("T")


def read_prompt(words: list[str], *, editor: bool = False, attached: bool = False,
                stdin_taken: bool = False) -> str:
    """The prompt: the words, then a blank line, then whatever was piped on stdin.

    `git diff | chatterm ask "Review this"` sends both, as llm does. A lone `-` among the
    words marks where the piped text goes (`ask "Translate" - "into French"`); without
    one it goes after the words. Stdin is read only when something is piped or
    redirected into it (a pipe or a file), never from a terminal. With `editor`
    (`ask -e`) that is only the editor's starting text: what it saves is the prompt.
    With `attached` (files given with -a) no prompt at all is fine; `stdin_taken`: `-a -`
    reads stdin, so the prompt does not.
    """
    marker = words.count("-")
    if marker > 1:
        raise UsageError("'-' (read the prompt from stdin) can be given only once")
    if stdin_taken:
        piped = ""
    else:
        piped = _read_stdin(required=marker == 1 or not (words or editor or attached))
    if marker:
        at = words.index("-")
        before, after = words[:at], words[at + 1:]
    else:
        before, after = words, []
    if after:
        piped = piped.rstrip("\n")  # its own line end, then the blank line, not two
    parts = [" ".join(before), piped, " ".join(after)]
    prompt = "\n\n".join(part for part in parts if part.strip())
    if editor:
        from chatterm.editor import edit_on_terminal

        prompt = edit_on_terminal(prompt)
        if not prompt.strip():
            # Emptying the editor is how one cancels (as with a commit message), so this
            # holds with -a files too, although a prompt of attachments alone is fine.
            cancel = " (an empty edit cancels, even with -a)" if attached else ""
            raise UsageError(f"the editor left the prompt empty: nothing was sent{cancel}")
    if not prompt.strip() and not attached:
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
    if getattr(args, "role", None):
        return role_conversation(args, config, chosen)
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


def role_conversation(args: argparse.Namespace, config: Config,
                      chosen: str | None) -> Conversation:
    """A new conversation from `--role NAME`: the role's system prompt, provider, model
    and params, each overridden by what the command line gives."""
    from chatterm.cli.output import warn
    from chatterm.roles import load_roles, role_model

    roles = load_roles(config)
    role = roles.get(args.role)
    for line in roles.notes:
        # Only this role's notes (ignored keys): the other roles are not in play.
        if line.startswith(f"{role.source}:") or f"'roles.{role.name}." in line:
            warn(f"warning: {line}")
    provider, model = role_model(config, role, args.provider, chosen)
    if not model:
        raise UsageError(f"no model chosen for provider '{provider}': pass -m MODEL")
    return Conversation(
        provider=provider,
        model=model,
        system_prompt=args.system if args.system is not None else role.system_prompt,
        params=role.params.merged(params_from_args(args)),
        role=role.name,
    )


def run_ask(args: argparse.Namespace) -> int:
    from chatterm.cli.ask_modes import check_mode

    mode = check_mode(args)
    config = load_config()
    if args.no_stream:
        config.stream = False
    if mode in ("regenerate", "edit"):
        from chatterm.cli.ask_versions import run_version

        return run_version(mode, args, config)
    from chatterm.cli.ask_attach import load_attachments, stdin_taken

    # Every file is read and checked before a prompt is read or anything is opened.
    attachments = load_attachments(args, config)
    prompt = read_prompt(args.prompt, editor=args.editor, attached=bool(attachments),
                         stdin_taken=stdin_taken(args))
    # --tool names are checked before anything is opened. The servers start with the
    # session, once every usage check has passed: a host still importing the SDK takes
    # seconds to close, and a mistyped id must stay an instant line.
    tools = None if mode == "compare" else ask_tools(args, config)
    if args.no_save:
        # Reading an earlier conversation is fine; nothing of this exchange is written.
        store = None
        blobs: dict[str, bytes] = {}
        if args.continue_last or args.conversation is not None:
            with open_store(read_only=True) as reader:
                conversation = pick_conversation(args, config, reader)
                # The history is re-sent with its attachments: read now, while open.
                blobs = history_blobs(reader, conversation)
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
    if attachments:
        from chatterm.cli.ask_attach import warn_if_blind

        if mode == "compare":
            from chatterm.cli.compare import compare_models

            models = compare_models(args, config, conversation)
        else:
            models = [(conversation.provider, conversation.model)]
        for provider_name, model in models:
            warn_if_blind(provider_name, model, attachments)
    out = Out()
    saved = conversation if store is not None else None
    if mode == "compare":
        from chatterm.cli import compare
        from chatterm.cli.ask_output import reply_json

        session = new_session(store, config, conversation)
        turn = session.new_compare(prompt, compare.compare_models(args, config, conversation),
                                   attachments)
        printer = compare.ComparePrinter(out, turn.replies, quiet=args.json)
        replies = drive(session, store, lambda: session.compare(turn, printer))
        if args.json:
            out.json([reply_json(reply, saved) for reply in replies])
        else:
            printer.finish(replies)
        return compare.report(replies)
    session = new_session(store, config, conversation, tools)
    if store is None:
        session.blobs.update(blobs)
    single = printer_for(args, out, tools)
    ready = session.new_turn(prompt, attachments)  # the count is checked before anything
    message = drive(session, store, lambda: session.send(ready, single, prefix=args.prefix),
                    tools)
    return single.done(message, saved, as_json=args.json)


def history_blobs(store: Store, conversation: Conversation) -> dict[str, bytes]:
    """The bytes of every attachment in `conversation`'s messages, by sha256."""
    wanted = {a.sha256 for m in conversation.messages for a in m.attachments}
    return {sha256: store.attachment_data(sha256) for sha256 in sorted(wanted)}


def ask_tools(args: argparse.Namespace, config: Config) -> AskTools | None:
    """The MCP servers this ask runs tools with; None (nothing imported) without any."""
    if args.no_tools or not config.mcp.servers:
        if args.tool and not args.no_tools:
            from chatterm.cli.tools import chosen_servers

            chosen_servers(config, args.tool)  # the line saying how to configure one
        return None
    from chatterm.cli.tools import AskTools

    return AskTools.from_args(args, config)


def printer_for(args: argparse.Namespace, out: Out, tools: AskTools | None) -> Printer:
    why = None if tools is not None else "--no-tools" if args.no_tools else NO_TOOLS
    return Printer(out, quiet=args.json, no_tools=why,
                   approver=tools.approver if tools is not None else None)


def new_session(store: Store | None, config: Config, conversation: Conversation,
                tools: AskTools | None = None) -> ChatSession:
    from chatterm.engine.session import ChatSession

    session = ChatSession(store, config, conversation, persisted=bool(conversation.messages))
    if tools is not None:
        tools.attach(session)  # starts the servers: they connect while the store opens
    return session


def drive(session: ChatSession, store: Store | None,
          work: Callable[[], Coroutine[Any, Any, T]], tools: AskTools | None = None) -> T:
    """Run one exchange of `session` to its end (once its MCP servers are up), then close
    the session, the store (after the last queued save has landed) and the servers."""
    async def exchange() -> T:
        try:
            if tools is not None:
                await tools.ready()
            return await work()
        finally:
            await session.aclose()

    try:
        return asyncio.run(exchange())
    finally:
        try:
            if store is not None:
                from chatterm.engine.writer import settle

                settle(store)  # a second Ctrl+C stops the wait for the last save, not the save
                store.close()
        finally:
            if tools is not None:
                tools.close()
