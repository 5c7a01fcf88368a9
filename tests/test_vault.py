"""Sealing callback targets: what opens them, what does not, and what of them may rest in the clear."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from pydantic import SecretStr

from bot.vault import CallbackTarget, Unopenable, Vault

TARGET = CallbackTarget(
    url="https://user:pw@ketch.example:8443/dsr/callback?token=url-secret",
    headers={"Authorization": "Bearer ketch-credential", "X-Quote": "a\"b'c\\d"},
)


def vault(*keys: str) -> Vault:
    return Vault([SecretStr(key) for key in keys])


def test_a_sealed_target_opens_to_exactly_what_was_sealed_and_shows_nothing_of_it() -> None:
    key = Fernet.generate_key().decode()
    sealed = vault(key).seal(TARGET)

    assert vault(key).open(sealed) == TARGET
    for secret in ("ketch-credential", "url-secret", "ketch.example", "Authorization"):
        assert secret not in sealed
    assert vault(key).seal(TARGET) != sealed  # a fresh IV each time: equal targets do not look equal


def test_a_rotated_key_opens_what_the_old_key_sealed_while_the_old_key_is_listed() -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    sealed = vault(old).seal(TARGET)

    assert vault(new, old).open(sealed) == TARGET
    resealed = vault(new, old).seal(TARGET)
    assert vault(new).open(resealed) == TARGET  # the first key seals
    with pytest.raises(Unopenable, match="none of the keys"):
        vault(new).open(sealed)  # the old key dropped too soon


def test_without_a_key_nothing_is_sealed_or_opened() -> None:
    empty = vault()
    assert not empty.ready
    with pytest.raises(Unopenable, match="PURGEBOT_INTAKE_KEY is not set"):
        empty.seal(TARGET)
    with pytest.raises(Unopenable, match="PURGEBOT_INTAKE_KEY is not set"):
        empty.open("anything")


def test_a_damaged_token_is_unopenable_not_a_crash() -> None:
    key = Fernet.generate_key().decode()
    sealed = vault(key).seal(TARGET)
    for damaged in ("", sealed[:-4], sealed[:20] + ("A" if sealed[20] != "A" else "B") + sealed[21:]):
        with pytest.raises(Unopenable):
            vault(key).open(damaged)


def test_only_the_origin_rests_in_the_clear() -> None:
    assert TARGET.origin == "https://ketch.example:8443"
    assert CallbackTarget(url="http://k.example/cb", headers={}).origin == "http://k.example"
