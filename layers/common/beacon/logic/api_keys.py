"""API keys as the functions check them (pure): the shape of a key, its stored hash and its public id."""

import hashlib
import re

KEY_PATTERN = re.compile(r"^(pk|sk)_[A-Za-z0-9_-]{4,128}$")


def hash_key(raw_key: str) -> str:
    """The SHA-256 (hex) under which a key is stored."""
    return hashlib.sha256(raw_key.encode("utf-8")).hexdigest()


def key_id_of(key_hash: str) -> str:
    """The public identifier of a key, safe to show and log."""
    return f"key_{key_hash[:12]}"
