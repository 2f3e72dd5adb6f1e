"""The usage screen (palette "Usage"): what the saved replies cost, as `chatterm usage`."""
