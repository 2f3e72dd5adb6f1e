"""The `chatterm` command line. Uses only the headless core; the TUI is loaded on demand."""
