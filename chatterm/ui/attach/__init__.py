"""Attachments in the app: Ctrl+A, pasted paths, the chips above the prompt, previews."""
