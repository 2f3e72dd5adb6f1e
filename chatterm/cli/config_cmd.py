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
        import tomli_w

        from chatterm.cli.common import load_config
        from chatterm.config import masked_config

        out.write(tomli_w.dumps(masked_config(load_config())))
        return 0
    from chatterm.config import set_config_value

    set_config_value(locations.config_file(), args.key, args.value)
    return 0
