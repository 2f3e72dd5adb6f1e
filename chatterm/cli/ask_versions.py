"""`ask --regenerate [MESSAGE_ID]` and `ask --edit MESSAGE_ID PROMPT...`: a new version of a
reply or of a prompt, saved as a sibling of the old one; the old branch stays."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from chatterm.cli.ask import (
    ask_tools,
    drive,
    new_session,
    params_from_args,
    printer_for,
    read_prompt,
)
from chatterm.cli.ask_modes import Mode, chosen_model, saved_conversation, target_message
from chatterm.cli.output import Out
from chatterm.conversation import Role
from chatterm.errors import UsageError

if TYPE_CHECKING:
    from chatterm.config import Config


def run_version(mode: Mode, args: argparse.Namespace, config: Config) -> int:
    from chatterm.cli.ask_attach import load_attachments, stdin_taken
    from chatterm.store import Store

    if mode == "regenerate" and args.attach:
        raise UsageError("--regenerate takes no attachments (it re-sends the prompt's own)")
    # An edit without -a keeps the old prompt's attachments; with -a, these replace them.
    attachments = load_attachments(args, config)
    tools = ask_tools(args, config)  # --tool names checked before anything is opened
    # Only a saved conversation has versions: with no database there is nothing to open.
    store = Store.open_existing()
    try:
        conversation = store.get_conversation(saved_conversation(args, store))
        if args.system is not None:
            conversation.system_prompt = args.system
        conversation.params = conversation.params.merged(params_from_args(args))
        provider, model = chosen_model(args, config, conversation)
        explicit = args.conversation is not None
        target: str | None
        if mode == "regenerate":
            # --regenerate alone (True): the current branch's last reply.
            target = None if args.regenerate is True else target_message(
                store, conversation, args.regenerate, Role.ASSISTANT, named=explicit).id
            prompt = ""
        else:
            target = target_message(store, conversation, args.edit, Role.USER,
                                    named=explicit).id
            prompt = read_prompt(args.prompt, editor=args.editor,
                                 attached=bool(attachments), stdin_taken=stdin_taken(args))
    except BaseException:
        store.close()
        raise
    out = Out()
    session = new_session(store, config, conversation, tools)
    printer = printer_for(args, out, tools)
    if mode == "regenerate":
        message = drive(session, store, lambda: session.regenerate(
            target, printer, provider=provider, model=model), tools)
    else:
        assert target is not None
        turn = session.new_edit(target, prompt, attachments or None)
        message = drive(session, store, lambda: session.edit(
            turn, printer, provider=provider, model=model), tools)
    return printer.done(message, conversation, as_json=args.json)
