"""The security primitives' concern: the app's password hasher and its field encryption."""

from __future__ import annotations

from litestar.config.app import AppConfig
from litestar.plugins import InitPluginProtocol

from quoin.config import PasswordSettings, SecuritySettings
from quoin.core.security.encryption import FieldCipher
from quoin.core.security.passwords import PASSWORDS_STATE_KEY, Passwords

__all__ = ["SecurityPlugin"]


class SecurityPlugin(InitPluginProtocol):
    """One ``Passwords`` per app (its hashing processes end with it) and the cipher of encrypted columns."""

    def __init__(self, passwords: PasswordSettings, security: SecuritySettings) -> None:
        self.passwords = Passwords(passwords)
        self.cipher = FieldCipher(security.field_keys)  # its ``bind`` is an engine hook

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        """Hand the hasher to the app's state and stop its processes at shutdown."""
        app_config.state[PASSWORDS_STATE_KEY] = self.passwords
        app_config.on_shutdown.append(self.passwords.close)
        return app_config
