"""Tenant isolation: a key of one project never writes, reads, lists or revokes another project's data.

Every endpoint and command is tried with keys of two projects ("local" and "globex", seeded by the
``tables`` fixture) and the stored items are read back from DynamoDB to see whose they are.
"""

import json

from beacon.dal.item_keys import seen_pk
from functions.bulk_charges.app import lambda_handler as bulk_charges
from functions.create_charge.app import lambda_handler as create_charge
from functions.get_summary.app import lambda_handler as get_summary
from functions.summarize_charges.app import lambda_handler as summarize_charges
from ops.main import main
from ops.rebuild import rebuild_project
from tests.builders import FakeLambdaContext, call, http_event
from tests.conftest import OTHER_PROJECT, OTHER_PROJECT_SECRET_KEY, PROJECT, PUBLIC_KEY, SECRET_KEY
from tests.stream_builders import stored_seen_ids, stream_event, stream_record


def bearer(key: str, **headers: str | None) -> dict[str, str | None]:
    return {"authorization": f"Bearer {key}", **headers}


def charges_by_project(tables) -> dict[str, list[tuple[str, int]]]:
    """project_id -> sorted (partition key, amount) of the stored charges."""
    found: dict[str, list[tuple[str, int]]] = {}
    for item in tables.charges():
        found.setdefault(item["project_id"]["S"], []).append((item["PK"]["S"], int(item["amount"]["N"])))
    return {project: sorted(charges) for project, charges in found.items()}


def test_the_same_user_id_in_two_projects_is_two_customers(tables):
    # Given one user_id charged through a key of each project
    body = {"user_id": "shared-user", "amount": 100}
    assert call(create_charge, http_event("create_charge.json", body=body, headers=bearer(PUBLIC_KEY))).status == 200
    other = body | {"amount": 200}
    assert (
        call(create_charge, http_event("create_charge.json", body=other, headers=bearer(OTHER_PROJECT_SECRET_KEY)))
    ).status == 200

    # Then each charge is stored under its own project's customer, never the other's
    assert charges_by_project(tables) == {
        PROJECT: [(f"P#{PROJECT}#C#u#shared-user", 100)],
        OTHER_PROJECT: [(f"P#{OTHER_PROJECT}#C#u#shared-user", 200)],
    }


def test_the_same_email_in_two_projects_is_two_customers_in_bulk(tables):
    body = {"email": "Shared@Example.com", "charges": [{"amount": 1}, {"amount": 2}]}
    for key in (SECRET_KEY, OTHER_PROJECT_SECRET_KEY):
        answer = call(
            bulk_charges, http_event("bulk_charges.json", body=body, headers=bearer(key, **{"idempotency-key": None}))
        )
        assert answer.status == 200, answer.body
    assert charges_by_project(tables) == {
        PROJECT: [(f"P#{PROJECT}#C#e#shared@example.com", 1), (f"P#{PROJECT}#C#e#shared@example.com", 2)],
        OTHER_PROJECT: [
            (f"P#{OTHER_PROJECT}#C#e#shared@example.com", 1),
            (f"P#{OTHER_PROJECT}#C#e#shared@example.com", 2),
        ],
    }


def test_a_body_cannot_choose_another_project(tables):
    # Given a key of "local" and bodies that name "globex" every way a client might try
    hostile = {"project_id": OTHER_PROJECT, "project": OTHER_PROJECT, "PK": f"P#{OTHER_PROJECT}#C#u#victim"}
    single = {"user_id": "victim", "amount": 5} | hostile
    bulk = {"user_id": "victim", "charges": [{"amount": 6} | hostile]} | hostile

    # When they are sent to both write endpoints
    assert call(create_charge, http_event("create_charge.json", body=single, headers=bearer(PUBLIC_KEY))).status == 200
    answer = call(bulk_charges, http_event("bulk_charges.json", body=bulk, headers=bearer(SECRET_KEY)))
    assert answer.status == 200, answer.body

    # Then nothing reached the other project, and no stored item carries the smuggled fields
    stored = charges_by_project(tables)
    assert set(stored) == {PROJECT}
    assert all(pk == f"P#{PROJECT}#C#u#victim" for pk, _ in stored[PROJECT])
    assert all("project" not in item for item in tables.charges())


def test_a_request_with_two_keys_belongs_to_the_header_key_only(tables):
    # The Authorization header wins over ?api_key= and the body's api_key, whatever they name
    event = http_event(
        "create_charge.json",
        body={"user_id": "u1", "amount": 7, "api_key": OTHER_PROJECT_SECRET_KEY},
        headers=bearer(PUBLIC_KEY),
        query={"api_key": OTHER_PROJECT_SECRET_KEY},
    )
    assert call(create_charge, event).status == 200
    assert charges_by_project(tables) == {PROJECT: [(f"P#{PROJECT}#C#u#u1", 7)]}


def test_an_idempotency_key_of_one_project_neither_replays_nor_blocks_another_projects_request(tables):
    # Given the same Idempotency-Key and body sent by both projects to the bulk endpoint
    body = {"user_id": "u1", "charges": [{"amount": 10}, {"amount": 20}]}
    headers = {"idempotency-key": "same-key-in-both-projects"}
    first = call(bulk_charges, http_event("bulk_charges.json", body=body, headers=bearer(SECRET_KEY, **headers)))
    second = call(
        bulk_charges, http_event("bulk_charges.json", body=body, headers=bearer(OTHER_PROJECT_SECRET_KEY, **headers))
    )

    # Then both are stored, each in its own project, and neither is answered as a replay
    assert (first.status, second.status) == (200, 200)
    assert "idempotent-replayed" not in second.headers
    assert {project: len(charges) for project, charges in charges_by_project(tables).items()} == {
        PROJECT: 2,
        OTHER_PROJECT: 2,
    }


def test_keys_are_listed_and_revoked_only_within_their_project(tables, capsys):
    # Given a key created for "globex"
    assert main(["keys", "create", "--project", OTHER_PROJECT, "--kind", "public"]) == 0
    created = json.loads(capsys.readouterr().out.splitlines()[0])

    # Then listing "local" does not show it, and revoking it through "local" fails and changes nothing
    assert main(["keys", "list", "--project", PROJECT]) == 0
    listed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert created["key_id"] not in {key["key_id"] for key in listed}
    assert {key["kind"] for key in listed} == {"public", "secret"}

    assert main(["keys", "revoke", "--project", PROJECT, "--key-id", created["key_id"]]) == 1
    stored = [item for item in tables.items("ApiKeysTable") if item["key_id"]["S"] == created["key_id"]]
    assert [item["project_id"]["S"] for item in stored] == [OTHER_PROJECT]
    assert "revoked_at" not in stored[0]


def summarize_stored_charges(tables) -> None:
    """Run the stream handler on every stored charge, as the charges table's stream would deliver them."""
    records = [stream_record(item) for item in tables.charges()]
    assert summarize_charges(stream_event(records), FakeLambdaContext()) == {"batchItemFailures": []}


def read_summary(key: str, **query: str):
    event = http_event("get_summary.json", headers=bearer(key), query=query)
    return call(get_summary, event)


def test_summaries_are_built_and_read_per_project(tables):
    # Given the same user_id and e-mail charged in both projects
    for key, amount in ((PUBLIC_KEY, 100), (OTHER_PROJECT_SECRET_KEY, 200), (OTHER_PROJECT_SECRET_KEY, 50)):
        body = {"user_id": "shared-user", "amount": amount}
        assert call(create_charge, http_event("create_charge.json", body=body, headers=bearer(key))).status == 200
    body = {"email": "only@local.example", "amount": 9}
    assert call(create_charge, http_event("create_charge.json", body=body, headers=bearer(PUBLIC_KEY))).status == 200

    # When the stream handler has summarized them
    summarize_stored_charges(tables)

    # Then each project holds its own summary of the shared user ...
    items = tables.items("SummariesTable")
    summaries = {i["PK"]["S"]: int(i["charge_total"]["N"]) for i in items if i["type"]["S"] == "summary"}
    assert summaries == {
        f"P#{PROJECT}#C#u#shared-user": 100,
        f"P#{OTHER_PROJECT}#C#u#shared-user": 250,
        f"P#{PROJECT}#C#e#only@local.example": 9,
    }
    # ... and lists each customer in its own project's registry only
    registry = {(i["project_id"]["S"], i["customer_id"]["S"]) for i in items if i["type"]["S"] == "customer"}
    assert registry == {(PROJECT, "u#shared-user"), (OTHER_PROJECT, "u#shared-user"), (PROJECT, "e#only@local.example")}
    assert all(
        i["PK"]["S"].startswith(f"P#{i['project_id']['S']}#CUSTOMERS#") for i in items if i["type"]["S"] == "customer"
    )
    # ... and each project's secret key reads only its own
    mine, theirs = (
        read_summary(SECRET_KEY, user_id="shared-user"),
        read_summary(OTHER_PROJECT_SECRET_KEY, user_id="shared-user"),
    )
    assert (mine.status, theirs.status) == (200, 200)
    assert (mine.body["data"]["charges"]["count"], mine.body["data"]["charges"]["total"]) == (1, 100)
    assert (theirs.body["data"]["charges"]["count"], theirs.body["data"]["charges"]["total"]) == (2, 250)
    assert read_summary(SECRET_KEY, email="only@local.example").status == 200
    assert read_summary(OTHER_PROJECT_SECRET_KEY, email="only@local.example").status == 404


def test_a_query_cannot_name_another_project(tables):
    assert call(create_charge, http_event("create_charge.json", headers=bearer(OTHER_PROJECT_SECRET_KEY))).status == 200
    summarize_stored_charges(tables)
    # user_42 exists only in "globex"; a "local" key that names globex in every parameter still sees nothing
    answer = read_summary(SECRET_KEY, user_id="user_42", project_id=OTHER_PROJECT, project=OTHER_PROJECT)
    assert answer.status == 404, answer.body
    assert read_summary(OTHER_PROJECT_SECRET_KEY, user_id="user_42").status == 200


def test_a_project_rebuild_reads_and_repairs_only_that_project(tables):
    # Given the same user charged in both projects, and no summary built yet (the stream has not run)
    for key, amount in ((SECRET_KEY, 100), (OTHER_PROJECT_SECRET_KEY, 200)):
        body = {"user_id": "shared-user", "amount": amount}
        assert call(create_charge, http_event("create_charge.json", body=body, headers=bearer(key))).status == 200

    charges_before = tables.charges()

    # When "local" is rebuilt with repair, its customers found by a scan of the charges
    results = list(rebuild_project(PROJECT, repair=True, scan_charges=True))

    # Then only "local"'s customer was checked and repaired, and "globex" is untouched: no summary, no seen
    # item, every item written is under "local"'s keys, and no charge item of either project changed
    assert [(r.project_id, r.customer_id, r.repaired) for r in results] == [(PROJECT, "u#shared-user", True)]
    items = tables.items("SummariesTable")
    summaries = {(i["PK"]["S"], int(i["charge_total"]["N"])) for i in items if i["type"]["S"] == "summary"}
    assert summaries == {(f"P#{PROJECT}#C#u#shared-user", 100)}
    assert all(i["PK"]["S"].startswith(f"P#{PROJECT}#") for i in items)
    assert tables.charges() == charges_before
    assert read_summary(OTHER_PROJECT_SECRET_KEY, user_id="shared-user").status == 404


def test_a_heavy_customers_seen_items_stay_under_its_own_project(tables):
    # Given the same user charged 60 times in each project (more ids than a summary item holds)
    ids: dict[str, set[str]] = {}
    for key, project in ((SECRET_KEY, PROJECT), (OTHER_PROJECT_SECRET_KEY, OTHER_PROJECT)):
        body = {"user_id": "shared-user", "charges": [{"amount": 1 + i} for i in range(60)]}
        answer = call(bulk_charges, http_event("bulk_charges.json", body=body, headers=bearer(key)))
        assert answer.status == 200, answer.body
        ids[project] = {i["charge_id"]["S"] for i in tables.charges() if i["project_id"]["S"] == project}

    # When the stream delivers them (twice: the second delivery must find each project's own ids)
    summarize_stored_charges(tables)
    summarize_stored_charges(tables)

    # Then each project's summary counts its own 60 charges, and its seen items hold exactly its own ids
    for key in (SECRET_KEY, OTHER_PROJECT_SECRET_KEY):
        answer = read_summary(key, user_id="shared-user")
        assert (answer.body["data"]["charges"]["count"], answer.body["data"]["charges"]["total"]) == (60, 1830)
    seen = stored_seen_ids(tables.client, tables.names["SummariesTable"])
    assert seen == {seen_pk(project, "u#shared-user"): frozenset(project_ids) for project, project_ids in ids.items()}


def test_the_rebuild_command_names_one_project_and_repairs_nothing_of_another(tables, capsys):
    # Given the same user charged in both projects, and no summary built yet
    for key, amount in ((SECRET_KEY, 100), (OTHER_PROJECT_SECRET_KEY, 200)):
        body = {"user_id": "shared-user", "amount": amount}
        assert call(create_charge, http_event("create_charge.json", body=body, headers=bearer(key))).status == 200

    # When "globex" is checked (its customers found by a scan of the charges), then "local"'s customer is
    # repaired by user id
    assert main(["summaries", "rebuild", "--project", OTHER_PROJECT, "--scan"]) == 1
    checked = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    assert main(["summaries", "rebuild", "--project", PROJECT, "--user-id", "shared-user", "--repair"]) == 1
    repaired = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]

    # Then the check only reported "globex"'s customer, and the repair only wrote "local"'s summary
    assert [(r["project"], r["customer"], r["repaired"]) for r in checked] == [(OTHER_PROJECT, "u#shared-user", False)]
    assert [(r["project"], r["customer"], r["repaired"]) for r in repaired] == [(PROJECT, "u#shared-user", True)]
    items = tables.items("SummariesTable")
    summaries = {(i["PK"]["S"], int(i["charge_total"]["N"])) for i in items if i["type"]["S"] == "summary"}
    assert summaries == {(f"P#{PROJECT}#C#u#shared-user", 100)}
    assert read_summary(SECRET_KEY, user_id="shared-user").status == 200
    assert read_summary(OTHER_PROJECT_SECRET_KEY, user_id="shared-user").status == 404
