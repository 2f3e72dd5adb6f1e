"""`chatterm config path|show|set`."""

from __future__ import annotations

import argparse

from chatterm.cli.output import Out


def run_config(args: argparse.Namespace) -> int:
    from chatterm import locations

    out = Out()
    if args.config_command == "path":
        out.line(str(locations.config_file()))
        return 0
    if args.config_command == "show":
        import tomlkit

        from chatterm.cli.common import load_config
        from chatterm.config.view import masked_config

        out.write(tomlkit.dumps(masked_config(load_config())))
        return 0
    from chatterm.config import set_config_value

    path = locations.config_file()
    value = set_config_value(path, args.key, args.value)
    out.line(f"set {args.key} = {_shown(args.key, value)} in {path}")
    return 0


def _shown(key: str, value: object) -> str:
    """The value as TOML would spell it; secrets are never echoed back."""
    import tomlkit

    last = key.rsplit(".", 1)[-1]
    # A whole headers table may carry a token as much as one header does.
    if last in ("api_key", "api_key_command", "headers") or ".headers." in f".{key}":
        return "(hidden)"
    return tomlkit.item(value).as_string().strip()
