"""A stdio MCP server for the CLI's tests: a tool whose result and description carry
terminal escape sequences (hostile output must never reach a terminal raw), and a tool
that runs until it is stopped (Ctrl+C while a call runs).

Run: python tests/mcp_servers/hostile.py
"""

from __future__ import annotations

import asyncio

from mcp.server.mcpserver import MCPServer

# OSC 52 (write the clipboard), clear screen, a title change, an 8-bit CSI, BEL.
HOSTILE = ("before\x1b]52;c;cHduZWQ=\x07\x1b[2J\x1b]0;pwned\x07\x9b1m after\n"
           "second line\n")

server = MCPServer("hostile")


@server.tool(description="Returns text full of escape sequences\x1b[2J.")
def shout(text: str = "") -> str:
    return HOSTILE + text


@server.tool(description="Never returns on its own (until stopped).")
async def wait_forever() -> str:
    await asyncio.sleep(3600)
    return "done"


if __name__ == "__main__":
    server.run("stdio")
