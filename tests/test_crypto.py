"""Fernet/MultiFernet encryption for stored provider credentials, with key rotation."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet

from gatewayz.crypto import DecryptionError, SecretBox


def test_round_trip_and_ciphertext_hides_plaintext() -> None:
    box = SecretBox([Fernet.generate_key().decode()])
    token = box.encrypt("sk-provider-secret")
    assert "sk-provider-secret" not in token
    assert box.decrypt(token) == "sk-provider-secret"
    assert box.encrypt("same") != box.encrypt("same")  # random IV


def test_rotation_new_key_first_old_tokens_still_readable_then_rewrapped() -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    token = SecretBox([old]).encrypt("credential")
    both = SecretBox([new, old])
    assert both.decrypt(token) == "credential"
    rotated = both.rotate(token)
    assert SecretBox([new]).decrypt(rotated) == "credential"
    with pytest.raises(DecryptionError):
        SecretBox([new]).decrypt(token)


def test_tampering_and_unknown_keys_are_refused() -> None:
    box = SecretBox([Fernet.generate_key().decode()])
    token = box.encrypt("x")
    with pytest.raises(DecryptionError):
        box.decrypt(token[:-4] + "AAAA")
    with pytest.raises(DecryptionError):
        SecretBox([Fernet.generate_key().decode()]).decrypt(token)


def test_bad_key_material_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="Fernet"):
        SecretBox(["not-a-fernet-key"])
