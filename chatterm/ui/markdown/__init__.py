"""Reply Markdown: block splitting, rasterising, and the streaming widget."""
