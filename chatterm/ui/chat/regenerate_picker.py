"""The model picker that `R` on a focused reply opens (chatterm.ui.chat.message_actions).

The same picker as Ctrl+O's, under a title that says what the pick is for: one
regeneration. The chat keeps its own model. Imported when `R` is first pressed.
"""

from __future__ import annotations

from chatterm.ui.pickers.model_picker import ModelPicker


class RegeneratePicker(ModelPicker):
    TITLE = "Regenerate this reply with"
