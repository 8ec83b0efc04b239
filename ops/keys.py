"""``beacon keys create|list|revoke``: a project's API keys. A new key is printed once and stored hashed."""

import argparse
import json
import re
import secrets
import time
from typing import get_args

from beacon.dal.api_keys import ApiKeysRepository
from beacon.logic.api_keys import KEY_PATTERN, hash_key, key_id_of
from beacon.models.records import ApiKeyRecord, KeyKind
from beacon.settings import get_settings

KEY_PREFIXES: dict[KeyKind, str] = {"public": "pk_", "secret": "sk_"}
PROJECT_ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")


def new_key_record(project_id: str, kind: KeyKind, raw_key: str | None = None) -> tuple[str, ApiKeyRecord]:
    """A new key for a project (random unless ``raw_key`` is given) and the record that stores its hash."""
    if not PROJECT_ID_PATTERN.match(project_id):
        raise ValueError("project id must be 1-63 characters of a-z, 0-9, '-' and '_', starting with a letter or digit")
    raw = raw_key or f"{KEY_PREFIXES[kind]}{secrets.token_urlsafe(24)}"
    if not raw.startswith(KEY_PREFIXES[kind]) or not KEY_PATTERN.match(raw):
        raise ValueError(f"a {kind} key must start with {KEY_PREFIXES[kind]} and use only A-Z, a-z, 0-9, '-', '_'")
    key_hash = hash_key(raw)
    record = ApiKeyRecord(
        key_hash=key_hash,
        key_id=key_id_of(key_hash),
        project_id=project_id,
        kind=kind,
        prefix=raw[:7],
        created_at=int(time.time()),
    )
    return raw, record


def register(parser: argparse.ArgumentParser) -> None:
    commands = parser.add_subparsers(dest="command", required=True)

    create = commands.add_parser("create", help="create a key and print it (the only time it is shown)")
    create.add_argument("--project", required=True, help="project id, e.g. shop-eu")
    create.add_argument("--kind", choices=get_args(KeyKind), required=True, help="public (pk_) or secret (sk_)")
    create.set_defaults(run=create_key)

    listing = commands.add_parser("list", help="list a project's keys (ids and prefixes, never the keys)")
    listing.add_argument("--project", required=True)
    listing.set_defaults(run=list_keys)

    revoke = commands.add_parser("revoke", help="revoke a key; functions stop accepting it within the cache TTL")
    revoke.add_argument("--project", required=True)
    revoke.add_argument("--key-id", required=True, help="the key_... id that `keys list` shows")
    revoke.set_defaults(run=revoke_key)


def _repository() -> ApiKeysRepository:
    return ApiKeysRepository(get_settings().api_keys_table_name)


def create_key(args: argparse.Namespace) -> int:
    raw_key, record = new_key_record(args.project, args.kind)
    _repository().put(record)
    print(json.dumps({"key": raw_key, "key_id": record.key_id, "project": record.project_id, "kind": record.kind}))
    print("Store this key now: it is not saved anywhere and cannot be shown again.")
    return 0


def list_keys(args: argparse.Namespace) -> int:
    for record in _repository().list_for_project(args.project):
        status = "revoked" if record.revoked_at is not None else "active"
        print(
            json.dumps(
                {
                    "key_id": record.key_id,
                    "kind": record.kind,
                    "prefix": record.prefix,
                    "status": status,
                    "created_at": record.created_at,
                    "revoked_at": record.revoked_at,
                }
            )
        )
    return 0


def revoke_key(args: argparse.Namespace) -> int:
    record = _repository().revoke(args.project, args.key_id)
    if record is None:
        print(f"project {args.project} has no key {args.key_id}")
        return 1
    print(json.dumps({"key_id": record.key_id, "status": "revoked", "revoked_at": record.revoked_at}))
    return 0
