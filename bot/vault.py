"""Encrypts where a platform's status callbacks go, so its credential never rests in the database readable.

A Ketch ``DeleteRequest`` names callback endpoints with the headers to send them (its own bearer
token for its own API). Statuses are owed for weeks and must survive restarts, so the target is
stored, but only as a Fernet token (AES-128-CBC with HMAC-SHA256, from ``cryptography``) under
``PURGEBOT_INTAKE_KEY``: a copy of the SQLite file, a backup or a Litestream replica holds nothing
usable without the key, which lives only in the environment.

``PURGEBOT_INTAKE_KEY`` may list several keys, comma-separated: the first seals, every one opens
(``MultiFernet``), so a key is rotated by putting the new one first and dropping the old one once
the statuses sealed under it are delivered. A target that no key opens is refused with
:class:`Unopenable`; the sender keeps its status pending (nothing is lost) and says why.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from pydantic import SecretStr


class Unopenable(Exception):
    """A sealed callback target that no configured key opens (or no key is configured)."""


@dataclass(frozen=True)
class CallbackTarget:
    """Where a status event goes: the URL and the headers the platform asked to be sent with it."""

    url: str
    headers: dict[str, str]

    @property
    def origin(self) -> str:
        """``scheme://host[:port]`` alone: what may rest unencrypted (for an operator reading the file)."""
        parts = urlsplit(self.url)
        return f"{parts.scheme}://{parts.hostname or ''}{f':{parts.port}' if parts.port else ''}"


class Vault:
    """Seals and opens callback targets with the keys of ``PURGEBOT_INTAKE_KEY`` (none: it opens nothing)."""

    def __init__(self, keys: Sequence[SecretStr]) -> None:
        self._fernet = MultiFernet([Fernet(key.get_secret_value()) for key in keys]) if keys else None

    @property
    def ready(self) -> bool:
        return self._fernet is not None

    def seal(self, target: CallbackTarget) -> str:
        if self._fernet is None:
            raise Unopenable("PURGEBOT_INTAKE_KEY is not set")
        plain = json.dumps({"url": target.url, "headers": target.headers}, sort_keys=True)
        return self._fernet.encrypt(plain.encode()).decode()

    def open(self, sealed: str) -> CallbackTarget:
        if self._fernet is None:
            raise Unopenable("PURGEBOT_INTAKE_KEY is not set")
        try:
            plain = json.loads(self._fernet.decrypt(sealed.encode()))
        except InvalidToken:
            raise Unopenable("none of the keys in PURGEBOT_INTAKE_KEY opens it (a key dropped too soon?)") from None
        return CallbackTarget(url=str(plain["url"]), headers={str(k): str(v) for k, v in plain["headers"].items()})
