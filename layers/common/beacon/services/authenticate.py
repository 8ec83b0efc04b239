"""Authenticating a request's API key: the look-up of the caller's project, with a short in-memory cache.

Keys are stored only as SHA-256 hashes and found by hash with one GetItem. A key's record is cached
in the execution environment for ``API_KEY_CACHE_TTL_SECONDS``: a revoked key stops working within
that time.
"""

import hmac
import time

from beacon.dal.api_keys import ApiKeysRepository
from beacon.errors import ForbiddenError, UnauthorizedError
from beacon.logic.api_keys import KEY_PATTERN, hash_key
from beacon.models.caller import Caller, KeySource
from beacon.models.records import ApiKeyRecord
from beacon.settings import get_settings

_CACHE_MAX_ENTRIES = 1_024


class KeyCache:
    """Key records (and unknown hashes) remembered for a few seconds, so most requests read no key."""

    def __init__(self) -> None:
        self._entries: dict[str, tuple[float, ApiKeyRecord | None]] = {}

    def lookup(self, key_hash: str, repository: ApiKeysRepository, ttl_seconds: float) -> ApiKeyRecord | None:
        now = time.monotonic()
        cached = self._entries.get(key_hash)
        if cached is not None and cached[0] > now:
            return cached[1]
        record = repository.get(key_hash)
        if len(self._entries) >= _CACHE_MAX_ENTRIES:
            self._entries.clear()
        self._entries[key_hash] = (now + ttl_seconds, record)
        return record

    def clear(self) -> None:
        self._entries.clear()


key_cache = KeyCache()


def authenticate(raw_key: str | None, source: KeySource) -> Caller:
    """The caller a key stands for, or ``UnauthorizedError`` when it is missing, unknown or revoked."""
    if not raw_key:
        raise UnauthorizedError(
            "an API key is required: send 'Authorization: Bearer <key>' or the api_key parameter", field="api_key"
        )
    if not KEY_PATTERN.match(raw_key):
        raise UnauthorizedError("the API key is not a Beacon key (they start with pk_ or sk_)", field="api_key")
    settings = get_settings()
    key_hash = hash_key(raw_key)
    record = key_cache.lookup(
        key_hash, ApiKeysRepository(settings.api_keys_table_name), settings.api_key_cache_ttl_seconds
    )
    # The record was found by its hash; comparing in constant time keeps the check free of timing signals.
    if record is None or not hmac.compare_digest(record.key_hash, key_hash):
        raise UnauthorizedError("unknown API key", field="api_key")
    if record.revoked_at is not None:
        raise UnauthorizedError("this API key has been revoked", field="api_key")
    return Caller(project_id=record.project_id, kind=record.kind, key_id=record.key_id, source=source)


def require_secret(caller: Caller) -> None:
    """Secret-only endpoints: a public key gets 403, a secret key in the URL 401 (URLs end up in logs)."""
    if caller.kind != "secret":
        raise ForbiddenError(
            "this endpoint needs a secret key (sk_...); public keys may only send charges", field="api_key"
        )
    if caller.source != "header":
        raise UnauthorizedError(
            "send secret keys in the Authorization header ('Authorization: Bearer sk_...'), never in the URL or body",
            field="api_key",
        )
