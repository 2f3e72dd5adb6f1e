"""MCP tool servers: configuration, the tool host (a thread of its own), naming, results.

Nothing here imports the MCP SDK at import time: chatterm.mcp.host imports it on its own
thread, only when a server is configured (see chatterm.toolbox for the seam).
"""
