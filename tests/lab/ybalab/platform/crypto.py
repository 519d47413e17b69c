"""At-rest encryption of customer_config.data, standing in for YBA's @Encrypted columns (FACTS 3.3).

Dependency-light but real: a SHA-256 counter-mode keystream with a random 16-byte nonce, authenticated
with HMAC-SHA256 (encrypt-then-MAC). Keys derive from a per-lab app secret kept in
``<lab dir>/platform/app_secret`` (created on first use, mode 0600), so a plain SQL reader of the
``data`` column sees only ``ybenc:v1:<base64>``.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
from typing import Any

PREFIX = "ybenc:v1:"


class DecryptionError(ValueError):
    """The ciphertext is malformed, was tampered with, or belongs to another lab."""


def secret_path(state: dict[str, Any]) -> str:
    return os.path.join(state["dir"], "platform", "app_secret")


def app_secret(state: dict[str, Any]) -> bytes:
    """The lab's app secret (hex in a file under the lab dir), created atomically on first use."""
    path = secret_path(state)
    try:
        with open(path, encoding="ascii") as fh:
            return bytes.fromhex(fh.read().strip())
    except FileNotFoundError:
        pass
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = f"{path}.{os.getpid()}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(secrets.token_hex(32))
    try:
        os.link(tmp, path)  # first writer wins; a concurrent loser reads the winner's secret
    except FileExistsError:
        pass
    finally:
        os.unlink(tmp)
    with open(path, encoding="ascii") as fh:
        return bytes.fromhex(fh.read().strip())


def _keys(secret: bytes) -> tuple[bytes, bytes]:
    enc = hmac.new(secret, b"yba-lab customer_config enc", hashlib.sha256).digest()
    mac = hmac.new(secret, b"yba-lab customer_config mac", hashlib.sha256).digest()
    return enc, mac


def _keystream(key: bytes, nonce: bytes, length: int) -> bytes:
    out = bytearray()
    counter = 0
    while len(out) < length:
        out += hashlib.sha256(key + nonce + counter.to_bytes(8, "big")).digest()
        counter += 1
    return bytes(out[:length])


def encrypt_bytes(secret: bytes, plain: bytes) -> str:
    enc_key, mac_key = _keys(secret)
    nonce = os.urandom(16)
    cipher = bytes(a ^ b for a, b in zip(plain, _keystream(enc_key, nonce, len(plain))))
    tag = hmac.new(mac_key, nonce + cipher, hashlib.sha256).digest()
    return PREFIX + base64.b64encode(nonce + cipher + tag).decode("ascii")


def decrypt_bytes(secret: bytes, text: str) -> bytes:
    if not isinstance(text, str) or not text.startswith(PREFIX):
        raise DecryptionError("not an encrypted value")
    try:
        raw = base64.b64decode(text[len(PREFIX):], validate=True)
    except (ValueError, TypeError) as exc:
        raise DecryptionError(f"bad encoding: {exc}") from exc
    if len(raw) < 48:
        raise DecryptionError("ciphertext too short")
    nonce, cipher, tag = raw[:16], raw[16:-32], raw[-32:]
    enc_key, mac_key = _keys(secret)
    if not hmac.compare_digest(tag, hmac.new(mac_key, nonce + cipher, hashlib.sha256).digest()):
        raise DecryptionError("authentication failed (wrong lab secret or tampered data)")
    return bytes(a ^ b for a, b in zip(cipher, _keystream(enc_key, nonce, len(cipher))))


def encrypt(state: dict[str, Any], data: dict[str, Any]) -> str:
    """Encrypt a storage config ``data`` dict for the customer_config.data column."""
    return encrypt_bytes(app_secret(state), json.dumps(data, sort_keys=True).encode("utf-8"))


def decrypt(state: dict[str, Any], text: str) -> dict[str, Any]:
    """Decrypt a customer_config.data value written by :func:`encrypt`."""
    value = json.loads(decrypt_bytes(app_secret(state), text).decode("utf-8"))
    if not isinstance(value, dict):
        raise DecryptionError("decrypted value is not an object")
    return value
