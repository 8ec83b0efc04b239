"""`beacon keys create|list|revoke` against moto: keys are printed once, stored hashed, and revocable."""

import json

import pytest

from beacon.errors import UnauthorizedError
from beacon.services import authenticate as auth
from local.caches import reset_caches
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
    reset_caches()
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
    with pytest.raises(SystemExit) as exited:
        main(["keys", "create", "--project", "Shop EU!", "--kind", "public"])
    assert exited.value.code == 2
    assert tables.items("ApiKeysTable") and len(tables.items("ApiKeysTable")) == 3  # only the seeded keys


@pytest.mark.parametrize(
    "argv",
    [
        ["keys", "create", "--project", "BAD!", "--kind", "public"],
        ["keys", "list", "--project", "Shop"],
        ["summaries", "rebuild", "--project", "BAD!"],
        ["summaries", "rebuild", "--project=-shop", "--user-id", "u1"],
    ],
)
def test_every_command_holds_one_project_id_rule(tables, capsys, argv):
    with pytest.raises(SystemExit) as exited:
        main(argv)

    assert exited.value.code == 2
    assert "must be 1-63 characters of a-z, 0-9" in capsys.readouterr().err


def test_a_command_with_no_stack_to_talk_to_says_how_to_point_it_at_one(tables, capsys, monkeypatch):
    for name in ("CHARGES_TABLE_NAME", "SUMMARIES_TABLE_NAME", "API_KEYS_TABLE_NAME", "IDEMPOTENCY_TABLE_NAME"):
        monkeypatch.delenv(name, raising=False)
    reset_caches()
    try:
        status = main(["keys", "list", "--project", "local"])
    finally:
        monkeypatch.undo()
        reset_caches()

    [line] = capsys.readouterr().err.splitlines()
    assert status == 2
    assert "API_KEYS_TABLE_NAME" in line and "--stack" in line and "export AWS_ENDPOINT_URL" in line
