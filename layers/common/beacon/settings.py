"""Every environment variable the functions read, as one validated model built on first use."""

import os
from functools import lru_cache

from pydantic import BaseModel, ConfigDict, Field


class Settings(BaseModel):
    """The functions' configuration; template.yaml sets each variable (Globals and per function)."""

    model_config = ConfigDict(frozen=True, populate_by_name=True)

    charges_table_name: str = Field(alias="CHARGES_TABLE_NAME", min_length=1)
    summaries_table_name: str = Field(alias="SUMMARIES_TABLE_NAME", min_length=1)
    api_keys_table_name: str = Field(alias="API_KEYS_TABLE_NAME", min_length=1)
    idempotency_table_name: str = Field(alias="IDEMPOTENCY_TABLE_NAME", min_length=1)
    api_key_cache_ttl_seconds: int = Field(alias="API_KEY_CACHE_TTL_SECONDS", default=60, ge=0, le=3600)
    idempotency_ttl_seconds: int = Field(alias="IDEMPOTENCY_TTL_SECONDS", default=86_400, ge=60)
    session_timeout_seconds: int = Field(alias="SESSION_TIMEOUT_SECONDS", default=1_800, ge=1)
    # The stream event source mapping's MaximumRecordAgeInSeconds: no record older than this is
    # delivered, which bounds how long a summary must remember the charges it counted (logic/seen.py).
    stream_max_record_age_seconds: int = Field(alias="STREAM_MAX_RECORD_AGE_SECONDS", default=3_600, ge=60, le=604_800)
    # Where the stream hands a customer it has no time to recompute (the jobs function's queue).
    customer_jobs_queue_url: str | None = Field(alias="CUSTOMER_JOBS_QUEUE_URL", default=None)
    # The KMS key that hashes an erased customer's identity for the erasure record (an HMAC key).
    erasure_hash_key_id: str | None = Field(alias="ERASURE_HASH_KEY_ID", default=None)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Read the environment once per execution environment (tests call ``get_settings.cache_clear()``)."""
    return Settings.model_validate({k: v for k, v in os.environ.items() if k in _ENV_NAMES})


_ENV_NAMES = frozenset(field.alias for field in Settings.model_fields.values() if field.alias)
