"""Passwords, JWTs, API token material, encryption at rest and masking."""

import time

import pytest

from gateway_app.core.crypto import DecryptionError, SecretBox, generate_key, mask_secret
from gateway_app.core.security import (
    InvalidCredentials,
    JwtCodec,
    generate_api_token,
    hash_api_token,
    hash_password,
    verify_password,
)


def test_password_hash_verifies_only_the_right_password():
    encoded = hash_password("correct horse")
    assert encoded.startswith("scrypt$")
    assert "correct horse" not in encoded
    assert verify_password("correct horse", encoded)
    assert not verify_password("wrong horse", encoded)
    assert not verify_password("correct horse", "garbage")


def test_same_password_hashes_differently_each_time():
    assert hash_password("pw-12345678") != hash_password("pw-12345678")


def test_jwt_round_trip_and_tampering():
    codec = JwtCodec("k" * 40, ttl_seconds=60)
    token = codec.issue({"sub": "u1", "role": "admin"})
    assert codec.decode(token)["sub"] == "u1"
    with pytest.raises(InvalidCredentials):
        JwtCodec("other" * 10, ttl_seconds=60).decode(token)
    with pytest.raises(InvalidCredentials):
        codec.decode(token[:-2] + "xx")


def test_jwt_expiry():
    codec = JwtCodec("k" * 40, ttl_seconds=-1)
    token = codec.issue({"sub": "u1"})
    with pytest.raises(InvalidCredentials, match="expired"):
        codec.decode(token)


def test_api_token_has_entropy_prefix_and_hash():
    first, second = generate_api_token(), generate_api_token()
    assert first.secret != second.secret
    assert first.secret.startswith("gh-") and len(first.secret) >= 3 + 43
    assert first.prefix == first.secret[:10]
    assert first.token_hash == hash_api_token(first.secret)
    assert first.secret not in first.token_hash


def test_secret_box_rotation_keeps_old_ciphertexts_readable():
    old_key, new_key = generate_key(), generate_key()
    stored = SecretBox(old_key).encrypt("sk-live-1234567890")
    rotated_box = SecretBox(f"{new_key},{old_key}")
    assert rotated_box.decrypt(stored) == "sk-live-1234567890"
    rewritten = rotated_box.rotate(stored)
    assert SecretBox(new_key).decrypt(rewritten) == "sk-live-1234567890"
    with pytest.raises(DecryptionError):
        SecretBox(generate_key()).decrypt(stored)


def test_mask_secret_shows_prefix_and_last_four_only():
    assert mask_secret("sk-abcdefghijklmnop1234") == "sk-...1234"
    assert mask_secret("abcdefghijklmnop9876") == "...9876"
    assert mask_secret("short") == "*****"
    assert mask_secret("") == ""


def test_jwt_issued_at_is_now():
    codec = JwtCodec("k" * 40, ttl_seconds=120)
    claims = codec.decode(codec.issue({"sub": "x"}))
    assert abs(claims["iat"] - time.time()) < 5
    assert claims["exp"] - claims["iat"] == 120
