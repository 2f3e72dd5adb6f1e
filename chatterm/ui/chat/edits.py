"""Changes to the open conversation that are not replies: its model (and a key for its
provider), title, system prompt and parameters, deleting it and exporting it.

`ask_*` opens the dialog for one of them (the screen's key actions call these); each
change itself is one method (`apply_model`, `rename`, ...), called once the dialog has
answered. Each goes through the session (`screen.engine()`): it changes the conversation
at once and queues its write, which lands off the event loop; `report_save` shows a
failed one on the status line.
"""

from __future__ import annotations

import asyncio
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from chatterm.errors import ChattermError
from chatterm.ui import inert
from chatterm.ui.events import ConversationChanged

if TYPE_CHECKING:
    from collections.abc import Callable

    from chatterm.conversation import Conversation, Params
    from chatterm.engine.writer import Saving
    from chatterm.ui.chat.screen import ChatScreen


class ConversationEdits:
    """What the chat screen's dialogs change in the conversation on screen."""

    def __init__(self, screen: ChatScreen) -> None:
        self.screen = screen

    # ---- the dialogs ---------------------------------------------------------------------

    def ask_model(self) -> None:
        from chatterm.ui.pickers.model_picker import ModelPicker

        screen = self.screen
        conversation = screen.conversation
        picker = ModelPicker(screen.services.config.providers, conversation.provider,
                             conversation.model)

        def picked(result: tuple[str, str] | None) -> None:
            if result is not None:
                self.apply_model(*result)
            screen.prompt.focus()

        screen.app.push_screen(picker, picked)

    def check_key(self) -> None:
        """After the next paint: is a key set for the provider? (may run a key command)
        If one is needed and there is none, the first-run screen asks for it."""
        # Deferred because the check starts a thread (and maybe a key command) that would
        # compete with the first frame for the interpreter.
        self.screen.call_after_refresh(self._start_key_check)

    def _start_key_check(self) -> None:
        if not self.screen.is_attached:
            return
        # Textual's WorkType is a union of callables; mypy infers Never for its result.
        self.screen.run_worker(self._key_check_work, group="key-check",  # type: ignore[arg-type]
                               exclusive=True)

    async def _key_check_work(self) -> None:
        screen = self.screen
        keys = screen.services.keys
        provider_name = screen.conversation.provider
        try:
            key = await asyncio.to_thread(keys.resolve, provider_name)
        except ChattermError as error:
            screen.status.show_error(error.message)
            return
        if key is None and keys.needed(provider_name):
            self.ask_for_key(provider_name)

    def ask_for_key(self, provider_name: str) -> None:
        """The first-run screen: a key for `provider_name`, or another provider."""
        from chatterm.ui.dialogs.first_run import FirstRunScreen

        app = self.screen.app
        if isinstance(app.screen, FirstRunScreen):
            return
        app.push_screen(FirstRunScreen(self.screen.services.config, provider_name),
                        self._key_given)

    def _key_given(self, result: tuple[str, str | None] | None) -> None:
        if result is None:
            return
        screen = self.screen
        provider, model = result
        screen.services.keys.forget(provider)
        if provider != screen.conversation.provider or model:
            self.apply_model(provider, model or screen.conversation.model)
        else:
            screen.replies.forget_key()  # so the next send picks up the new key
            screen.status.show_note("key saved: press Enter to send")
        screen.prompt.focus()

    def ask_title(self) -> None:
        from chatterm.ui.dialogs.text_prompt import TextPrompt

        title = self.screen.conversation.title
        # An imported title may hold escape sequences: the box shows it inert, and an
        # answer left as shown keeps the title as it was saved.
        shown = inert.line(title)
        dialog = TextPrompt("Rename chat", shown, "A short title")

        def answered(answer: str | None) -> None:
            if answer is not None:
                self.rename(title if answer == shown else answer)

        self.screen.app.push_screen(dialog, answered)

    def ask_system_prompt(self) -> None:
        from chatterm.ui.dialogs.text_prompt import TextPrompt

        system_prompt = self.screen.conversation.system_prompt
        shown = inert.text(system_prompt)  # as the title above: drawn inert, kept if unchanged
        dialog = TextPrompt(
            "System prompt for this chat", shown,
            "How the model should behave (empty: none)", multiline=True, allow_empty=True,
        )

        def answered(text: str | None) -> None:
            if text is not None:
                self.set_system_prompt(system_prompt if text == shown else text)

        self.screen.app.push_screen(dialog, answered)

    def ask_params(self) -> None:
        from chatterm.ui.dialogs.params import ParamsDialog

        screen = self.screen
        try:
            kind = screen.services.config.provider(screen.conversation.provider).kind
        except ChattermError:
            kind = "openai"
        dialog = ParamsDialog(screen.conversation.params, kind)

        def answered(params: Params | None) -> None:
            if params is not None:
                self.set_params(params)

        screen.app.push_screen(dialog, answered)

    def ask_delete(self) -> None:
        screen = self.screen
        if not screen.opened.saved:
            screen.notify("This chat is not saved yet: there is nothing to delete.")
            return
        from chatterm.ui.dialogs.confirm import ConfirmDialog

        title = screen.conversation.title or "this chat"
        dialog = ConfirmDialog(
            f"Delete “{title}” and all its messages? This cannot be undone.",
            confirm="Delete", cancel="Keep", danger=True, title="Delete chat",
        )

        def answered(yes: bool | None) -> None:
            if yes:
                self.delete_current()

        screen.app.push_screen(dialog, answered)

    def ask_export(self) -> None:
        from chatterm.ui.dialogs.export import ExportDialog

        dialog = ExportDialog(Path.cwd() / f"{self.export_stem()}.md")

        def chosen(result: tuple[Path, str] | None) -> None:
            if result is not None:
                self.export_to(*result)

        self.screen.app.push_screen(dialog, chosen)

    # ---- the changes ---------------------------------------------------------------------

    def report_save(self, saving: Saving[None] | None,
                    then: Callable[[], None] | None = None) -> None:
        """Once a write the session queued has landed: `then`, or its error in one line."""
        if saving is None:
            return
        screen = self.screen

        def landed(future: asyncio.Future[None]) -> None:
            if future.cancelled() or not screen.is_attached:
                return
            error = future.exception()
            if isinstance(error, ChattermError):
                screen.status.show_error(error.message)
            elif error is not None:
                screen.status.show_error(f"could not save: {type(error).__name__}: {error}")
            elif then is not None:
                then()

        asyncio.wrap_future(saving).add_done_callback(landed)

    def save_settings(self) -> None:
        """Save the conversation's model, title, prompt and params as they are now."""
        self.report_save(self.screen.engine().save_settings())

    def apply_model(self, provider: str, model: str) -> None:
        """Use provider/model from the next reply of this conversation on."""
        screen = self.screen
        try:
            saving = screen.engine().set_model(provider, model)
        except ChattermError as error:
            screen.status.show_error(error.message)
            return
        self.report_save(saving)
        screen.status.set_model(provider, model)
        screen.status.show_note(f"next reply: {model} ({provider})")
        self.check_key()

    def rename(self, title: str) -> None:
        screen = self.screen
        saving = screen.engine().rename(title)
        if saving is None:
            return
        screen.refresh_title()
        conversation_id = screen.conversation.id
        # The sidebar reads the new title back once it is saved.

        def saved() -> None:
            screen.post_message(ConversationChanged(conversation_id))

        self.report_save(saving, saved)

    def set_system_prompt(self, text: str) -> None:
        screen = self.screen
        self.report_save(screen.engine().set_system_prompt(text))
        screen.loader.show_system_prompt(text)
        screen.status.show_note("system prompt updated: it applies from the next reply")

    def set_params(self, params: Params) -> None:
        screen = self.screen
        self.report_save(screen.engine().set_params(params))
        screen.status.show_note("parameters updated: they apply from the next reply")

    def delete_current(self) -> None:
        """Delete the chat on screen (stopping its reply first); a new chat takes its place."""
        # Textual's WorkType is a union of callables; mypy infers Never for its result.
        self.screen.run_worker(partial(self._delete_current),  # type: ignore[arg-type]
                               group="delete", exclusive=True)

    async def _delete_current(self) -> None:
        screen = self.screen
        await screen.replies.stop_and_wait()
        if screen.services.store is None:
            return
        conversation = screen.conversation
        try:
            await screen.engine().delete()
        except ChattermError as error:
            screen.status.show_error(error.message)
            return
        screen.notify(f"Deleted “{inert.text(conversation.title or conversation.id[:8])}”.",
                      markup=False)
        from chatterm.launch import OpenedConversation, new_conversation

        fresh = new_conversation(screen.services.config, conversation.provider,
                                 conversation.model)
        screen.opened = OpenedConversation(fresh)
        screen.queue.forget(conversation.id)  # its queued prompts go with it
        screen.loader.show()
        screen.prompt.focus()
        screen.post_message(ConversationChanged(None))

    def export_stem(self) -> str:
        """The file name an export of this chat suggests (without its suffix)."""
        conversation = self.screen.conversation
        title = conversation.title or "chat"
        slug = "".join(ch if ch.isalnum() else "-" for ch in title.lower()).strip("-")
        slug = "-".join(part for part in slug.split("-") if part)[:48] or "chat"
        return f"{slug}-{conversation.id[:8]}"

    def export_to(self, path: Path, fmt: str) -> None:
        """Write the whole chat to `path` as Markdown or JSON (`fmt`), off the event loop."""
        # Textual's WorkType is a union of callables; mypy infers Never for its result.
        self.screen.run_worker(partial(self._export_to, path, fmt),  # type: ignore[arg-type]
                               group="export", exclusive=True)

    async def _attachment_bytes(self, conversation: Conversation) -> dict[str, bytes] | None:
        from chatterm.transfer_blobs import wanted

        shas = wanted(conversation)
        if not shas:
            return None
        session = self.screen.engine()
        return {sha256: await session.attachment_data(sha256) for sha256 in shas}

    async def _export_to(self, path: Path, fmt: str) -> None:
        from chatterm import safe_write, transfer

        screen = self.screen
        try:
            conversation = await screen.loader.whole_conversation()
            store = screen.services.store
            if fmt == "json" and screen.opened.saved and store is not None:
                # JSON (format v2) carries every branch, as `chatterm export` does; the
                # chat in memory holds only the current one. Read once the writes landed.
                await screen.engine().flush()
                conversation = await asyncio.to_thread(store.get_tree, conversation.id)
            if fmt == "json":
                # The attachments' bytes go in the file (import round-trips them), read
                # through the session and encoded off the event loop.
                blobs = await self._attachment_bytes(conversation)
                text = await asyncio.to_thread(transfer.export_json, conversation, blobs)
            else:
                text = transfer.export_markdown(conversation)
            await asyncio.to_thread(safe_write.write_text, path, text)
        except ChattermError as error:
            screen.status.show_error(error.message)
            return
        except OSError as error:
            screen.status.show_error(f"cannot write {path}: {error.strerror or error}")
            return
        screen.notify(f"Exported {len(conversation.messages)} messages to "
                      f"{inert.text(str(path))}.", markup=False)
