"""The user's config file: its shape, loading it, editing it, and finding API keys.

- `schema`: the Config dataclass and the checker of every key;
- `load`: TOML in, a checked Config out;
- `edit`: the one editor every change to the file goes through;
- `keys`: a provider's API key (env var, `api_key`, `api_key_command`);
- `rules`: what `config set` checks beyond a value's type;
- `view`: `config show`, every secret masked.

The public names are re-exported here, so `from chatterm.config import Config` works.
"""

from chatterm.config.edit import add_provider, save_api_key, set_config_value
from chatterm.config.keys import KEY_COMMAND_TIMEOUT, missing_key_message, resolve_api_key
from chatterm.config.load import load_config
from chatterm.config.schema import PARAM_KEYS, PROVIDER_KEYS, TOP_KEYS, Config

__all__ = [
    "KEY_COMMAND_TIMEOUT",
    "PARAM_KEYS",
    "PROVIDER_KEYS",
    "TOP_KEYS",
    "Config",
    "add_provider",
    "load_config",
    "missing_key_message",
    "resolve_api_key",
    "save_api_key",
    "set_config_value",
]
