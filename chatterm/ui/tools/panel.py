"""The tools panel (palette: "Tools"): the MCP servers, their state and tools, and
switches for this chat.

Each server is a line with its state (starting, ready, failed and why, disabled in the
config) and a switch; under it, each of its tools with one line of its description and
a switch of its own. The switches apply to the chat on screen only and last while the
app runs (AppTools keeps a ToolFilter per conversation id); a tool switched off is not
offered to the model from the next request on. The panel redraws as servers change
state, so a server that is still starting shows its tools once it is ready.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.content import Content
from textual.widgets import Checkbox, Label, Static

from chatterm.toolbox import ServerState, ServerStatus, ToolSpec
from chatterm.ui import inert
from chatterm.ui.dialogs.base import Dialog

if TYPE_CHECKING:
    from chatterm.ui.tools.hosting import AppTools


class _Switch(Checkbox):
    """A checkbox whose mark says on or off without colour: ▐X▌ on, ▐ ▌ off (the stock
    one draws X either way, only its colour changes; a monochrome terminal, a screen
    reader or tmux capture could not tell)."""

    def __init__(self, label: str, value: bool, **options: Any) -> None:
        super().__init__(Content(label), value, compact=True, **options)
        self.BUTTON_INNER = "X" if value else " "

    def watch_value(self) -> None:
        self.BUTTON_INNER = "X" if self.value else " "
        super().watch_value()
        self.refresh()


class _List(VerticalScroll, can_focus=False, inherit_bindings=False):
    """The switches scroll into view as they get the focus; ↑↓ move between them. (With
    a scroll container's own bindings, ↑↓ scrolled the list instead once it overflowed,
    and the focus stayed put.)"""


def server_line(status: ServerStatus) -> str:
    """`time · ready · 2 tools · asks first`, `web · failed` (why: on the line below)."""
    if status.state is ServerState.FAILED:
        return f"{status.name} · failed"
    if status.state is ServerState.DISABLED:
        return f"{status.name} · disabled in the config"
    if status.state is ServerState.STARTING:
        return f"{status.name} · starting…"
    count = len(status.tools)
    asks = "asks first" if status.approve == "ask" else "runs without asking"
    return f"{status.name} · ready · {count} tool{'' if count == 1 else 's'} · {asks}"


def tool_line(spec: ToolSpec, *, always: bool = False) -> str:
    """`get_current_time: Get current time in a specific timezone` (one line);
    `always` marks a tool of an asking server that runs unasked (always_allow)."""
    name = inert.line(spec.tool)
    if spec.name != spec.tool:  # renamed for the model: two servers share the name
        name += f" (as {inert.line(spec.name)})"
    if always:
        name += " (always allowed)"
    lines = inert.text(spec.description).strip().splitlines()
    return f"{name}: {' '.join(lines[0].split())}" if lines else name


class ToolsPanel(Dialog[None]):
    DEFAULT_CSS = """
    ToolsPanel { align: center middle; }
    ToolsPanel .tools-box {
        width: 90; max-width: 95%; height: auto; max-height: 95%;
        border: round $primary; background: $surface; padding: 0 1;
    }
    ToolsPanel #tools-list { height: auto; max-height: 55vh; }
    ToolsPanel Checkbox { width: 100%; }
    ToolsPanel Checkbox.-tool { margin-left: 4; }
    ToolsPanel .tools-none { color: $text-muted; }
    ToolsPanel .tools-why { color: $text-error; margin-left: 4; }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Close"),
        Binding("down", "app.focus_next", show=False),
        Binding("up", "app.focus_previous", show=False),
    ]

    def __init__(self, tools: AppTools, conversation_id: str, config_path: str = "") -> None:
        super().__init__()
        self.tools = tools
        self.conversation_id = conversation_id
        self._config_path = config_path
        # Widget id -> what its switch turns on and off.
        self._servers: dict[str, str] = {}
        self._tools: dict[str, str] = {}
        self._unwatch = tools.watch(self._statuses_changed)

    def compose(self) -> ComposeResult:
        self._servers.clear()
        self._tools.clear()
        switches = self.tools.filter_for(self.conversation_id)
        statuses = self.tools.statuses()
        with Vertical(classes="tools-box"):
            yield Label("Tools for this chat", classes="dialog-title", markup=False)
            with _List(id="tools-list"):
                if not statuses:
                    yield Static("No MCP servers are configured. Add a [mcp.servers.NAME] "
                                 f"table to {self._config_path or 'the config'} (see "
                                 "config.example.toml).", classes="tools-none", markup=False)
                for index, status in enumerate(statuses):
                    key = f"tools-server-{index}"
                    self._servers[key] = status.name
                    idle = status.state in (ServerState.DISABLED, ServerState.FAILED)
                    server_on = status.name not in switches.off_servers and not idle
                    yield _Switch(server_line(status), server_on, id=key, disabled=idle)
                    if status.state is ServerState.FAILED:
                        # Wrapped, whole: the reason is what the user needs to fix it.
                        yield Static(inert.server_words(status.error or "it did not start"),
                                     classes="tools-why", markup=False)
                    for number, spec in enumerate(status.tools):
                        key = f"tools-tool-{index}-{number}"
                        self._tools[key] = spec.label
                        # A tool keeps its own switch while its server is off.
                        always = status.approve == "ask" and not self.tools.asks(spec)
                        yield _Switch(tool_line(spec, always=always),
                                      spec.label not in switches.off_tools,
                                      id=key, classes="-tool", disabled=not server_on)
            # Two lines at 40 columns: it stays in view in a 15-row terminal.
            yield Static("Space switches (this chat, until chatterm quits) · Esc closes",
                         classes="dialog-help", markup=False)

    def on_mount(self) -> None:
        for checkbox in self.query(Checkbox):
            if not checkbox.disabled:
                checkbox.focus()
                break

    def on_unmount(self) -> None:
        self._unwatch()

    @property
    def server_switches(self) -> dict[str, str]:
        """Switch id -> the server it switches (read by tests and front ends)."""
        return dict(self._servers)

    @property
    def tool_switches(self) -> dict[str, str]:
        """Switch id -> the tool (server.tool) it switches."""
        return dict(self._tools)

    @on(Checkbox.Changed)
    def _switched(self, event: Checkbox.Changed) -> None:
        event.stop()
        key = event.checkbox.id or ""
        if key in self._servers:
            self.tools.switch(self.conversation_id, server=self._servers[key],
                              on=event.value)
            self._statuses_changed()  # its tools' switches follow
        elif key in self._tools:
            self.tools.switch(self.conversation_id, tool=self._tools[key], on=event.value)

    def _statuses_changed(self) -> None:
        self.run_worker(self._redraw, group="tools-redraw",  # type: ignore[arg-type]
                        exclusive=True)

    async def _redraw(self) -> None:
        focused = self.focused.id if self.focused is not None else None
        await self.recompose()
        if focused is not None:
            for widget in self.query(f"#{focused}"):
                widget.focus()
