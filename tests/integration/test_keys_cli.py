"""`beacon keys create|list|revoke` against moto: keys are printed once, stored hashed, and revocable."""

import json

import pytest

from beacon.errors import UnauthorizedError
from beacon.services import authenticate as auth
from ops.main import main


def run(capsys, *argv: str) -> tuple[int, list[str]]:
    status = main(list(argv))
    return status, capsys.readouterr().out.splitlines()


def test_a_created_key_works_is_never_stored_in_clear_and_stops_working_once_revoked(tables, capsys):
    # Given a secret key created for a new project
    status, lines = run(capsys, "keys", "create", "--project", "shop-eu", "--kind", "secret")
    assert status == 0
    created = json.loads(lines[0])
    raw_key = created["key"]
    assert raw_key.startswith("sk_") and created["project"] == "shop-eu"

    # Then it authenticates as that project, and no stored item holds the key itself
    caller = auth.authenticate(raw_key, "header")
    assert (caller.project_id, caller.kind) == ("shop-eu", "secret")
    assert raw_key not in json.dumps(tables.items("ApiKeysTable"))

    # And the listing shows its id and prefix, not the key
    status, lines = run(capsys, "keys", "list", "--project", "shop-eu")
    [listed] = [json.loads(line) for line in lines]
    assert listed["key_id"] == created["key_id"] and listed["status"] == "active"
    assert raw_key not in "\n".join(lines)

    # When it is revoked, it is refused once the cache entry has expired
    status, lines = run(capsys, "keys", "revoke", "--project", "shop-eu", "--key-id", created["key_id"])
    assert status == 0 and json.loads(lines[0])["status"] == "revoked"
    auth.key_cache.clear()
    with pytest.raises(UnauthorizedError, match="revoked"):
        auth.authenticate(raw_key, "header")


def test_a_key_of_another_project_cannot_be_revoked_through_this_one(tables, capsys):
    _, lines = run(capsys, "keys", "create", "--project", "shop-eu", "--kind", "public")
    key_id = json.loads(lines[0])["key_id"]
    status, _ = run(capsys, "keys", "revoke", "--project", "shop-us", "--key-id", key_id)
    assert status == 1
    _, lines = run(capsys, "keys", "list", "--project", "shop-eu")
    assert json.loads(lines[0])["status"] == "active"


def test_a_bad_project_id_is_refused_with_usage_status(tables, capsys):
    assert main(["keys", "create", "--project", "Shop EU!", "--kind", "public"]) == 2
    assert tables.items("ApiKeysTable") and len(tables.items("ApiKeysTable")) == 3  # only the seeded keys
