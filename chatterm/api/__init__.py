"""The HTTP side of chatterm: SSE parsing, reply assembly, errors and the async client."""
