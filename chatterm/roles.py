"""Saved roles: a system prompt plus an optional provider, model, params and description.

Roles come from the config (`[roles.NAME]`) and from files in the roles/ folder beside
it (`roles/NAME.toml`, one role per file, NAME from the file name), found the way themes
are. On a clash the config's table wins (it is what `config show` shows) and the file is
named in a note as not used. A bad role is one line naming it and the key; the others load.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from chatterm.conversation import Params
from chatterm.errors import ChattermError, UsageError

if TYPE_CHECKING:
    from chatterm.config import Config

# A role file is a few lines of TOML; a bigger one is a mistake, not read whole.
MAX_ROLE_FILE_BYTES = 1 << 20


@dataclass(slots=True)
class SavedRole:
    name: str
    system_prompt: str
    source: str  # where it is defined: the config's "[roles.NAME]" or the file's path
    description: str = ""
    provider: str | None = None
    model: str | None = None
    params: Params = field(default_factory=Params)

    def to_dict(self) -> dict[str, object]:
        return {
            "name": self.name, "description": self.description, "provider": self.provider,
            "model": self.model, "system_prompt": self.system_prompt,
            "params": {k: v for k, v in self.params.to_dict().items() if v not in (None, [])
                       and not (k == "safe_prompt" and v is False)},
            "source": self.source,
        }


@dataclass(slots=True)
class Roles:
    found: dict[str, SavedRole] = field(default_factory=dict)
    # Name -> the one line saying why that role cannot be used.
    broken: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # ignored keys, files not used

    def lines(self) -> list[str]:
        return [*self.broken.values(), *self.notes]

    def get(self, name: str) -> SavedRole:
        """The role called `name`, or a UsageError with why or with close matches."""
        found = self.found.get(name)
        if found is not None:
            return found
        if name in self.broken:
            raise UsageError(f"role {name!r} cannot be used: {self.broken[name]}")
        names = sorted({*self.found, *self.broken})
        close = difflib.get_close_matches(name, names, n=3, cutoff=0.5)
        if close:
            hint = f" (did you mean {', '.join(close)}?)"
        elif names:
            hint = f" (known: {', '.join(names)})"
        else:
            hint = " (none defined: add [roles.NAME] to the config or a roles/NAME.toml file)"
        raise UsageError(f"unknown role {name!r}{hint}")


def roles_dir(config: Config) -> Path:
    if config.path is not None:
        return config.path.parent / "roles"
    from chatterm.locations import user_roles_dir

    return user_roles_dir()


def load_roles(config: Config, folder: Path | None = None) -> Roles:
    """Every role of the config and the roles/ folder; never raises for a bad role."""
    from chatterm.config.role_table import check_role

    roles = Roles()
    where = str(config.path) if config.path else "config"
    for name, table in config.role_tables.items():
        checked = check_role(table, where, f"roles.{name}.", config.providers)
        _take(roles, name, checked, f"{where} [roles.{name}]")
    for path in _role_files(folder if folder is not None else roles_dir(config), roles):
        name = path.stem
        if name in config.role_tables:
            roles.notes.append(f"{path}: not used, the config's [roles.{name}] has that "
                               "name and wins")
            continue
        data = _read_file(path, roles, name)
        if data is not None:
            _take(roles, name, check_role(data, str(path), "", config.providers), str(path))
    return roles


def _take(roles: Roles, name: str, checked: object, source: str) -> None:
    from chatterm.config.role_table import CheckedRole

    assert isinstance(checked, CheckedRole)
    roles.notes.extend(checked.notes)
    if checked.problem is not None:
        roles.broken[name] = checked.problem
        return
    settings = checked.settings
    roles.found[name] = SavedRole(
        name=name,
        system_prompt=settings["system_prompt"],
        source=source,
        # One line in listings and the picker, whatever the file holds.
        description=" ".join(str(settings.get("description", "")).split()),
        provider=settings.get("provider"),
        model=settings.get("model"),
        params=Params.from_dict(checked.params),
    )


def _role_files(folder: Path, roles: Roles) -> list[Path]:
    try:
        return sorted(path for path in folder.glob("*.toml")
                      if path.is_file() and not path.name.startswith("."))
    except OSError as exc:
        roles.notes.append(f"{folder}: cannot read the roles folder: {exc.strerror or exc}")
        return []


def _read_file(path: Path, roles: Roles, name: str) -> dict[str, object] | None:
    from chatterm.config.load import parse_toml, read_text

    try:
        if path.stat().st_size > MAX_ROLE_FILE_BYTES:
            roles.broken[name] = f"{path}: larger than 1 MB, not read"
            return None
        text = read_text(path)
        return parse_toml(text or "", path)
    except ChattermError as exc:
        roles.broken[name] = exc.message
    except OSError as exc:
        roles.broken[name] = f"{path}: cannot read it: {exc.strerror or exc}"
    return None


def role_model(config: Config, role: SavedRole, provider: str | None,
               model: str | None) -> tuple[str, str | None]:
    """(provider, model) a chat with `role` uses: `provider`/`model` given explicitly win;
    the role's model applies only with the role's own provider (a model id rarely exists
    on another one), else the provider's default as for any chat."""
    chosen = config.provider(provider or role.provider).name
    if model:
        return chosen, model
    role_provider = role.provider or config.default_provider
    if role.model and chosen == role_provider:
        return chosen, role.model
    return chosen, config.model_for(chosen)
