"""The chat screen and its widgets: messages, prompt, status bar, sidebar, replies."""
