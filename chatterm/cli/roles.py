"""`chatterm roles`: the saved roles, where each comes from, and those that cannot be used."""

from __future__ import annotations

import argparse

from chatterm.cli.common import load_config
from chatterm.cli.output import Out, note, warn


def run_roles(args: argparse.Namespace) -> int:
    from chatterm.roles import load_roles, roles_dir

    config = load_config()
    roles = load_roles(config)
    for line in roles.lines():
        warn(f"warning: {line}")
    out = Out()
    found = sorted(roles.found.values(), key=lambda role: role.name)
    if args.json:
        out.json([role.to_dict() for role in found])
        return 0
    if not found:
        note(f"no roles yet: add [roles.NAME] to {config.path} or a file NAME.toml "
             f"in {roles_dir(config)}")
        return 0
    width = max(len(role.name) for role in found)
    for role in found:
        model = "/".join(part for part in (role.provider, role.model) if part) or "-"
        out.line(f"{role.name:<{width}}  {role.description or '-'}  [{model}]  {role.source}")
    return 0
