"""Walking through the earlier prompts of the open conversation, as a shell does.

The prompts come from the conversation itself (its user messages), so there is no second
copy to keep in sync: a reopened chat has its history at once, and a new chat has none.
Walking back starts from whatever is in the prompt (the *draft*); walking forward past
the newest prompt gives the draft back unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence


class PromptHistory:
    """Which earlier prompt is shown, newest first; pure logic, no widget."""

    def __init__(self, prompts: Callable[[], Sequence[str]]) -> None:
        # Oldest first, as a conversation holds them.
        self._prompts = prompts
        self._index: int | None = None  # 0 = the newest prompt; None = the draft
        self._draft = ""
        self._shown = ""

    def _entries(self) -> list[str]:
        """Newest first, without empty prompts or a prompt repeated right after itself."""
        entries: list[str] = []
        for text in reversed(self._prompts()):
            if text.strip() and (not entries or entries[-1] != text):
                entries.append(text)
        return entries

    @property
    def active(self) -> bool:
        """An earlier prompt was put in the prompt (it may have been edited since)."""
        return self._index is not None

    def recalling(self, text: str) -> bool:
        """True while `text` is the earlier prompt this history last put in the prompt.

        Typing into a recalled prompt makes it a draft of its own: the arrows move the
        cursor again instead of replacing what was typed."""
        if self._index is not None and text != self._shown:
            self._index = None
        return self._index is not None

    def previous(self, text: str) -> str | None:
        """The next older prompt to show instead of `text`, or None when there is none."""
        entries = self._entries()
        if not self.recalling(text):
            if not entries:
                return None
            self._draft = text
            self._index = 0
        elif self._index is not None and self._index + 1 < len(entries):
            self._index += 1
        else:
            return None
        self._shown = entries[self._index]
        return self._shown

    def next(self, text: str) -> str | None:
        """The next newer prompt, or the draft after the newest; None when not recalling."""
        if not self.recalling(text) or self._index is None:
            return None
        if self._index == 0:
            self._index = None
            return self._draft
        entries = self._entries()
        self._index = min(self._index - 1, len(entries) - 1)
        if self._index < 0:
            self._index = None
            return self._draft
        self._shown = entries[self._index]
        return self._shown
