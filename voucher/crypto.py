"""Application-level encryption of the most sensitive columns (ASVS 6.1, GDPR art. 32).

IBANs, codici fiscali and disability flags are stored encrypted (Fernet: AES-128-CBC with
an HMAC-SHA256, random IV), so a database dump, a backup or a replica read by mistake
shows none of them. The app decrypts them transparently through the column types below.

Encrypted values cannot be compared in SQL, so a codice fiscale is also stored as a
*blind index*: an HMAC under a separate key, unique, for exact look-ups ("is this codice
fiscale registered?") without revealing it.

Keys: ``VOUCHER_DATA_KEYS`` (comma-separated Fernet keys; the first encrypts, all decrypt,
so keys can be rotated). Without it the key is derived from SECRET_KEY with HKDF — fine
for dev and tests; production should set its own so SECRET_KEY can change independently.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app, has_app_context
from sqlalchemy import Text
from sqlalchemy.types import TypeDecorator


class KeysMissing(RuntimeError):
    """The encryption keys are not configured (create_app was not called)."""


class _Keys:
    fernet: MultiFernet | None = None
    index_key: bytes = b""


_keys = _Keys()


def _derive(secret: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(secret)


def _keys_from(config: Any) -> _Keys:
    given = [k.strip() for k in (config.get("DATA_KEYS") or "").split(",") if k.strip()]
    if given:
        fernets = [Fernet(k.encode()) for k in given]
        root = base64.urlsafe_b64decode(given[0].encode())
    else:
        root = _derive(config["SECRET_KEY"].encode(), b"voucher data encryption")
        fernets = [Fernet(base64.urlsafe_b64encode(root))]
    keys = _Keys()
    keys.fernet = MultiFernet(fernets)
    # The blind index has its own key: knowing it reveals nothing of the ciphertexts.
    keys.index_key = _derive(root, b"voucher blind index")
    return keys


def configure(config: Any, app: Any = None) -> None:
    """Set the keys from the configuration (called by create_app and by migrations).

    The keys are kept on the app (several apps with different keys can live in one
    process, as in the tests) and as the process default for code outside a request.
    """
    keys = _keys_from(config)
    _keys.fernet, _keys.index_key = keys.fernet, keys.index_key
    if app is not None:
        app.extensions["voucher_crypto"] = keys


def _current() -> _Keys:
    if has_app_context():
        keys = current_app.extensions.get("voucher_crypto")
        if keys is not None:
            return keys
    return _keys


def _fernet() -> MultiFernet:
    fernet = _current().fernet
    if fernet is None:
        raise KeysMissing("encryption keys are not configured")
    return fernet


def encrypt(value: str) -> str:
    """Encrypt a text value."""
    return _fernet().encrypt(value.encode()).decode()


def decrypt(token: str) -> str:
    """Decrypt a value written by :func:`encrypt` (under any configured key)."""
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise ValueError("cannot decrypt a stored value: wrong key or corrupted data") from exc


def blind_index(value: str | None) -> str | None:
    """A keyed hash of ``value`` for exact look-ups of an encrypted column."""
    if value is None:
        return None
    index_key = _current().index_key
    if not index_key:
        raise KeysMissing("encryption keys are not configured")
    normalised = value.strip().upper().encode()
    return hmac.new(index_key, normalised, hashlib.sha256).hexdigest()


class EncryptedString(TypeDecorator[str]):
    """A text column stored encrypted; reads and writes plain ``str`` (or None)."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Any) -> str | None:
        return None if value is None else encrypt(value)

    def process_result_value(self, value: str | None, dialect: Any) -> str | None:
        return None if value is None else decrypt(value)


class EncryptedBool(TypeDecorator[bool]):
    """A yes/no flag stored encrypted (a disability is special-category data)."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: bool | None, dialect: Any) -> str | None:
        return None if value is None else encrypt("1" if value else "0")

    def process_result_value(self, value: str | None, dialect: Any) -> bool | None:
        return None if value is None else decrypt(value) == "1"
