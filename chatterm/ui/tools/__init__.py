"""The app's side of tools: hosting the MCP servers, the approval dialog, the tools panel."""
