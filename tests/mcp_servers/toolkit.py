"""A test MCP server (the SDK's MCPServer) with a tool for each fault the host must take.

    python tests/mcp_servers/toolkit.py [--garbage] [--exit-at-once N] [--hang-at-start]
                                        [--ignore-term] [--http] [--name NAME]

Tools: echo, pid, mixed (text, image, resource), environ (this process's environment),
sleep (a slow tool), crash (exits mid-call), huge (a long result), fail (an isError
result), header (an HTTP request header, over --http). Over stdio by default; --http
serves streamable HTTP on 127.0.0.1 on a free port and prints
`URL http://127.0.0.1:PORT/mcp` on stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import signal
import socket
import sys
import time

import mcp.types as types
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError


def build(name: str) -> MCPServer:
    server = MCPServer(name, log_level="WARNING")

    @server.tool(description="Return the text it is given.")
    def echo(text: str) -> str:
        return text

    @server.tool(description="This server process's environment, as JSON.")
    def environ() -> str:
        return json.dumps(dict(os.environ))

    @server.tool(description="This server's process id.")
    def pid() -> int:
        return os.getpid()

    @server.tool(description="Sleep for some seconds, then say so.")
    async def sleep(seconds: float) -> str:
        started = time.monotonic()
        print(f"sleep started for {seconds} s", file=sys.stderr, flush=True)
        try:
            await asyncio.sleep(seconds)
        except asyncio.CancelledError:
            print(f"sleep cancelled after {time.monotonic() - started:.2f} s",
                  file=sys.stderr, flush=True)
            raise
        return f"slept {seconds} s"

    @server.tool(description="Exit at once with the given code, mid-call.")
    def crash(code: int = 3) -> str:
        os._exit(code)

    @server.tool(description="A result of `size` characters.")
    def huge(size: int) -> str:
        line = "0123456789abcdefghijklmnopqrstuvwxyz\n"
        return (line * (size // len(line) + 1))[:size]

    @server.tool(description="Mixed content: text, a PNG image, an embedded text resource.")
    def mixed() -> list[types.ContentBlock]:
        png = base64.b64encode(b"\x89PNG\r\n" + b"\0" * 12 * 1024).decode()
        return [types.TextContent(type="text", text="here it is"),
                types.ImageContent(type="image", data=png, mime_type="image/png"),
                types.EmbeddedResource(type="resource", resource=types.TextResourceContents(
                    uri="file:///notes.txt", text="the notes", mime_type="text/plain"))]

    @server.tool(description="Always fails, with its message.")
    def fail(message: str) -> str:
        raise ToolError(message)  # sent as an isError result with this text

    @server.tool(description="The value of an HTTP request header (over HTTP).")
    def header(name: str, ctx: Context) -> str:
        headers = ctx.headers or {}
        return next((value for key, value in headers.items() if key.lower() == name.lower()),
                    "(no such header)")

    return server


def serve_http(server: MCPServer) -> None:
    import uvicorn

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    app = server.streamable_http_app(host="127.0.0.1")
    config = uvicorn.Config(app, log_level="warning")
    print(f"URL http://127.0.0.1:{port}/mcp", flush=True)
    uvicorn.Server(config).run(sockets=[sock])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--name", default="toolkit")
    parser.add_argument("--garbage", action="store_true", help="print a non-JSON line first")
    parser.add_argument("--exit-at-once", type=int, default=None, metavar="CODE")
    parser.add_argument("--hang-at-start", action="store_true")
    parser.add_argument("--http", action="store_true")
    parser.add_argument("--ignore-term", action="store_true", help="ignore SIGTERM")
    args = parser.parse_args()
    if args.ignore_term:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if args.exit_at_once is not None:
        print("toolkit: exiting at once as asked", file=sys.stderr, flush=True)
        sys.exit(args.exit_at_once)
    if args.hang_at_start:
        time.sleep(3600)
    if args.garbage:
        print("Hello! This is not JSON-RPC.", flush=True)
    server = build(args.name)
    if args.http:
        serve_http(server)
    else:
        server.run("stdio")


if __name__ == "__main__":
    main()
