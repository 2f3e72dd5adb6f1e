"""The chat screen's attachments: Ctrl+A, a pasted path, the chips, and what a send takes.

The chips (chips.py) hold the attachments read for the next prompt. Enter sends them with
the prompt (`ReplyController.submit(text, attachments)`, which asks the session for a
turn carrying them); a send that does not happen (nothing streamed: no key, a refusal)
gives them back, as it gives the text back. An image for a model the catalog does not
know to take images asks first (send anyway / cancel); "send anyway" holds for that
model in this chat while the app runs, so it asks once, not at every prompt.

Files are read on worker threads (the dialog's, and here for a paste), never on the
event loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from chatterm.attachments import AttachmentError, AttachmentLimits, PendingAttachment
from chatterm.ui import inert
from chatterm.ui.attach.chips import AttachmentTray
from chatterm.ui.attach.labels import chip_label
from chatterm.ui.attach.message_parts import ImageSlot

if TYPE_CHECKING:
    from chatterm.engine.session import Turn
    from chatterm.ui.chat.screen import ChatScreen


def model_takes_images(provider: str, model: str) -> bool | None:
    """What the catalog says about `model` and images (None: it does not know)."""
    from chatterm.vision import takes_images

    return takes_images(provider, model)


class AttachController:
    def __init__(self, screen: ChatScreen) -> None:
        self.screen = screen
        # (chat, provider, model): the user said to send images there anyway.
        self._allowed: set[tuple[str, str, str]] = set()

    @property
    def tray(self) -> AttachmentTray:
        return self.screen.query_one("#attachments", AttachmentTray)

    @property
    def limits(self) -> AttachmentLimits:
        return self.screen.services.config.attachments

    # ---- adding ---------------------------------------------------------------------------

    def ask(self) -> None:
        """Ctrl+A: the attach dialog; its file becomes a chip."""
        from chatterm.ui.attach.dialog import AttachDialog

        def attached(result: PendingAttachment | None) -> None:
            if result is not None:
                self.add(result)
            self.screen.prompt.focus()

        self.screen.app.push_screen(AttachDialog(self.limits), attached)

    def add(self, attachment: PendingAttachment) -> bool:
        tray = self.tray
        count = len(tray.pending) + 1
        if count > self.limits.max_count:
            self.screen.notify(
                f"{attachment.meta.name}: a message can carry up to {self.limits.max_count} "
                "attachments (attachments.max_count)", severity="error", markup=False)
            return False
        if not tray.add(attachment):
            self.screen.notify(f"{attachment.meta.name} is attached already.", markup=False)
            return False
        return True

    def pasted(self, text: str) -> None:
        """The prompt got a paste: if it names existing files, offer to attach them."""
        # Textual's stub wants a Coroutine[None, None, ...]; a partial is what it runs.
        self.screen.run_worker(partial(self._offer, text),  # type: ignore[arg-type]
                               group="attach-paste")

    async def _offer(self, text: str) -> None:
        from chatterm.ui.attach.paths import pasted_paths
        from chatterm.ui.dialogs.confirm import ConfirmDialog

        paths = await asyncio.to_thread(pasted_paths, text)
        if not paths:
            return
        names = ", ".join(inert.line(path.name) for path in paths)
        question = (f"Attach {names}?\nNo keeps the pasted text in the prompt."
                    if len(paths) == 1 else
                    f"Attach these {len(paths)} files: {names}?\n"
                    "No keeps the pasted text in the prompt.")
        yes = await self.screen.app.push_screen_wait(
            ConfirmDialog(question, confirm="Attach", cancel="Keep text",
                          title="A pasted path"))
        if not yes:
            return
        added = await self._load_all(paths)
        if added:
            self._take_out(text)
        self.screen.prompt.focus()

    async def _load_all(self, paths: Sequence[Path]) -> int:
        from chatterm.attach_files import load_file

        added = 0
        for path in paths:
            try:
                attachment = await asyncio.to_thread(load_file, path, self.limits)
            except AttachmentError as error:
                self.screen.notify(inert.line(error.message), severity="error", markup=False)
                continue
            added += self.add(attachment)
        return added

    def _take_out(self, text: str) -> None:
        """Remove the pasted path from the prompt (it is a chip now), where it still is."""
        prompt = self.screen.prompt
        whole = prompt.text
        at = whole.rfind(text)
        if at < 0:
            return
        rest = whole[:at] + whole[at + len(text):]
        prompt.replace(rest, (0, 0), prompt.document.end, maintain_selection_offset=False)
        prompt.move_cursor(prompt.document.end)

    # ---- removing -------------------------------------------------------------------------

    def backspace_in_empty_prompt(self) -> None:
        gone = self.tray.remove_last()
        if gone is not None:
            self.screen.notify(f"Removed {gone.name}.", markup=False, timeout=2)

    # ---- sending --------------------------------------------------------------------------

    def submit(self, text: str) -> None:
        """Enter: send the prompt with the chips (after the question about images)."""
        attachments = self.tray.pending
        if not attachments:
            self.screen.replies.submit(text)
            return
        if any(a.meta.kind == "image" for a in attachments):  # queued ones too
            self.screen.run_worker(partial(self._check_then_send, text),  # type: ignore[arg-type]
                                   group="attach-send", exclusive=True)
            return
        self._send(text)

    async def _check_then_send(self, text: str) -> None:
        from chatterm.ui.dialogs.confirm import ConfirmDialog

        conversation = self.screen.conversation
        compare = self.screen.compare
        # The models the prompt goes to: the chat's, or every one of a comparison's.
        models = list(compare.models) if compare.models else [
            (conversation.provider, conversation.model or "")]
        doubts: list[tuple[str, bool | None]] = []
        for provider, model in models:
            key = (conversation.id, provider, model)
            if key in self._allowed:
                continue
            takes = await asyncio.to_thread(model_takes_images, provider, model)
            if takes is not True:
                doubts.append((inert.line(f"{provider} · {model}"), takes))
        if doubts:
            names = ", ".join(name for name, _takes in doubts)
            known = ("does not take images" if len(doubts) == 1 and doubts[0][1] is False
                     else "is not known to take images" if len(doubts) == 1
                     else "are not known to take images")
            yes = await self.screen.app.push_screen_wait(ConfirmDialog(
                f"{names} {known}: the server may refuse the request, or the model "
                "may not see the picture.\nSend it anyway?",
                confirm="Send anyway", cancel="Cancel", title="An image for this model"))
            self.screen.prompt.focus()
            if not yes:
                return
            self._allowed.update((conversation.id, provider, model)
                                 for provider, model in models)
        self._send(text)

    def _send(self, text: str) -> None:
        attachments = self.tray.take()
        if not self.screen.replies.submit(text, attachments):
            self.tray.put_back(attachments)

    def give_back(self, turn: Turn | None) -> None:
        """A send that never went out: its attachments are chips again."""
        if turn is not None and turn.blobs:
            self.tray.put_back(turn.blobs)

    def describe(self) -> list[str]:
        return [chip_label(p.meta) for p in self.tray.pending]

    # ---- pictures in sent messages ----------------------------------------------------------

    def preview(self, slot: ImageSlot) -> None:
        """An image line came on screen: fetch its bytes and draw it, off the event loop."""
        self.screen.run_worker(partial(self._preview, slot),  # type: ignore[arg-type]
                               group="attach-preview")

    async def _preview(self, slot: ImageSlot) -> None:
        from chatterm.errors import ChattermError
        from chatterm.ui.attach import graphics

        mode = graphics.terminal_mode()
        if mode is None:
            return
        try:
            data = await self.screen.engine().attachment_data(slot.attachment.sha256)
            picture = await asyncio.to_thread(graphics.prepare, data)
        except ChattermError as error:  # its bytes are gone: the line says what it was
            self.screen.log.warning("no preview", slot.attachment.name, error.message)
            return
        except Exception as error:  # a picture Pillow cannot read: the line stays
            self.screen.log.warning("no preview", slot.attachment.name, repr(error))
            return
        if slot.is_attached:
            slot.show_picture(graphics.picture_widget(picture, mode))
