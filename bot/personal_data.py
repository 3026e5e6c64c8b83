"""Personal data at rest: form answers (and the QR token's shown-again copy) are Fernet-encrypted
(AES-128-CBC + HMAC-SHA256, from `cryptography`) with the key in PERSONAL_DATA_KEY.

Several comma-separated keys rotate: the first encrypts, every one decrypts. With no key set, one
is derived from SECRET_KEY (HKDF), so a deployment is never without encryption; `madoguchi demo`
generates a key of its own. Nothing here logs a value.
"""

from __future__ import annotations

import base64
import json
import logging
from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from bot.settings import Settings

log = logging.getLogger(__name__)


class PersonalDataKeyMissing(Exception):
    pass


class CannotDecrypt(Exception):
    """The value was encrypted with a key that is not configured any more."""


@cache
def _fernet(keys: str, secret_key: str) -> MultiFernet:
    parts = [k.strip() for k in keys.split(",") if k.strip()]
    if not parts:
        if not secret_key:
            raise PersonalDataKeyMissing("PERSONAL_DATA_KEY (or SECRET_KEY) must be set to store personal data.")
        log.warning("PERSONAL_DATA_KEY is not set: using a key derived from SECRET_KEY")
        derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"madoguchi personal data").derive(
            secret_key.encode()
        )
        parts = [base64.urlsafe_b64encode(derived).decode()]
    return MultiFernet([Fernet(p.encode()) for p in parts])


def _cipher(settings: Settings) -> MultiFernet:
    return _fernet(settings.personal_data_key, settings.secret_key)


def encrypt(value: str, settings: Settings) -> str:
    return _cipher(settings).encrypt(value.encode()).decode()


def decrypt(token: str, settings: Settings) -> str:
    try:
        return _cipher(settings).decrypt(token.encode()).decode()
    except InvalidToken:
        raise CannotDecrypt("personal data cannot be decrypted with the configured keys") from None


def encrypt_json(value: dict[str, str], settings: Settings) -> str:
    return encrypt(json.dumps(value, ensure_ascii=False, separators=(",", ":")), settings)


def decrypt_json(token: str | None, settings: Settings) -> dict[str, str]:
    if not token:
        return {}
    loaded = json.loads(decrypt(token, settings))
    return {str(k): str(v) for k, v in loaded.items()} if isinstance(loaded, dict) else {}
