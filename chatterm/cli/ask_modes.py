"""What `chatterm ask` was asked to do besides a plain prompt: --regenerate, --edit, or
compare (two or more -m), and the checks that refuse a mix that cannot mean anything."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Literal

from chatterm.conversation import Conversation, Message, Role
from chatterm.errors import UsageError

if TYPE_CHECKING:
    from chatterm.config import Config
    from chatterm.store import Store

Mode = Literal["send", "regenerate", "edit", "compare"]


def check_mode(args: argparse.Namespace) -> Mode:
    """The mode, or a UsageError (exit 2) for options that do not go together."""
    models: list[str] = args.model
    if args.role is not None and (args.continue_last or args.conversation is not None
                                  or args.regenerate is not None or args.edit is not None):
        # A role is where a chat starts; a continued one keeps its own prompt and model.
        raise UsageError("--role starts a new conversation: it cannot be used with -c, "
                         "--conversation, --regenerate or --edit (use --system or -m to "
                         "change a conversation)")
    if args.regenerate is not None:
        if args.prompt or args.editor:
            raise UsageError("--regenerate takes no prompt (to change the prompt, use "
                             "--edit MESSAGE_ID PROMPT...)")
        _one_model(models, "--regenerate")
        _saved_only(args, "--regenerate")
        return "regenerate"
    if args.edit is not None:
        _one_model(models, "--edit")
        _saved_only(args, "--edit")
        return "edit"
    if len(models) > 1:
        if args.prefix is not None:
            raise UsageError("--prefix cannot be used when comparing models (two or more -m)")
        if args.tool:
            raise UsageError("--tool cannot be used when comparing models (two or more -m): "
                             "a compare offers no tools")
        return "compare"
    return "send"


def _one_model(models: list[str], option: str) -> None:
    if len(models) > 1:
        raise UsageError(f"{option} takes one -m (comparing models needs a new prompt: "
                         "ask -m A -m B PROMPT)")


def _saved_only(args: argparse.Namespace, option: str) -> None:
    # A new version is a branch of a saved conversation; without saving it would vanish.
    if args.no_save:
        raise UsageError(f"--no-save cannot be used with {option}: the new version is "
                         "saved beside the old one")
    if args.prefix is not None:
        raise UsageError(f"--prefix cannot be used with {option}")


def saved_conversation(args: argparse.Namespace, store: Store) -> str:
    """The conversation --regenerate or --edit works on: --conversation ID, else the last
    one (-c or not: a new version only exists in a saved conversation)."""
    if args.conversation is not None:
        return store.resolve_id(args.conversation)
    last = store.last_conversation_id()
    if last is None:
        raise UsageError("there is no saved conversation yet")
    return last


def target_message(store: Store, conversation: Conversation, prefix: str,
                   role: Role, *, named: bool) -> Message:
    """The message `prefix` names in that conversation, checked to have `role`;
    `named`: the conversation was given (--conversation), not taken as the last one."""
    from chatterm.cli.trees import resolve_message

    try:
        message_id = resolve_message(store, conversation.id, prefix)
    except UsageError as error:
        if named:
            raise
        raise UsageError(f"{error.message} (the last conversation, {conversation.id[:8]}; "
                         "pass --conversation ID for another)") from None
    message = next((m for m in conversation.messages if m.id == message_id), None)
    if message is None:
        # Not on the current branch: the whole tree has it.
        tree = store.get_tree(conversation.id)
        message = next(m for m in tree.messages if m.id == message_id)
    if message.role is not role:
        if role is Role.ASSISTANT:
            hint = "regenerate a reply, or use --edit for a prompt"
        else:
            hint = "edit a prompt, or use --regenerate for a reply"
        raise UsageError(f"message {message_id[:8]} is a {_kind(message)}: {hint}")
    return message


def _kind(message: Message) -> str:
    return {Role.USER: "prompt", Role.ASSISTANT: "reply"}.get(message.role,
                                                             f"{message.role.value} message")


def chosen_model(args: argparse.Namespace, config: Config,
                 conversation: Conversation) -> tuple[str | None, str | None]:
    """(provider, model) a new version is made with: None, None keeps the conversation's."""
    if not args.provider and not args.model:
        return None, None
    provider = config.provider(args.provider or conversation.provider)
    model = (args.model[0] if args.model else None) or config.model_for(provider.name) \
        or conversation.model
    return provider.name, model
