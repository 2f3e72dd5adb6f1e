"""Argument parsing and dispatch. Every command module is imported only when it runs."""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Sequence
from typing import NoReturn

from chatterm import __version__


class _Parser(argparse.ArgumentParser):
    """argparse, but usage errors are one line plus a hint, with exit code 2."""

    def error(self, message: str) -> NoReturn:
        from chatterm.cli.output import note, warn

        # The message may quote what was typed (a pasted escape sequence, say).
        warn(message)
        note(f"(run '{self.prog} --help' for usage)")
        raise SystemExit(2)


def _float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"not a finite number: {text!r}")
    return value


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None


def _positive_int(text: str) -> int:
    value = _int(text)
    # SQLite integers (and every limit worth asking for) end at 2**63 - 1.
    if value <= 0 or value >= 2**63:
        raise argparse.ArgumentTypeError(f"must be a positive whole number: {text!r}")
    return value


def _non_empty(text: str) -> str:
    if not text.strip():
        raise argparse.ArgumentTypeError("must not be empty")
    return text


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="chatterm",
        description="Chat with large language models in the terminal. "
        "With no command, opens the full-screen app.",
    )
    parser.add_argument("--version", action="version", version=f"chatterm {__version__}")
    parser.add_argument("-c", "--continue", dest="continue_last", action="store_true",
                        help="reopen the last conversation in the app")
    parser.add_argument("--resume", metavar="ID",
                        help="reopen conversation ID (or a unique prefix)")
    parser.add_argument("--provider", help="provider for a new chat")
    parser.add_argument("-m", "--model", type=_non_empty, help="model for a new chat")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    ask = commands.add_parser("ask", help="send a prompt and stream the reply to stdout",
                              description="Send a prompt and stream the reply to stdout. "
                              "The prompt comes from the arguments, or stdin when none is "
                              "given or it is '-'.")
    ask.add_argument("prompt", nargs="*", help="the prompt ('-' or nothing: read stdin)")
    ask.add_argument("-e", "--editor", action="store_true",
                     help="write the prompt in $VISUAL or $EDITOR (else vi), starting "
                     "from the prompt given; an empty prompt sends nothing")
    ask.add_argument("-a", "--attach", action="append", default=[], metavar="FILE",
                     help="send FILE with the prompt: a PNG/JPEG/WebP/GIF image or a UTF-8 "
                     "text file (repeatable; '-' reads it from stdin, the prompt then "
                     "comes from the arguments)")
    ask.add_argument("--provider", help="provider to use (default: config default_provider)")
    ask.add_argument("-m", "--model", type=_non_empty, action="append", default=[],
                     help="model id (sent even if not in the catalog); give two or more "
                     "to compare them: one reply each, streamed at once, as versions")
    ask.add_argument("--role", metavar="NAME", type=_non_empty,
                     help="start from saved role NAME (chatterm roles lists them): its "
                     "system prompt, provider, model and params; options given here win")
    ask.add_argument("--system", help="system prompt")
    ask.add_argument("--stop", action="append", default=[], metavar="SEQ", type=_non_empty,
                     help="stop sequence (repeatable)")
    ask.add_argument("--temperature", type=_float)
    ask.add_argument("--top-p", type=_float)
    ask.add_argument("--max-tokens", type=_positive_int)
    ask.add_argument("--seed", type=_int)
    ask.add_argument("--no-stream", action="store_true", help="wait for the whole reply")
    target = ask.add_mutually_exclusive_group()
    target.add_argument("-c", "--continue", dest="continue_last", action="store_true",
                        help="add to the last conversation")
    target.add_argument("--conversation", metavar="ID", help="add to conversation ID")
    ask.add_argument("--prefix", metavar="TEXT",
                     help="make the reply start with TEXT (providers of kind mistral)")
    ask.add_argument("--safe-prompt", action="store_true",
                     help="ask the provider to prepend its safety prompt (kind mistral)")
    ask.add_argument("--no-save", action="store_true", help="don't save this exchange")
    ask.add_argument("--json", action="store_true", help="print the final reply as JSON, "
                     "every message of a tool exchange under 'exchange' (comparing: a JSON "
                     "list of the replies)")
    tooling = ask.add_mutually_exclusive_group()
    tooling.add_argument("--no-tools", action="store_true",
                         help="offer the model no tools this time (no MCP server is started)")
    tooling.add_argument("--tool", action="append", default=[], metavar="SERVER",
                         help="offer only this MCP server's tools (repeatable)")
    ask.add_argument("--yes", action="store_true",
                     help="run every tool call the model asks for without asking")
    version = ask.add_mutually_exclusive_group()
    version.add_argument("--regenerate", nargs="?", const=True, metavar="MESSAGE_ID",
                         help="no prompt: a new version of that reply (default: the last "
                         "reply of the current branch)")
    version.add_argument("--edit", metavar="MESSAGE_ID",
                         help="a new version of that prompt (PROMPT... is its new text), "
                         "and a reply to it; the old branch stays")

    tools = commands.add_parser(
        "tools", help="list the configured MCP servers, their state and their tools",
        description="Start each configured MCP server (as ask would), then print its state "
        "(ready, failed: why, disabled) and its tools. Exit status 1 when a server failed.")
    tools.add_argument("--json", action="store_true",
                       help="a list of {name, state, error, tools: [{name, description}]}")

    usage = commands.add_parser(
        "usage", help="what the replies cost: tokens and cost per day, model or provider",
        description="Sum the saved replies, their prompt and completion tokens and their "
        "cost (where the provider reported one) per group, with totals.")
    usage.add_argument("--since", metavar="WHEN", type=_non_empty,
                       help="only replies since WHEN: Nd (today and the N-1 days before, "
                       "e.g. 7d, 30d) or a date (YYYY-MM-DD); default: all")
    usage.add_argument("--by", choices=("day", "model", "provider"), default="day")
    usage.add_argument("--json", action="store_true",
                       help="{by, since, groups: [...], total: {...}}")

    roles = commands.add_parser(
        "roles", help="list the saved roles ([roles.NAME] in the config, roles/NAME.toml)",
        description="List every saved role: name, description, provider/model and where "
        "it is defined. A role that cannot be used is one line on stderr.")
    roles.add_argument("--json", action="store_true",
                       help="a list of {name, description, provider, model, system_prompt, "
                       "params, source}")

    lst = commands.add_parser("list", help="list saved conversations, newest first")
    lst.add_argument("--json", action="store_true")
    lst.add_argument("--limit", type=_positive_int, default=None)

    show = commands.add_parser("show", help="print a conversation")
    show.add_argument("id", help="conversation id or unique prefix")
    shown = show.add_mutually_exclusive_group()
    shown.add_argument("--json", action="store_true",
                       help="print the export format (every branch)")
    shown.add_argument("--tree", action="store_true",
                       help="print every branch, one line per message, versions indented")

    branch = commands.add_parser(
        "branch", help="list a conversation's branches, or make one current",
        description="With only ID: one line per branch (its last message's id, its depth, "
        "the model of its last reply, and the first words where it departs from the "
        "current branch; '*' marks the current one). With MESSAGE_ID: make the most "
        "recently active branch through that message the current one.")
    branch.add_argument("id", help="conversation id or unique prefix")
    branch.add_argument("message_id", nargs="?", metavar="MESSAGE_ID",
                        help="a message id or unique prefix")
    branch.add_argument("--json", action="store_true")

    fork = commands.add_parser(
        "fork", help="copy a conversation up to a message into a new conversation",
        description="A new conversation holding the messages of ID from the first prompt "
        "down to MESSAGE_ID (new ids; the original is unchanged). Prints the new "
        "conversation's id.")
    fork.add_argument("id", help="conversation id or unique prefix")
    fork.add_argument("message_id", metavar="MESSAGE_ID", help="a message id or unique prefix")
    fork.add_argument("--title", type=_non_empty, help="the new conversation's title")

    search = commands.add_parser("search", help="full-text search of saved conversations")
    search.add_argument("query", nargs="+")
    search.add_argument("--json", action="store_true")
    search.add_argument("--limit", type=_positive_int, default=50)

    export = commands.add_parser("export", help="export a conversation")
    export.add_argument("id")
    export.add_argument("--format", choices=("markdown", "json"), default="markdown")
    export.add_argument("-o", "--output", metavar="FILE", help="write to FILE (default stdout)")

    imp = commands.add_parser(
        "import", help="import conversations: a chatterm export, a ChatGPT or Claude data "
                       "export, Elia's elia.sqlite or llm's logs.db")
    imp.add_argument("file", help="the file or unpacked export folder (its format is "
                     "detected), or '-' for stdin")
    imp.add_argument("--dry-run", action="store_true",
                     help="say what would be imported, and write nothing")
    imp.add_argument("--as-new", action="store_true",
                     help="a chatterm export: always save it under new ids (by default "
                          "the file's ids are kept, and new ones given only when they are "
                          "already taken)")

    delete = commands.add_parser("delete", help="delete a conversation")
    delete.add_argument("id")
    delete.add_argument("--yes", action="store_true", help="don't ask for confirmation")

    rename = commands.add_parser("rename", help="rename a conversation")
    rename.add_argument("id")
    rename.add_argument("title", nargs="+")

    doctor = commands.add_parser(
        "doctor", help="check the database; if damaged, copy what can be read to a new file",
        description="Run SQLite's integrity check on the conversation database. If it finds "
        "damage, copy everything that can still be read into a new database file (the "
        "original is never changed) and say how to switch to it.")
    doctor.add_argument("-o", "--output", metavar="FILE",
                        help="where to write the recovered copy (default: chatterm.db.recovered)")
    doctor.add_argument("--recover", action="store_true",
                        help="write the copy even when the check passes")

    models = commands.add_parser("models", help="list models, grouped by vendor")
    models.add_argument("--provider")
    models.add_argument("--refresh", action="store_true",
                        help="fetch the provider's live /models and merge it with the catalog")
    models.add_argument("--json", action="store_true")

    config = commands.add_parser("config", help="show or edit the config file")
    config_commands = config.add_subparsers(dest="config_command", metavar="ACTION",
                                            parser_class=_Parser, required=True)
    config_commands.add_parser("path", help="print the config file's path")
    config_commands.add_parser("show", help="print the effective config, keys masked")
    set_cmd = config_commands.add_parser("set", help="set KEY to VALUE (dotted keys)")
    set_cmd.add_argument("key", help="e.g. default_model, params.temperature")
    set_cmd.add_argument("value")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from chatterm.errors import ChattermError

    args = build_parser().parse_args(argv)
    try:
        return _dispatch(args)
    except ChattermError as error:
        from chatterm.cli.output import error_line, warn

        warn(f"error: {error_line(error.message)}")
        return error.exit_code
    except KeyboardInterrupt:
        from chatterm.cli.output import warn

        warn("interrupted")
        return 130
    except OSError as error:
        if isinstance(error, BrokenPipeError):
            # The reader went away (e.g. `| head`); that is not an error worth a traceback.
            _silence_stdout()
            return 0
        # A file chatterm could not read or write (permissions, disk full): one line.
        from chatterm.cli.output import warn

        where = f": {error.filename}" if error.filename else ""
        warn(f"error: {error.strerror or error}{where}")
        return 1


def _silence_stdout() -> None:
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def _dispatch(args: argparse.Namespace) -> int:
    command = args.command
    if command is None:
        from chatterm.cli.tui import open_tui

        return open_tui(args)
    if command == "ask":
        from chatterm.cli.ask import run_ask

        return run_ask(args)
    if command in {"show", "branch", "fork"}:
        from chatterm.cli import trees

        return trees.run(command, args)
    if command in {"list", "search", "export", "import", "delete", "rename"}:
        from chatterm.cli import conversations

        return conversations.run(command, args)
    if command == "tools":
        from chatterm.cli.tools import run_tools

        return run_tools(args)
    if command == "roles":
        from chatterm.cli.roles import run_roles

        return run_roles(args)
    if command == "usage":
        from chatterm.cli.usage import run_usage

        return run_usage(args)
    if command == "doctor":
        from chatterm.cli.doctor import run_doctor

        return run_doctor(args)
    if command == "models":
        from chatterm.cli.models import run_models

        return run_models(args)
    if command == "config":
        from chatterm.cli.config_cmd import run_config

        return run_config(args)
    raise AssertionError(f"unhandled command {command}")
