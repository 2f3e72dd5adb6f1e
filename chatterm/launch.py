"""What the command line asks the app to open, and getting it ready before Textual loads.

`prepare_launch` reads the config, opens the store and picks the conversation without
importing Textual, so a bad flag (`--resume nope`, an unknown provider) ends as one line
on stderr from the CLI instead of a flash of full-screen app.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from chatterm.config import Config
    from chatterm.conversation import Conversation
    from chatterm.screen_state import ScreenState
    from chatterm.store import Store
    from chatterm.tree import Shape

# How many messages a reopened conversation mounts at first; earlier ones load on scroll.
FIRST_PAGE = 50


class SavedChats(Protocol):
    """What opening a saved conversation reads (chatterm.store.Store)."""

    def path_length(self, conversation_id: str) -> int: ...

    def path_index(self, conversation_id: str, message_id: str) -> int | None: ...

    def shape(self, conversation_id: str) -> Shape: ...

    def set_current(self, conversation_id: str, leaf_id: str) -> None: ...

    def get_conversation(self, conversation_id: str, *,
                         last_n: int | None = None) -> Conversation: ...


@dataclass(slots=True, frozen=True)
class LaunchOptions:
    # Provider and model for a new chat; None means "from the config".
    provider: str | None = None
    model: str | None = None
    # `-c`: reopen the most recently updated conversation.
    continue_last: bool = False
    # `--resume ID`: a full id or a unique prefix of one.
    resume_id: str | None = None


@dataclass(slots=True)
class OpenedConversation:
    """A conversation as the chat screen shows it: maybe only its last page of messages."""

    conversation: Conversation
    # True when the conversation has a row in the store (a new chat gets one on send).
    saved: bool = False
    # Index of conversation.messages[0] on the current branch; > 0: older ones exist.
    first_position: int = 0
    # False when conversation.messages holds only the last page: the full history is
    # loaded before anything is sent, since every request carries all of it.
    complete: bool = True


@dataclass(slots=True)
class LaunchState:
    config: Config
    store: Store | None
    opened: OpenedConversation
    # Lines to show in the app (config warnings, store problems): stderr is hidden there.
    notes: list[str] = field(default_factory=list)
    # Provider/model asked for on the command line, applied to a reopened conversation too.
    override: tuple[str, str] | None = None
    # How the screen was left last time (None: as on a first run).
    screen: ScreenState | None = None


def new_conversation(config: Config, provider: str | None = None,
                     model: str | None = None) -> Conversation:
    """An unsaved chat with the config's (or the given) provider, model and system prompt."""
    from chatterm.conversation import Conversation

    provider_config = config.provider(provider)
    chosen = model or config.model_for(provider_config.name) or ""
    return Conversation(
        provider=provider_config.name, model=chosen, system_prompt=config.system_prompt
    )


def open_saved(store: SavedChats, conversation_id: str,
               page: int = FIRST_PAGE) -> OpenedConversation:
    """The last `page` messages of a saved conversation's current branch, with where
    they start on it."""
    conversation = store.get_conversation(conversation_id, last_n=page)
    loaded = len(conversation.messages)
    # A page that starts at a root is the whole branch: no need to measure it.
    whole = not conversation.messages or conversation.messages[0].parent_id is None
    total = loaded if whole else store.path_length(conversation_id)
    return OpenedConversation(
        conversation=conversation,
        saved=True,
        first_position=total - loaded,
        complete=loaded >= total,
    )


def open_at(store: SavedChats, conversation_id: str, message_id: str, *, above: int,
            page: int = FIRST_PAGE) -> OpenedConversation:
    """A saved conversation opened at one of its messages (a search hit), loaded from
    `above` messages before it to the end of the branch (at least `page` messages).

    A message on another branch than the current one is shown on its branch: the most
    recently active branch through it becomes the current one first, and that is saved,
    so the chat shows the same branch after a relaunch.
    """
    index = store.path_index(conversation_id, message_id)
    if index is None:
        leaf = store.shape(conversation_id).latest_leaf(message_id)
        if leaf is not None:
            store.set_current(conversation_id, leaf)
        index = store.path_index(conversation_id, message_id) or 0
    from_end = store.path_length(conversation_id) - index
    return open_saved(store, conversation_id, max(page, from_end + above))


def prepare_launch(options: LaunchOptions) -> LaunchState:
    """Config, store and the conversation to show. Raises ChattermError for bad input."""
    from chatterm.config import load_config
    from chatterm.screen_state import load_screen_state, save_screen_state
    from chatterm.store import Store

    config = load_config()
    notes = list(config.warnings)
    screen, screen_problem = load_screen_state()
    if screen_problem:
        notes.append(screen_problem)
        # Replaced by the defaults now, so the damage is reported once, not every launch.
        if save_problem := save_screen_state(screen):
            notes.append(save_problem)
    override: tuple[str, str] | None = None
    if options.provider or options.model:
        # Validate now: an unknown provider is a usage error with close matches.
        provider = config.provider(options.provider).name
        model = options.model or config.model_for(provider) or ""
        override = (provider, model)
    store = Store.open()
    try:
        wanted: str | None = None
        if options.resume_id is not None:  # `--resume ''` is a mistake, not "no resume"
            wanted = store.resolve_id(options.resume_id)
        elif options.continue_last:
            wanted = store.last_conversation_id()
            if wanted is None:
                notes.append("no saved conversation to continue yet: this is a new chat")
        if wanted is not None:
            opened = open_saved(store, wanted)
            if override is not None:
                opened.conversation.provider, opened.conversation.model = override
        else:
            opened = OpenedConversation(
                new_conversation(config, *(override or (None, None)))
            )
    except BaseException:
        store.close()
        raise
    return LaunchState(config=config, store=store, opened=opened, notes=notes,
                       override=override, screen=screen)
