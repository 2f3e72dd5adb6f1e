"""Modal dialogs, one per module: confirm, text prompt, export, parameters, overwrite, first run."""
