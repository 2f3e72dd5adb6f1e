"""chatterm's Textual user interface."""
