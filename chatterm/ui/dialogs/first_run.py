"""Shown when the provider needs an API key and none is set: explain, and offer ways out.

The user can paste a key (saved 0600 to the config file, never shown again), switch to
Ollama or any OpenAI-compatible URL that needs no key, or dismiss the screen and browse
saved conversations anyway. Dismisses with (provider, model or None), or None.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Static

from chatterm.errors import ChattermError

if TYPE_CHECKING:
    from pathlib import Path

    from chatterm.config import Config

LOCAL_PROVIDER = "local"
OLLAMA_PROVIDER = "ollama"


class FirstRunScreen(ModalScreen[tuple[str, str | None] | None]):
    BINDINGS: ClassVar = [Binding("escape", "browse", "Browse saved chats")]

    def __init__(self, config: Config, provider_name: str) -> None:
        super().__init__(id="first-run")
        self.config = config
        self.provider_name = provider_name

    @property
    def config_path(self) -> Path:
        if self.config.path is not None:
            return self.config.path
        from chatterm.locations import config_file

        return config_file()

    def compose(self) -> ComposeResult:
        provider = self.config.provider(self.provider_name)
        env = provider.api_key_env
        with VerticalScroll(id="first-run-box"):
            yield Static(Content.styled("chatterm needs an API key", "bold"), id="fr-title")
            lines = [
                ("Provider ", ""),
                (provider.name, "bold"),
                (f" ({provider.base_url}) needs a key, and none is set.\n", ""),
            ]
            if env:
                lines += [
                    ("Set it in your shell:  ", ""),
                    (f"export {env}=…", "bold $accent"),
                    ("  and restart, or paste it below.\n", ""),
                ]
            lines.append(
                (f"A pasted key is saved to {self.config_path} (readable by you only) "
                 "and never shown again.", "$foreground-muted")
            )
            yield Static(Content.assemble(*lines), id="fr-explain")
            with Horizontal(classes="fr-row"):
                yield Input(placeholder=f"paste the {provider.name} API key",
                            password=True, id="fr-key")
                yield Button("Save key", id="fr-save", variant="primary")
            yield Static("Or use a provider that needs no key:", classes="fr-heading")
            ollama = self.config.providers.get(OLLAMA_PROVIDER)
            if ollama is not None:
                yield Button(f"Use Ollama ({ollama.base_url})", id="fr-ollama")
            with Horizontal(classes="fr-row"):
                yield Input(placeholder="OpenAI-compatible URL, e.g. http://localhost:8080/v1",
                            id="fr-url")
                yield Input(placeholder="model id", id="fr-model")
                yield Button("Use this URL", id="fr-use-url")
            yield Static("", id="fr-error")
            with Horizontal(classes="fr-row"):
                yield Button("Browse saved chats (Esc)", id="fr-browse")

    def on_mount(self) -> None:
        self.query_one("#fr-key", Input).focus()

    def _error(self, text: str) -> None:
        self.query_one("#fr-error", Static).update(Content.styled(text, "$error"))

    @on(Input.Submitted, "#fr-key")
    @on(Button.Pressed, "#fr-save")
    def save_key(self) -> None:
        from chatterm.config import save_api_key

        field = self.query_one("#fr-key", Input)
        key = field.value.strip()
        if not key:
            self._error("paste a key first")
            return
        try:
            # The editor updates self.config too: the running app uses the key at once.
            save_api_key(self.config_path, self.provider_name, key, self.config)
        except ChattermError as error:
            self._error(error.message)
            return
        field.value = ""  # cleared so it is never redrawn
        self.app.notify(f"Key saved to {self.config_path}.", markup=False)
        self.dismiss((self.provider_name, None))

    @on(Button.Pressed, "#fr-ollama")
    def use_ollama(self) -> None:
        provider = self.config.providers[OLLAMA_PROVIDER]
        self._switch(OLLAMA_PROVIDER, provider.default_model)

    @on(Input.Submitted, "#fr-url")
    @on(Input.Submitted, "#fr-model")
    @on(Button.Pressed, "#fr-use-url")
    def use_url(self) -> None:
        from chatterm.config import add_provider

        url = self.query_one("#fr-url", Input).value.strip()
        model = self.query_one("#fr-model", Input).value.strip()
        if not url:
            self._error("type the server's base URL, e.g. http://localhost:8080/v1")
            return
        try:
            # A [providers.local] already there is never replaced: the new server gets a
            # free name unless it is the same URL.
            name = add_provider(self.config_path, url, model, prefer=LOCAL_PROVIDER,
                                config=self.config)
        except ChattermError as error:
            self._error(error.message)
            return
        # A reused table keeps its own default_model when no model was typed.
        chosen = model or self.config.providers[name].default_model
        if name != LOCAL_PROVIDER:
            self.app.notify(
                f"[providers.{LOCAL_PROVIDER}] is kept as it was; this server is saved as "
                f"[providers.{name}].", markup=False, timeout=8)
        self._switch(name, chosen)

    def _switch(self, provider: str, model: str | None) -> None:
        from chatterm.config import set_config_value

        try:
            set_config_value(self.config_path, "default_provider", provider, self.config)
        except ChattermError as error:
            # Not fatal: this session still switches, only the next start will ask again.
            self.app.notify(f"could not save default_provider: {error}", severity="warning",
                            markup=False)
        self.dismiss((provider, model))

    @on(Button.Pressed, "#fr-browse")
    def action_browse(self) -> None:
        self.dismiss(None)
        toggle = getattr(self.app, "show_sidebar", None)
        if callable(toggle):
            toggle()

