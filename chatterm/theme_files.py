"""Where theme files are and which theme names exist, without Textual.

The app turns these files into Textual themes (chatterm.ui.themes); `chatterm config set
theme NAME` checks NAME against the same files here, so it never writes a theme the app
would not find.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

# Textual's own themes (textual.theme.BUILTIN_THEMES of the pinned Textual); a test checks
# that this list still matches, so the CLI need not import Textual to know them.
TEXTUAL_THEME_NAMES = frozenset({
    "ansi-dark", "ansi-light", "atom-one-dark", "atom-one-light", "catppuccin-frappe",
    "catppuccin-latte", "catppuccin-macchiato", "catppuccin-mocha", "dracula", "flexoki",
    "gruvbox", "monokai", "nord", "rose-pine", "rose-pine-dawn", "rose-pine-moon",
    "solarized-dark", "solarized-light", "textual-dark", "textual-light", "tokyo-night",
})


@dataclass(slots=True)
class ThemeSource:
    label: str  # what a problem line calls the file
    data: bytes
    fallback_name: str  # the file's stem, used when the file has no `name`


def builtin_theme_sources() -> list[ThemeSource]:
    """The shipped theme files: the installed package, else the checkout's themes/ folder."""
    sources: list[ThemeSource] = []
    try:
        from importlib.resources import files

        folder = files("chatterm.themes")
        entries = sorted(
            (entry for entry in folder.iterdir() if entry.name.endswith(".toml")),
            key=lambda entry: entry.name,
        )
        for entry in entries:
            stem = entry.name.removesuffix(".toml")
            sources.append(ThemeSource(f"{entry.name} (built-in)", entry.read_bytes(), stem))
    except (ModuleNotFoundError, FileNotFoundError, NotADirectoryError):
        checkout = Path(__file__).resolve().parents[1] / "themes"
        for path in sorted(checkout.glob("*.toml")):
            sources.append(ThemeSource(f"{path.name} (built-in)", path.read_bytes(), path.stem))
    return sources


def user_theme_paths(folder: Path | None = None) -> list[Path]:
    if folder is None:
        from chatterm.locations import user_themes_dir

        folder = user_themes_dir()
    try:
        return sorted(path for path in folder.glob("*.toml") if path.is_file())
    except OSError:
        return []


def source_theme_name(source: ThemeSource) -> str | None:
    """The name a theme file declares (or its stem); None when the file is unreadable."""
    try:
        data = tomllib.loads(source.data.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError):
        return None
    name = data.get("name", source.fallback_name)
    return name.strip() if isinstance(name, str) and name.strip() else None


def theme_names(user_dir: Path | None = None) -> set[str]:
    """Every theme name the app can switch to: Textual's, the shipped files', the user's."""
    names = set(TEXTUAL_THEME_NAMES)
    sources = builtin_theme_sources()
    for path in user_theme_paths(user_dir):
        try:
            sources.append(ThemeSource(str(path), path.read_bytes(), path.stem))
        except OSError:
            continue
    names.update(name for source in sources if (name := source_theme_name(source)))
    return names
