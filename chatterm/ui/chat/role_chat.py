"""New chat with role: the role picker, then a new, unsaved chat with the role's settings.

The chat gets the role's system prompt, params and (through roles.role_model) provider and
model, and Conversation.role; like Ctrl+N's chat it is written by the engine at the first
send, so picking a role and leaving writes nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from chatterm.errors import ChattermError

if TYPE_CHECKING:
    from chatterm.conversation import Conversation
    from chatterm.roles import SavedRole
    from chatterm.ui.chat.screen import ChatScreen


def ask_role(screen: ChatScreen) -> None:
    """Load the roles (bad ones as one notification), show the picker, open the chat."""
    from chatterm.roles import load_roles, roles_dir
    from chatterm.ui.pickers.role_picker import RolePicker

    config = screen.services.config
    roles = load_roles(config)
    problems = roles.lines()
    if problems:
        screen.notify("\n".join(problems), title="Some roles cannot be used",
                      severity="warning", timeout=12)
    picker = RolePicker(list(roles.found.values()), str(roles_dir(config)))

    def picked(name: str | None) -> None:
        if name is not None:
            start_role_chat(screen, roles.found[name])
        screen.prompt.focus()

    screen.app.push_screen(picker, picked)


def start_role_chat(screen: ChatScreen, role: SavedRole) -> None:
    from chatterm.launch import OpenedConversation

    try:
        conversation = role_conversation(screen, role)
    except ChattermError as exc:  # e.g. the role's provider was removed meanwhile
        screen.notify(str(exc), severity="error")
        return
    screen.open_conversation(OpenedConversation(conversation))


def role_conversation(screen: ChatScreen, role: SavedRole) -> Conversation:
    from chatterm.conversation import Conversation
    from chatterm.roles import role_model

    # The role's provider and model win over `--provider/--model` given at launch: picking
    # a role is asking for its settings.
    provider, model = role_model(screen.services.config, role, None, None)
    return Conversation(provider=provider, model=model or "", system_prompt=role.system_prompt,
                        params=role.params, role=role.name)
