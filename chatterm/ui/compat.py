"""Every use chatterm makes of Textual's private names and behaviour, and nowhere else.

Textual is pinned to the version below. Where Textual has no public way to do something
chatterm needs, the private reach lives here, with the reason, so an upgrade has one
module to re-check. `version_note()` says so in one line when the installed Textual is
not the one this module was written for; nothing here crashes on it: each reach that
can be missing degrades to doing nothing. tests/test_textual_compat.py fails when a
private Textual name is used anywhere else in chatterm/.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from textual.app import App
    from textual.binding import BindingsMap
    from textual.dom import DOMNode
    from textual.driver import Driver
    from textual.geometry import Size
    from textual.widget import Widget
    from textual.widgets import Footer
    from textual.widgets._footer import FooterKey

    _Base = Widget
else:
    _Base = object

WRITTEN_FOR = "8.2.8"
"""The Textual version every reach below was read from (its source, in site-packages)."""


def version_note(installed: str | None = None) -> str | None:
    """One line for the user when Textual is not WRITTEN_FOR, else None."""
    if installed is None:
        import textual

        installed = textual.__version__
    if installed == WRITTEN_FOR:
        return None
    return (f"Textual {installed} is installed; chatterm was written for {WRITTEN_FOR}. "
            "Some display details may differ (see chatterm/ui/compat.py).")


class SingleLayout(_Base):
    """A widget mixin that spares Textual a second, idle layout pass.

    When a layout changes a widget's virtual size, Textual stores the new size through
    a reactive that asks for *another* full layout of the screen. For our reply widgets
    that second pass has nothing left to change (the size was set by the pass that is
    running, and the message list keeps a stable scrollbar gutter), yet it repaints the
    screen: one wasted frame each time a streaming reply grows. Textual itself stores
    the size without the extra layout when it only scrolls; this makes our widgets do
    the same always. Mix in before the Textual widget class.

    Overrides `Widget._size_updated`; tests/test_streaming_markdown.py checks that a
    growing reply costs one layout.
    """

    def _size_updated(
        self, size: Size, virtual_size: Size, container_size: Size, layout: bool = True
    ) -> bool:
        return super()._size_updated(size, virtual_size, container_size, layout=False)


def teach_key_sequences(keys: dict[str, str]) -> None:
    """Make each escape sequence (key of `keys`) arrive as one key event of that name.

    Textual's input parser has no public way to add a sequence; its table is
    `textual._ansi_sequences.ANSI_SEQUENCES_KEYS`, and an object with a `.value` key
    name is all the parser reads from an entry. Sequences Textual knows stay its own.
    """
    try:
        from textual._ansi_sequences import ANSI_SEQUENCES_KEYS
    except ImportError:  # a Textual without the table: the keys stay as they were
        return
    if not isinstance(ANSI_SEQUENCES_KEYS, dict):  # typed as a Mapping; a dict in 8.2.8
        return
    for sequence, name in keys.items():
        ANSI_SEQUENCES_KEYS.setdefault(sequence, (_KeyName(name),))


class _KeyName:
    """What the parser reads from a table entry."""

    __slots__ = ("value",)

    def __init__(self, value: str) -> None:
        self.value = value


def driver_of(app: App[Any]) -> Driver | None:
    """The app's terminal driver, to write a query to the terminal (no public accessor)."""
    return getattr(app, "_driver", None)


def apply_first_theme(app: App[Any], name: str) -> None:
    """Set the app's theme before the stylesheet is first read.

    Setting `App.theme` runs `App._watch_theme`, which re-parses and applies all the
    CSS (about a sixth of the start-up); this does what that watcher does, minus the
    CSS refresh nothing needs yet.
    """
    app.set_reactive(type(app).theme, name)
    dark = app.current_theme.dark
    stale = {cls: False for cls in app.classes if cls.startswith("-theme-")}
    app.update_classes({**stale, f"-theme-{name}": True, "-dark-mode": dark,
                        "-light-mode": not dark}, update=False)
    refresh_filter = getattr(app, "_refresh_truecolor_filter", None)
    if refresh_filter is not None:
        refresh_filter(app.ansi_theme)
    app.stylesheet.set_variables(app.get_css_variables())


def footer_key_type() -> type[FooterKey]:
    """Textual's footer key widget, which textual.widgets does not export; KeyFooter
    lays these out in rows of its own."""
    from textual.widgets._footer import FooterKey

    return FooterKey


def footer_bindings_ready(footer: Footer) -> bool:
    """Has the footer received the screen's bindings (Footer's own compose waits too)?"""
    return bool(getattr(footer, "_bindings_ready", True))


def anchor_from_bottom(widget: Widget) -> None:
    """Anchor a scrolling widget from when the reader next reaches its bottom, not at
    once: `Widget.anchor()` scrolls to the end at once, and `release_anchor()` cannot
    set the anchor. These are the two flags both of them set."""
    widget._anchored = True
    widget._anchor_released = True


def anchor_released(widget: Widget) -> bool:
    """Has the reader scrolled away from an anchored widget's bottom?"""
    return bool(getattr(widget, "_anchor_released", False))


def node_bindings(node: DOMNode) -> BindingsMap:
    """The per-node copy Textual makes of a class's BINDINGS (no public accessor)."""
    return node._bindings


def set_node_bindings(node: DOMNode, bindings: BindingsMap) -> None:
    """Replace a node's bindings; the footer and key lookups read them from there."""
    node._bindings = bindings


__all__ = [
    "WRITTEN_FOR",
    "SingleLayout",
    "anchor_from_bottom",
    "anchor_released",
    "apply_first_theme",
    "driver_of",
    "footer_bindings_ready",
    "footer_key_type",
    "node_bindings",
    "set_node_bindings",
    "teach_key_sequences",
    "version_note",
]
