"""`chatterm models`: the catalog, merged with the provider's live list on --refresh."""

from __future__ import annotations

import argparse
import asyncio

from chatterm.cli.common import load_config
from chatterm.cli.output import Out, warn


def run_models(args: argparse.Namespace) -> int:
    from chatterm.catalog import group_by_vendor
    from chatterm.config import resolve_api_key
    from chatterm.model_list import fetch_models

    config = load_config()
    provider = config.provider(args.provider)
    api_key = resolve_api_key(provider) if args.refresh else None
    listing = asyncio.run(fetch_models(provider, api_key, refresh=args.refresh))
    # A refresh that was asked for and failed is a failure (exit 1), even though the
    # catalog and the cached list are still shown: a script must not take them for live.
    code = 0
    if listing.refresh_error:
        showing = listing.fallback or "no cached list"
        warn(f"could not refresh the model list: {listing.refresh_error}; showing {showing}")
        code = 1
    elif listing.note:
        warn(listing.note)
    out = Out()
    if args.json:
        out.json([model.to_dict() for model in listing.models])
        return code
    if not listing.models:
        if args.refresh and not code:
            warn(f"{provider.name} listed no chat models")
        elif not code:
            warn(
                f"no models known for provider '{provider.name}'; "
                f"run 'chatterm models --provider {provider.name} --refresh'"
            )
        return code
    for vendor, models in group_by_vendor(listing.models).items():
        out.line(f"{vendor}:")
        for model in models:
            flags: list[str] = []
            if model.kind != "chat":
                flags.append(model.kind)
            if model.context_length:
                flags.append(f"{model.context_length:,} ctx")
            if model.vision:
                flags.append("images")
            if model.source == "live":
                flags.append("new")
            if model.missing_live:
                flags.append("not in live list")
            suffix = f"  ({', '.join(flags)})" if flags else ""
            out.line(f"  {model.id}{suffix}")
    return code
