"""Theme files: TOML that maps onto textual.theme.Theme, shipped and user-made.

Built-in themes live in the top-level `themes/` folder, installed as the package
`chatterm.themes`; user themes are `*.toml` files in `locations.user_themes_dir()`.
A broken file never stops the app: it becomes a one-line problem naming the file.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from chatterm.errors import ChattermError
from chatterm.theme_files import ThemeSource, builtin_theme_sources, user_theme_paths

if TYPE_CHECKING:
    from textual.app import App
    from textual.theme import Theme

    from chatterm.config import Config

DEFAULT_THEME = "chatterm-dark"
LIGHT_THEME = "chatterm-light"

COLOR_FIELDS = (
    "primary", "secondary", "accent", "foreground", "background", "surface", "panel",
    "boost", "warning", "error", "success",
)
NUMBER_FIELDS = ("luminosity_spread", "text_alpha")
BOOL_FIELDS = ("dark", "ansi")
KNOWN_FIELDS = frozenset({"name", *COLOR_FIELDS, *NUMBER_FIELDS, *BOOL_FIELDS, "variables"})

# Characters that could end a CSS declaration early and smuggle in other rules.
_CSS_BREAKERS = frozenset(";{}$\n\r")


class ThemeError(ChattermError):
    """A theme file cannot be used; the message names the file."""


def _value_problem(key: str, value: str, prop: str) -> str | None:
    if not value.strip():
        return f"{key} is empty"
    if any(ch in _CSS_BREAKERS for ch in value):
        return f"{key} {value!r} contains a character not allowed in a theme value"
    from textual.css.parse import parse_declarations

    try:
        parse_declarations(f"{prop}: {value};", ("theme", ""))
    except Exception:
        # Textual reports these with markup meant for its own error screen; ours is plainer.
        what = "text style" if prop == "text-style" else "color"
        return f"{key} {value!r} is not a valid {what}"
    return None


def _variable_property(name: str) -> str:
    """The CSS property a Textual design variable is used with, judged by its name."""
    if name.endswith("text-style") or name.startswith("link-style"):
        return "text-style"
    if name.endswith("background"):
        return "background"  # also accepts "initial"
    return "color"


def parse_theme(data: dict[str, Any], fallback_name: str) -> tuple[Theme, list[str]]:
    """Build a Theme from a parsed TOML table.

    Raises ThemeError (without the file name) when the theme cannot be used; returns
    warnings for keys it ignored.
    """
    from textual.theme import Theme

    warnings = [f"unknown key {key!r} ignored" for key in data if key not in KNOWN_FIELDS]
    name = data.get("name", fallback_name)
    if not isinstance(name, str) or not name.strip() or "," in name:
        raise ThemeError("name must be a non-empty string without commas")
    fields: dict[str, Any] = {"name": name.strip()}
    if "primary" not in data:
        raise ThemeError("primary is required (a color such as \"#5FA8D3\")")
    for key in COLOR_FIELDS:
        if key in data:
            value = data[key]
            if not isinstance(value, str):
                raise ThemeError(f"{key} must be a color string such as \"#5FA8D3\"")
            if problem := _value_problem(key, value, "color"):
                raise ThemeError(problem)
            fields[key] = value.strip()
    for key in BOOL_FIELDS:
        if key in data:
            if not isinstance(data[key], bool):
                raise ThemeError(f"{key} must be true or false")
            fields[key] = data[key]
    for key in NUMBER_FIELDS:
        if key in data:
            value = data[key]
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ThemeError(f"{key} must be a number")
            if not 0 <= value <= 1:
                raise ThemeError(f"{key} must be between 0 and 1")
            fields[key] = float(value)
    variables = data.get("variables", {})
    if not isinstance(variables, dict):
        raise ThemeError("variables must be a table of name = \"value\"")
    checked: dict[str, str] = {}
    for var_name, value in variables.items():
        where = f"variables.{var_name}"
        if not isinstance(value, str):
            raise ThemeError(f"{where} must be a string")
        if not var_name or not all(ch.isalnum() or ch == "-" for ch in var_name):
            raise ThemeError(f"{where}: a variable name uses letters, digits and '-'")
        if problem := _value_problem(where, value, _variable_property(var_name)):
            raise ThemeError(problem)
        checked[var_name] = value.strip()
    fields["variables"] = checked
    theme = Theme(**fields)
    try:
        theme.to_color_system().generate()
    except Exception as exc:  # a last guard: Textual's own colour maths refused it
        raise ThemeError(f"Textual cannot build colors from it ({exc})") from None
    return theme, warnings


def load_theme_source(source: ThemeSource) -> tuple[Theme, list[str]]:
    """Parse one theme file. Raises ThemeError naming the file; warnings name it too."""
    try:
        text = source.data.decode("utf-8")
    except UnicodeDecodeError:
        raise ThemeError(f"theme file {source.label}: not valid UTF-8") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ThemeError(f"theme file {source.label}: invalid TOML: {exc}") from None
    try:
        theme, warnings = parse_theme(data, source.fallback_name)
    except ThemeError as exc:
        raise ThemeError(f"theme file {source.label}: {exc.message}") from None
    return theme, [f"theme file {source.label}: {warning}" for warning in warnings]


def load_theme_file(path: Path) -> tuple[Theme, list[str]]:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ThemeError(f"theme file {path}: cannot read it ({exc.strerror or exc})") from None
    return load_theme_source(ThemeSource(str(path), data, path.stem))


def load_themes(user_dir: Path | None = None) -> tuple[list[Theme], list[str]]:
    """Built-in then user themes (a user theme may replace a built-in of the same name),
    and one problem line per broken file or ignored key."""
    themes: dict[str, Theme] = {}
    problems: list[str] = []

    def take(results: Iterable[tuple[Theme, list[str]] | ThemeError]) -> None:
        for result in results:
            if isinstance(result, ThemeError):
                problems.append(result.message)
            else:
                theme, warnings = result
                themes[theme.name] = theme
                problems.extend(warnings)

    take(_attempt(load_theme_source, source) for source in builtin_theme_sources())
    take(_attempt(load_theme_file, path) for path in user_theme_paths(user_dir))
    return list(themes.values()), problems


_Arg = TypeVar("_Arg")


def _attempt(loader: Callable[[_Arg], tuple[Theme, list[str]]],
             arg: _Arg) -> tuple[Theme, list[str]] | ThemeError:
    try:
        return loader(arg)
    except ThemeError as exc:
        return exc


def register_themes(app: App[Any], user_dir: Path | None = None) -> list[str]:
    """Register every loadable theme with `app`; returns the problems to notify about."""
    themes, problems = load_themes(user_dir)
    for theme in themes:
        app.register_theme(theme)
    return problems


def apply_theme(app: App[Any], name: str | None) -> str | None:
    """Switch `app` to `name` (None: chatterm's default). An unknown name falls back to
    the default theme and returns a one-line problem."""
    wanted = name or DEFAULT_THEME
    if wanted in app.available_themes:
        app.theme = wanted
        return None
    fallback = DEFAULT_THEME if DEFAULT_THEME in app.available_themes else "textual-dark"
    app.theme = fallback
    return f"theme {wanted!r} not found; using {fallback} (see themes/ in the config dir)"


def save_theme(name: str, config_path: Path | None = None,
               config: Config | None = None) -> str | None:
    """Persist the chosen theme as `theme = "..."` in the config (and in `config`, the
    app's, when given); a problem line or None."""
    from chatterm.config import set_config_value

    if config_path is None:
        from chatterm.locations import config_file

        config_path = config_file()
    try:
        set_config_value(config_path, "theme", name, config)
    except ChattermError as exc:
        return f"could not save the theme: {exc.message}"
    except OSError as exc:
        return f"could not save the theme to {config_path}: {exc.strerror or exc}"
    return None
