"""chatterm's action registry, without Textual: every action, its keys, and `[keys]` checks.

An *action* is a chatterm name such as ``switch_model``. This one table says, for each:
its default keys, where it acts (its scope), its footer label, whether the footer and the
command palette show it (and under which title), and its group and wording in the
README's keys table. Everything else is derived from it: the Textual bindings
(`chatterm.ui.keys.bindings_for(scope)`), the footer's order, the palette's entries
(`chatterm.ui.commands`), the README table (a test compares it with `readme_keys_table`)
and the checks of `[keys]` below. It lives in the core, so `chatterm config set
keys.ACTION KEY` checks a key exactly as the app will, without loading Textual.

Scopes: "app" actions are bindings of the app (they work from any widget), "chat" ones
bindings of the chat screen; "prompt" actions are handled by the prompt widget itself
(send, newline, history, scrolling the chat); "message" ones are bindings of a focused
message; "compare" ones bindings of the columns of a model comparison (ui/compare/);
"queue" ones bindings of the queued prompts while they have the focus (ui/chat/queue_view.py).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

Scope = Literal["app", "chat", "prompt", "message", "compare", "queue"]
# Keys of these scopes fire whatever widget has the focus.
_EVERYWHERE: frozenset[Scope] = frozenset({"app", "chat"})
# Keys of these scopes fire only while their widget has the focus, which is a mode the
# user entered on purpose: a single letter is fine there.
_FOCUSED: frozenset[Scope] = frozenset({"message", "compare", "queue"})


@dataclass(frozen=True, slots=True)
class KeyAction:
    name: str  # the action id: `[keys]` entries, `action_<name>` methods
    default: str  # comma-separated alternatives; "" = unbound by default
    description: str  # short, for the footer
    help: str  # longer: the README's "does" column, tooltips
    scope: Scope = "app"
    show: bool = True  # shown in the footer
    group: str = "Anywhere"  # the README table it is listed in
    palette: str = ""  # its title in the command palette ("" = not listed there)
    palette_help: str = ""  # the palette's line under that title
    priority: bool = False  # fires even when a focused widget has the same key


_PROMPT = "In the prompt"
_SCROLL = "Scrolling the chat (from the prompt)"
_MESSAGE = "On a focused message"
_COMPARE = "On the columns of a model comparison"
_QUEUE = "On the queued prompts"

# Keys avoid the ones TextArea already uses (ctrl+a/c/d/k/u/v/w/x/y/z, f6, f7): the
# prompt has focus nearly all the time and a focused widget's bindings win over the app's.
# The order is the README's, the palette's and the footer's (the footer puts a focused
# widget's keys first, then the rest in this order, as far as they fit).
ACTIONS: tuple[KeyAction, ...] = (
    KeyAction("send", "enter", "Send", "Send the prompt (while a reply streams: queue it; in "
              "an empty prompt, with the queue held: send the next queued one)", "prompt",
              show=False, group=_PROMPT),
    KeyAction(
        "newline", "shift+enter,ctrl+j,alt+enter", "Newline",
        "Insert a newline in the prompt (Shift+Enter only where the terminal tells it from "
        "Enter)", "prompt", show=False, group=_PROMPT,
    ),
    KeyAction("history_previous", "ctrl+up", "Earlier",
              "Recall an earlier prompt of this chat (also ↑ in an empty prompt)", "prompt",
              show=False, group=_PROMPT),
    KeyAction("history_next", "ctrl+down", "Later",
              "A later prompt, then back to the draft (also ↓ while recalling)", "prompt",
              show=False, group=_PROMPT),
    KeyAction("clear_prompt", "ctrl+u", "Clear",
              "Clear the prompt (Ctrl+Z brings the text back)", "prompt", show=False,
              group=_PROMPT),
    # Shown in the footer (a binding of the prompt's own, see ui/chat/prompt.py).
    KeyAction("edit_in_editor", "ctrl+e", "Editor", "Edit the prompt in $VISUAL or $EDITOR "
              "(else vi): what it saves is the prompt", "prompt", group=_PROMPT),
    # Also shown in the footer; the chips it makes sit above the prompt (ui/attach/).
    KeyAction("attach_file", "ctrl+a", "Attach", "Attach a file or image to the next "
              "prompt: a path (Tab completes) or a pick in the file tree; Backspace in an "
              "empty prompt removes the last one", "prompt", group=_PROMPT),
    KeyAction("scroll_page_up", "pageup", "Page up", "Scroll the chat up a page", "prompt",
              show=False, group=_SCROLL),
    KeyAction("scroll_page_down", "pagedown", "Page down", "Scroll the chat down a page",
              "prompt", show=False, group=_SCROLL),
    KeyAction("scroll_top", "home", "Top",
              "Scroll to the top of the chat (Ctrl+Home: start of the prompt)", "prompt",
              show=False, group=_SCROLL),
    KeyAction("scroll_bottom", "end", "Bottom",
              "Scroll to the end of the chat (Ctrl+End: end of the prompt)", "prompt",
              show=False, group=_SCROLL),
    KeyAction("copy_message", "c", "Copy", "Copy the focused message", "message",
              group=_MESSAGE),
    KeyAction("copy_code", "b", "Copy code",
              "Copy a code block of the focused message (again: the next one)", "message",
              group=_MESSAGE),
    # A message with other versions shows `‹ 2/3 ›` in its header (ui/chat/versions.py).
    KeyAction("previous_version", "left,[", "Previous",
              "Show the previous version of the focused message (or click ‹)", "message",
              group=_MESSAGE),
    KeyAction("next_version", "right,]", "Next",
              "Show the next version of the focused message (or click ›)", "message",
              group=_MESSAGE),
    KeyAction("edit_prompt", "e", "Edit",
              "Edit the focused prompt in the prompt box: Enter sends it as a new version "
              "(the old one stays), Esc cancels", "message", group=_MESSAGE),
    KeyAction("regenerate", "r", "Regenerate",
              "Regenerate the focused reply as a new version", "message", group=_MESSAGE),
    KeyAction("regenerate_with", "R", "Other model",
              "Regenerate the focused reply with a model you pick (for that reply only)",
              "message", group=_MESSAGE),
    KeyAction("delete_message", "delete", "Delete msg",
              "Delete the focused message and everything below it, on every branch (asks "
              "first)", "message", group=_MESSAGE),
    KeyAction("keep_reply", "enter,k", "Keep",
              "Keep the chosen column's reply (←/→ choose): it becomes the current branch",
              "compare", group=_COMPARE),
    KeyAction("remove_queued", "delete,backspace", "Remove",
              "Remove the picked queued prompt (↑/↓ pick; or click its ✕)", "queue",
              group=_QUEUE),
    # Quit first: with little room the footer keeps the way out.
    KeyAction("quit", "ctrl+q", "Quit", "Quit (a partial reply is kept)", priority=True),
    KeyAction("stop", "escape", "Stop", "Stop the reply being streamed (queued prompts are "
              "then held; again: clear them)", scope="chat"),
    KeyAction("retry", "ctrl+r", "Retry",
              "Retry the last reply, or regenerate it as a new version (again: another)",
              palette="Retry reply", palette_help="Regenerate the last reply as a new version",
              scope="chat"),
    KeyAction("continue_reply", "ctrl+g", "Continue", "Continue an interrupted reply",
              palette="Continue reply", palette_help="Resume an interrupted reply", scope="chat"),
    KeyAction("switch_model", "ctrl+o", "Model", "Switch model or provider",
              palette="Switch model", palette_help="Pick another model or provider", scope="chat"),
    KeyAction("compare_models", "f9", "Compare",
              "Compare models: pick 2 to 4, the next prompt goes to all of them",
              palette="Compare models",
              palette_help="Send the next prompt to 2 to 4 models, side by side; keep one",
              scope="chat"),
    KeyAction("toggle_sidebar", "ctrl+b", "Chats", "Show or hide the saved chats",
              palette="Toggle sidebar", palette_help="Show or hide the saved chats", scope="chat"),
    KeyAction("search_chats", "ctrl+f", "Search", "Search the text of all saved chats",
              palette="Search chats", palette_help="Search the text of all saved chats",
              scope="chat"),
    KeyAction("new_chat", "ctrl+n", "New", "Start a new chat",
              palette="New chat", palette_help="Start a new conversation", scope="chat"),
    KeyAction("new_chat_with_role", "ctrl+l", "Role", "Start a new chat with a saved role",
              show=False, palette="New chat with role…",
              palette_help="A new chat with a role's system prompt, model and parameters",
              scope="chat"),
    KeyAction("rename_chat", "f2", "Rename", "Rename the current chat",
              palette="Rename chat", palette_help="Give the current chat another title",
              scope="chat"),
    KeyAction("copy_last_reply", "f3", "Copy", "Copy the last reply to the clipboard",
              palette="Copy last reply", palette_help="Copy the last reply to the clipboard",
              scope="chat"),
    KeyAction("edit_system_prompt", "f4", "System", "Edit the system prompt of this chat",
              palette="Edit system prompt",
              palette_help="Change the system prompt of this chat", scope="chat"),
    KeyAction("edit_params", "f5", "Params", "Edit temperature, max tokens, stop, seed",
              palette="Edit parameters",
              palette_help="Temperature, top P, max tokens, stop sequences, seed", scope="chat"),
    KeyAction("delete_chat", "f8", "Delete", "Delete the current chat (asks first)",
              palette="Delete chat", palette_help="Delete the current chat (asks first)",
              scope="chat"),
    KeyAction("export_chat", "ctrl+s", "Export", "Export the chat to Markdown or JSON",
              palette="Export chat", palette_help="Write the chat to a Markdown or JSON file",
              scope="chat"),
    KeyAction("show_tree", "ctrl+t", "Tree", "Show the conversation tree: jump to any branch",
              palette="Show the conversation tree",
              palette_help="Every branch of this chat; Enter shows the one picked",
              scope="chat"),
    KeyAction("fork_chat", "", "Fork",
              "Fork a new chat from the focused message (or the last one)", show=False,
              palette="Fork chat here",
              palette_help="A new chat holding this branch up to the focused message",
              scope="chat"),
    KeyAction("show_tools", "", "Tools",
              "The MCP servers and their tools: switch them on and off for this chat",
              show=False, palette="Tools",
              palette_help="MCP servers, their state and tools; switches for this chat"),
    # No default key: the free ones are taken by terminals (F1 help, F10 menu, F11 full
    # screen) or by the example config (F12); `[keys] show_usage = "..."` gives it one.
    KeyAction("show_usage", "", "Usage",
              "What the saved replies cost: tokens and cost per day, model or provider",
              show=False, palette="Usage",
              palette_help="Tokens and cost of the saved replies, per day, model or provider",
              scope="chat"),
    KeyAction("change_theme", "", "Theme", "Pick a theme (previews live, saved)", show=False,
              palette="Change theme",
              palette_help="Preview themes as you move; Enter keeps and saves one"),
)

ACTIONS_BY_NAME: dict[str, KeyAction] = {action.name: action for action in ACTIONS}

DEFAULT_KEYMAP: dict[str, str] = {action.name: action.default for action in ACTIONS}

PALETTE_ACTIONS: tuple[KeyAction, ...] = tuple(action for action in ACTIONS if action.palette)
"""The actions the command palette lists; the chat screen (scope "chat") or the app
(scope "app") defines `action_<name>` for each."""

ORDER: dict[str, int] = {action.name: index for index, action in enumerate(ACTIONS)}
"""Each action's place in the registry: the footer sorts its keys by it."""


def actions_in(scope: Scope) -> tuple[KeyAction, ...]:
    return tuple(action for action in ACTIONS if action.scope == scope)


def key_help(action: KeyAction) -> str:
    """The default keys as the README lists them ("(palette)" for an unbound action)."""
    return action.default.replace(",", ", ") or "(palette)"


def readme_keys_table() -> str:
    """The README's keys tables, one per group, in registry order (a test compares)."""
    blocks: list[list[str]] = []
    group = None
    for action in ACTIONS:
        if action.group != group:
            group = action.group
            blocks.append([f"#### {group}", "", "| key | does | action name |", "|---|---|---|"])
        blocks[-1].append(f"| {key_help(action)} | {action.help} | `{action.name}` |")
    return "\n\n".join("\n".join(block) for block in blocks) + "\n"


_MODIFIERS = frozenset({"ctrl", "shift", "alt", "meta", "super", "hyper"})
_NAMED_KEYS = frozenset(
    {
        "escape", "enter", "tab", "space", "backspace", "delete", "insert",
        "home", "end", "pageup", "pagedown", "up", "down", "left", "right",
        *(f"f{n}" for n in range(1, 25)),
    }
)


# Keys Textual or the prompt editor already own: binding an app action to one would either
# break editing or never fire while the prompt has focus, so such entries are refused.
RESERVED_KEYS: dict[str, str] = {
    "tab": "moves the focus",
    "shift+tab": "moves the focus",
    "ctrl+c": "copies the selection",
    "ctrl+p": "opens the command palette",
    "ctrl+e": "opens the prompt in your editor",
    "ctrl+a": "attaches a file",
    **{
        key: "edits text in the prompt"
        for key in (
            "ctrl+d", "ctrl+k", "ctrl+u", "ctrl+v", "ctrl+w",
            "ctrl+x", "ctrl+y", "ctrl+z", "f6", "f7", "up", "down", "left", "right",
            "home", "end", "pageup", "pagedown", "backspace", "delete",
        )
    },
}


def key_problem(spec: str) -> str | None:
    """Why `spec` (comma-separated keys such as "ctrl+o,f9") is not a valid key, or None."""
    if not spec.strip():
        return "is empty"
    for key in spec.split(","):
        key = key.strip()
        if not key:
            return f"{spec!r} has an empty entry"
        *modifiers, base = key.split("+")
        if not base:
            return f"{key!r} ends with '+' (the plus key is called 'plus')"
        unknown = [m for m in modifiers if m.lower() not in _MODIFIERS]
        if unknown:
            return f"{key!r} has an unknown modifier {unknown[0]!r}"
        if not _is_key_name(base):
            return f"{key!r} is not a key Textual knows (examples: ctrl+o, f2, escape)"
    return None


def _is_key_name(base: str) -> bool:
    if len(base) == 1:
        return base.isprintable()
    lowered = base.lower()
    if lowered in _NAMED_KEYS:
        return True
    # Character names as Textual spells them: "comma", "question_mark", "full_stop"...
    try:
        unicodedata.lookup(lowered.replace("_", " "))
    except KeyError:
        return lowered in {"slash", "backslash", "at", "minus", "plus", "underscore"}
    return True


def _split(spec: str) -> list[str]:
    # Single characters keep their case: "A" is shift+a to Textual.
    keys = (key.strip() for key in spec.split(","))
    return [key if len(key) == 1 else key.lower() for key in keys if key]


@dataclass(frozen=True, slots=True)
class KeyNote:
    """One thing `resolve_keys` has to say about a `[keys]` entry.

    `took_from` is set when the entry was applied but took a key from another action's
    defaults (the rebinding working); `left` is then what that action has now, "" for no
    key at all. Otherwise the entry was refused and the action kept its default.
    """

    action: str
    detail: str  # completes "[keys] ACTION: ..."
    took_from: str | None = None
    left: str = ""

    @property
    def refused(self) -> bool:
        return self.took_from is None

    def __str__(self) -> str:
        return f"[keys] {self.action}: {self.detail}"


def resolve_keys(config_keys: Mapping[str, object]) -> tuple[dict[str, str], list[str]]:
    """Apply the config's `[keys]` table to the defaults.

    Returns (keymap action -> key spec, problems). Each problem is one line naming the
    `keys.<action>` entry; a rejected entry leaves that action on its default key.
    An empty string unbinds an action.
    """
    keymap, notes = resolve_key_notes(config_keys)
    return keymap, [str(note) for note in notes]


def resolve_key_notes(config_keys: Mapping[str, object]) -> tuple[dict[str, str], list[KeyNote]]:
    """`resolve_keys` with each problem as a KeyNote, for callers that act on its kind."""
    keymap = dict(DEFAULT_KEYMAP)
    notes: list[KeyNote] = []
    requested: dict[str, str] = {}
    for action, spec in config_keys.items():
        if action not in ACTIONS_BY_NAME:
            notes.append(KeyNote(action, f"unknown action{_close(action)}"))
            continue
        if not isinstance(spec, str):
            notes.append(KeyNote(action, 'must be a string like "ctrl+o"'))
            continue
        if spec.strip() == "":
            keymap[action] = ""
            continue
        problem = key_problem(spec)
        if problem:
            notes.append(KeyNote(action, problem))
            continue
        scope = ACTIONS_BY_NAME[action].scope
        if scope not in _FOCUSED:
            typed = [key for key in _split(spec) if _types_a_character(key)]
            if typed:
                notes.append(KeyNote(action, f"{typed[0]!r} would be typed into the prompt; "
                                             "use a ctrl+, alt+ or F key"))
                continue
        if scope in _EVERYWHERE:
            taken = [key for key in _split(spec) if key in RESERVED_KEYS]
            if taken:
                notes.append(KeyNote(
                    action, f"{taken[0]!r} {RESERVED_KEYS[taken[0]]}; pick another key"))
                continue
        requested[action] = ",".join(_split(spec))
    # One key drives one action where both can fire: the first entry naming a key wins...
    accepted: dict[str, str] = {}
    claimed: dict[str, list[str]] = {}
    for action, spec in requested.items():
        scope = ACTIONS_BY_NAME[action].scope
        clash = next(
            ((k, other) for k in _split(spec) for other in claimed.get(k, ())
             if _overlap(scope, ACTIONS_BY_NAME[other].scope)),
            None,
        )
        if clash is not None:
            notes.append(KeyNote(action, f"{clash[0]!r} is also given to {clash[1]}; "
                                         f"{action} keeps its default {DEFAULT_KEYMAP[action]!r}"))
            continue
        for key in _split(spec):
            claimed.setdefault(key, []).append(action)
        accepted[action] = spec
    keymap.update(accepted)
    # ...and a user's choice beats a default it collides with.
    for action, spec in accepted.items():
        scope = ACTIONS_BY_NAME[action].scope
        for key in _split(spec):
            for other, other_spec in keymap.items():
                if other in accepted or not _overlap(scope, ACTIONS_BY_NAME[other].scope):
                    continue
                if key in _split(other_spec):
                    remaining = [k for k in _split(other_spec) if k != key]
                    keymap[other] = ",".join(remaining)
                    notes.append(KeyNote(
                        action, f"{key!r} was the key for {other}, "
                                f"which is now {keymap[other] or 'unbound'}",
                        took_from=other, left=keymap[other]))
    return keymap, notes


def _overlap(one: Scope, other: Scope) -> bool:
    """Whether keys of the two scopes can fire at the same moment: app and chat keys work
    from anywhere, but the prompt and a message are never focused together."""
    return one == other or one in _EVERYWHERE or other in _EVERYWHERE


def _types_a_character(key: str) -> bool:
    # "x", "X", "shift+x", "space": what the prompt takes as text, not as a command.
    *modifiers, base = key.split("+")
    if any(m.lower() not in ("shift",) for m in modifiers):
        return False
    return len(base) == 1 or base.lower() == "space" or (
        len(base) > 1 and base.lower() not in _NAMED_KEYS and _is_key_name(base)
    )


def _close(action: str) -> str:
    import difflib

    close = difflib.get_close_matches(action, list(ACTIONS_BY_NAME), n=3, cutoff=0.6)
    if close:
        return f" (did you mean {', '.join(close)}?)"
    return f" (known: {', '.join(ACTIONS_BY_NAME)})"


def keys_for(keymap: Mapping[str, str], action: str) -> list[str]:
    """The individual keys bound to `action`, e.g. ["shift+enter", "ctrl+j", "alt+enter"]."""
    return _split(keymap.get(action, ""))
