"""Configuration: a YAML file or the environment → a typed ``Config``.

``load_config(path)`` reads a file (``$VAR`` expanded from the environment);
``load_config(None)`` / ``config_from_env(env)`` build one from well-known variables.
Any problem raises ``ConfigError`` naming the file and key path.
"""

from wirebridge.config.env import config_from_env
from wirebridge.config.errors import ConfigError
from wirebridge.config.load import load_config
from wirebridge.config.model import Config, ModelRoute, ProviderConfig, ServerConfig
from wirebridge.config.paths import state_dir

__all__ = [
    "Config",
    "ConfigError",
    "ModelRoute",
    "ProviderConfig",
    "ServerConfig",
    "config_from_env",
    "load_config",
    "state_dir",
]
