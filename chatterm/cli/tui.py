"""`chatterm` with no command: the full-screen app, imported only now."""

from __future__ import annotations

import argparse
import gc


def open_tui(args: argparse.Namespace) -> int:
    # Start-up creates a few hundred thousand objects that live as long as the app
    # (Textual's modules and classes, the parsed CSS). The collector would walk them
    # ~90 times before the first frame and free nothing: ~20 ms of the launch. The app
    # turns it back on once the first frame is drawn (ChattermApp._warm_up).
    gc.disable()
    try:
        from chatterm.ui.launch import LaunchOptions

        options = LaunchOptions(
            provider=args.provider,
            model=args.model,
            continue_last=args.continue_last,
            resume_id=args.resume,
        )
        from chatterm.ui.app import run_app

        return run_app(options)
    finally:
        gc.enable()
