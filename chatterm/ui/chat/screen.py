"""The main screen: the conversation, the status line and the prompt.

Every change to the open conversation goes through its ChatSession (the engine, reached
with `engine()`): the screen calls the session and draws what it reports, and never
writes to the store. The screen composes the widgets, keeps the focus chain and the
status line's hints, and hands each job to one helper: replies.py (the reply controller,
which owns the session), loading.py (which messages are mounted), edits.py (model,
title, system prompt, params, delete, export), sidebar_panel.py, copying.py and
chatterm.ui.branches (the tree view, forking, deleting a subtree).

The chat's keys are bound here (scope "chat" in chatterm.keymap) and its actions are
this screen's `action_*` methods; what it needs from the app comes in a `ChatServices`
(chatterm.ui.services), so this package never imports the app.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from textual import events, on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import Screen
from textual.widgets import Static

from chatterm.conversation import Role
from chatterm.ui import inert
from chatterm.ui.attach.chips import AttachmentTray
from chatterm.ui.attach.controller import AttachController
from chatterm.ui.attach.events import AttachRequested, EmptyBackspace, PathPasted
from chatterm.ui.attach.message_parts import PreviewWanted
from chatterm.ui.branches.actions import BranchActions
from chatterm.ui.chat.copying import copy_text
from chatterm.ui.chat.edits import ConversationEdits
from chatterm.ui.chat.focus import FocusHint, hint_for, region_chain, typed_for_prompt
from chatterm.ui.chat.key_hints import idle_hint
from chatterm.ui.chat.loading import HistoryLoader
from chatterm.ui.chat.message_actions import MessageActions
from chatterm.ui.chat.message_list import MessageList
from chatterm.ui.chat.message_view import MessageView
from chatterm.ui.chat.prompt import PromptInput
from chatterm.ui.chat.prompt_queue import QueueController
from chatterm.ui.chat.queue_view import QueuedPrompts
from chatterm.ui.chat.replies import ReplyController, last_reply_index
from chatterm.ui.chat.reveal import load_newer, show_hit
from chatterm.ui.chat.sidebar_panel import SIDEBAR_OVERLAY_BELOW, SidebarPanel
from chatterm.ui.chat.status_bar import StatusBar
from chatterm.ui.chat.tool_block import ToolBlock
from chatterm.ui.chat.versions import BranchView
from chatterm.ui.compare.controller import CompareController
from chatterm.ui.events import (
    ChatScrollRequested,
    ConversationChanged,
    MessageActionRequested,
    MessageFocusChanged,
    NewerMessagesWanted,
    OlderMessagesWanted,
    PromptSubmitted,
)
from chatterm.ui.keys import bindings_for, install_bindings
from chatterm.ui.widgets.key_footer import KeyFooter

if TYPE_CHECKING:
    from textual.binding import BindingType
    from textual.widget import Widget

    from chatterm.conversation import Conversation, Message
    from chatterm.engine.session import ChatSession
    from chatterm.launch import OpenedConversation
    from chatterm.ui.chat.sidebar import Sidebar
    from chatterm.ui.services import ChatServices


class ChatScreen(Screen[None]):
    """One conversation at a time; `open_conversation` swaps it."""

    AUTO_FOCUS = "#prompt"
    # Below SIDEBAR_OVERLAY_BELOW columns the sidebar is drawn over the chat (see the
    # stylesheet): beside it, the chat would be squeezed to a few columns. (No ClassVar:
    # Textual's annotation of it reads to mypy as an instance variable.)
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (SIDEBAR_OVERLAY_BELOW, "-wide")]  # noqa: RUF012

    BINDINGS: ClassVar[list[BindingType]] = [*bindings_for("chat")]

    def __init__(self, opened: OpenedConversation, services: ChatServices) -> None:
        super().__init__()
        self.opened = opened
        self.services = services
        # Unbound actions get no binding at all (Textual's keymap can only move one).
        install_bindings(self, services.keymap, "chat")
        self.replies = ReplyController(self)
        self.loader = HistoryLoader(self)
        self.edits = ConversationEdits(self)
        self.sidebar_panel = SidebarPanel(self)
        self.branches = BranchActions(self)
        self.versions = BranchView(self)  # `‹ 2/3 ›`, flips, the branch redrawn
        self.message_actions = MessageActions(self)  # e edit, r regenerate
        self.compare = CompareController(self)
        self.attachments = AttachController(self)  # Ctrl+A, pasted paths, the chips
        self.queue = QueueController(self)  # prompts sent while a reply streams
        self._idle_hint = ""
        self._focus_hint: FocusHint | None = None
        # The message Tab goes back to, and the newest message when it was focused.
        self._last_message: tuple[Widget | None, Widget | None] = (None, None)

    @property
    def conversation(self) -> Conversation:
        return self.opened.conversation

    def engine(self) -> ChatSession:
        """The session of the chat on screen, the one way to change it (made on first use)."""
        return self.replies.engine()

    # ---- layout ------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Static("", id="title-bar", markup=False)
        with Horizontal(id="body"):
            yield Vertical(id="sidebar-slot")
            with Vertical(id="chat"):
                yield MessageList(id="messages", versions_of=self.versions.versions_of)
                yield QueuedPrompts(id="queue", keymap=self.services.keymap)
                yield StatusBar(id="status")
                # In a box of its own: Textual redraws every widget whose clipping
                # region (its parent's) meets a change, so a prompt that shared the
                # chat column's region was redrawn with every frame of a stream.
                with Vertical(id="prompt-box"):
                    yield AttachmentTray(id="attachments")
                    yield PromptInput(
                        id="prompt",
                        placeholder="Ask anything…",
                        keymap=self.services.keymap,
                        prompts=self._earlier_prompts,
                    )

    def on_mount(self) -> None:
        self.query_one("#sidebar-slot").display = False
        self.prompt.focus()
        self.loader.show()
        self.call_after_refresh(self.versions.refresh_marks)
        # The footer (a widget per key) comes one frame later: the prompt comes first.
        self.call_after_refresh(self._mount_footer)
        if self.services.screen_memory.sidebar:
            # The screen as it was left; the sidebar (a store query) after the first frame.
            self.call_after_refresh(self.sidebar_panel.reopen)

    async def _mount_footer(self) -> None:
        if not self.is_attached:  # the app quit before its first frame was done
            return
        await self.mount(KeyFooter())
        # A footer mounted after the first focus change waits for the next bindings
        # signal to draw its keys; send one now.
        self.refresh_bindings()

    @property
    def prompt(self) -> PromptInput:
        return self.query_one("#prompt", PromptInput)

    @property
    def status(self) -> StatusBar:
        return self.query_one("#status", StatusBar)

    @property
    def message_list(self) -> MessageList:
        return self.query_one("#messages", MessageList)

    @property
    def sidebar(self) -> Sidebar | None:
        """The saved-chats sidebar, once it has been shown."""
        return self.sidebar_panel.sidebar

    @property
    def busy(self) -> bool:
        """True while the chat on screen has a reply streaming."""
        return self.replies.busy

    def _earlier_prompts(self) -> list[str]:
        return [m.content for m in self.conversation.messages if m.role is Role.USER]

    def show_idle_hint(self, *, unless_busy: bool = False) -> None:
        """The key hint of an idle chat; with `unless_busy`, only over an older hint."""
        hint = idle_hint(self.services.keymap, kitty=self.services.kitty())
        if not unless_busy or (self.status.state == "idle"
                               and self.status.text == self._idle_hint):
            self.status.show_idle(hint)
        self._idle_hint = hint

    @property
    def focus_chain(self) -> list[Widget]:
        # Tab stops at each region once; ↑/↓ move between messages (focus.py).
        return region_chain(super().focus_chain, self.focused, *self._last_message)

    def forget_last_message(self) -> None:
        """Another conversation is shown: Tab has no message to go back to."""
        self._last_message = (None, None)

    # ---- showing a conversation --------------------------------------------------------

    def open_conversation(self, opened: OpenedConversation, reveal: str | None = None) -> None:
        """Show another conversation. A reply still streaming goes on in the background
        (see chatterm.ui.chat.live_replies); reopening its chat shows it live again."""
        self._switch_to(opened, reveal)

    @work(group="switch", exclusive=True)
    async def _switch_to(self, opened: OpenedConversation, reveal: str | None) -> None:
        self.message_actions.cancel_edit()
        self.replies.to_background(notice=opened.conversation.id != self.conversation.id)
        self.compare.leave()
        live = self.replies.live.get(opened.conversation.id)
        if live is not None:
            opened = live.reopened(saved=opened.saved)
        self.opened = opened
        # A chat with a reply streaming shows its end, where the reply is drawn live.
        self.loader.show(reveal if live is None else None)
        self.call_after_refresh(self.versions.refresh_marks)
        if live is not None:
            self.replies.pick_up(live)
            self.compare.pick_up(live)
        self.queue.redraw()  # a queue belongs to its chat
        self.prompt.focus()
        self.post_message(ConversationChanged(opened.conversation.id))
        if reveal is not None:
            self.reveal(reveal)

    def refresh_title(self) -> None:
        conversation = self.conversation
        title = conversation.title or "New chat"
        parts: list[str | tuple[str, str]] = [(inert.text(title), "bold")]
        if conversation.role:  # ahead of the title: it stays in sight at 40 columns
            parts.insert(0, (f"[{inert.line(conversation.role)}] ", "$accent"))
        if self.opened.saved:
            parts.append((f"  {conversation.id[:8]}", "$foreground-muted"))
        self.query_one("#title-bar", Static).update(Content.assemble(*parts))

    def reveal(self, message_id: str) -> None:
        """Scroll to a message (a search hit), highlight and focus it, if it is mounted."""
        show_hit(self, message_id)

    # ---- what the app calls -------------------------------------------------------------

    def toggle_sidebar(self, show: bool | None = None, *, search: bool = False,
                       focus: bool = True) -> None:
        self.sidebar_panel.toggle(show, search=search, focus=focus)

    def save_settings(self) -> None:
        """Save the model, title, system prompt and params as they are (`-c --model M`)."""
        self.edits.save_settings()

    async def stop_and_wait(self, *, every_chat: bool = False) -> None:
        """Stop this chat's reply (or every reply) and wait until it is saved."""
        await self.replies.stop_and_wait(every_chat=every_chat)

    def open_saved(self, conversation_id: str, message_id: str | None = None) -> None:
        """Open a saved conversation; with `message_id` (a search hit), show that message."""
        opened = self.loader.load_saved(conversation_id, message_id)
        if opened is not None:
            self.open_conversation(opened, message_id)

    # ---- the chat's keys (scope "chat" in chatterm.keymap; also the palette's) ----------

    def action_edit_message(self, message_id: str) -> None:
        """`e` on a focused prompt (message_view.py runs it as the key is handled)."""
        self.message_actions.start_edit(message_id)

    def action_stop(self) -> None:
        if self.message_actions.cancel_edit():  # Esc first leaves an edit
            return
        # A stopped reply holds the queue (prompt_queue.py); with nothing to stop, Esc
        # clears a queue, then leaves compare mode before its prompt.
        if not self.replies.stop() and not self.queue.clear():
            self.compare.cancel()

    def action_retry(self) -> None:
        self.replies.retry()

    def action_continue_reply(self) -> None:
        self.replies.continue_reply()

    def action_switch_model(self) -> None:
        self.edits.ask_model()

    def action_compare_models(self) -> None:
        self.compare.ask()

    def action_toggle_sidebar(self) -> None:
        self.sidebar_panel.toggle()

    def action_search_chats(self) -> None:
        self.sidebar_panel.toggle(show=True, search=True)

    def action_new_chat(self) -> None:
        from chatterm.launch import OpenedConversation, new_conversation

        # A new chat starts from the config (or `--provider/--model` given at launch), not
        # from the model the current chat was switched to: a switch is that chat's own.
        services = self.services
        conversation = new_conversation(services.config, *(services.new_chat_with
                                                           or (None, None)))
        self.open_conversation(OpenedConversation(conversation))

    def action_new_chat_with_role(self) -> None:
        from chatterm.ui.chat.role_chat import ask_role

        ask_role(self)

    def action_rename_chat(self) -> None:
        self.edits.ask_title()

    def action_copy_last_reply(self) -> None:
        message = self.focused_or_last_reply()
        if message is None:
            self.notify("There is no reply to copy yet.", severity="warning")
            return
        copy_text(self, message.content, "reply" if message.role == "assistant" else "message")

    def action_edit_system_prompt(self) -> None:
        self.edits.ask_system_prompt()

    def action_edit_params(self) -> None:
        self.edits.ask_params()

    def action_delete_chat(self) -> None:
        self.edits.ask_delete()

    def action_export_chat(self) -> None:
        self.edits.ask_export()

    def action_show_tree(self) -> None:
        self.branches.show_tree()

    def action_fork_chat(self) -> None:
        self.branches.fork_here()

    def action_show_usage(self) -> None:
        # Loaded when first opened: it brings textual-plotext with it once a chart shows.
        from chatterm.ui.usage.screen import UsageScreen

        self.app.push_screen(UsageScreen(self.services.store))

    # ---- events from the widgets ---------------------------------------------------------

    @on(PromptSubmitted)
    def _on_prompt_submitted(self, event: PromptSubmitted) -> None:
        event.stop()
        if self.message_actions.editing is not None:
            self.message_actions.send_edit(event.text)
        else:
            self.attachments.submit(event.text)  # with the chips, if any

    @on(AttachRequested)
    def _on_attach(self, event: AttachRequested) -> None:
        event.stop()
        self.attachments.ask()

    @on(PathPasted)
    def _on_path_pasted(self, event: PathPasted) -> None:
        event.stop()
        self.attachments.pasted(event.text)

    @on(EmptyBackspace)
    def _on_empty_backspace(self, event: EmptyBackspace) -> None:
        event.stop()
        self.attachments.backspace_in_empty_prompt()

    @on(PreviewWanted)
    def _on_preview_wanted(self, event: PreviewWanted) -> None:
        event.stop()
        self.attachments.preview(event.slot)

    @on(AttachmentTray.Back)
    @on(QueuedPrompts.Back)
    def _on_tray_back(self, event: AttachmentTray.Back | QueuedPrompts.Back) -> None:
        event.stop()
        self.prompt.focus()
        if isinstance(event, AttachmentTray.Back) and event.typed:
            self.prompt.insert(event.typed)  # a letter typed on the chips

    @on(QueuedPrompts.Remove)
    def _on_queue_remove(self, event: QueuedPrompts.Remove) -> None:
        event.stop()
        self.queue.remove(event.index)

    @on(ConversationChanged)
    def _on_conversation_changed(self, event: ConversationChanged) -> None:
        # Not stopped: it may matter above the screen too.
        self.sidebar_panel.refresh()

    def on_sidebar_selected(self, event: Sidebar.Selected) -> None:
        event.stop()
        self.sidebar_panel.selected(event)

    @on(NewerMessagesWanted)
    def _on_newer_wanted(self, event: NewerMessagesWanted) -> None:
        event.stop()
        load_newer(self)

    @on(OlderMessagesWanted)
    def _on_older_wanted(self, event: OlderMessagesWanted) -> None:
        event.stop()
        self.loader.load_older()

    def redirect_typing(self, event: events.Key) -> None:
        """A letter typed while a message has the focus goes to the prompt (see
        focus.typed_for_prompt); called by the app before the key is delivered."""
        if typed_for_prompt(self.focused, event):
            self.set_focus(self.prompt)
        else:
            self.message_actions.take_key(self.focused, event)  # `e` starts an edit now

    @on(MessageFocusChanged)
    def _on_message_focus(self, event: MessageFocusChanged) -> None:
        event.stop()
        if self._focus_hint is None:
            self._focus_hint = FocusHint(self.status)
        if event.focused:
            self._last_message = (event.view, next(iter(self.message_list.views()[-1:]), None))
            self._focus_hint.show(hint_for(event.view, self.services.keymap,
                                           kitty=self.services.kitty()))
        elif not isinstance(self.focused, MessageView | ToolBlock):
            # ↑/↓ blur one message and focus the next; the blur may arrive after the
            # focus, so the hint stays while any message still has the focus.
            self._focus_hint.hide()

    @on(ChatScrollRequested)
    def _on_chat_scroll(self, event: ChatScrollRequested) -> None:
        event.stop()
        messages = self.message_list
        {
            "scroll_page_up": messages.scroll_page_up,
            "scroll_page_down": messages.scroll_page_down,
            "scroll_top": messages.scroll_home,
            "scroll_bottom": messages.scroll_end,
        }[event.action](animate=False)

    @on(MessageActionRequested)
    def _on_message_action(self, event: MessageActionRequested) -> None:
        event.stop()
        if event.action in ("focus_prompt", "back"):
            if event.action == "back":
                self.replies.stop()  # Esc on a message stops a reply as Esc anywhere does
            self.prompt.focus()
            return
        if event.message_id is not None:
            self.message_actions.run(event.action, event.message_id)

    # ---- the messages on screen ------------------------------------------------------------

    def last_reply(self) -> Message | None:
        index = last_reply_index(self.conversation.messages)
        return self.conversation.messages[index] if index is not None else None

    def focused_or_last_reply(self) -> Message | None:
        focused = self.focused
        if isinstance(focused, MessageView):
            return focused.message
        return self.last_reply()
