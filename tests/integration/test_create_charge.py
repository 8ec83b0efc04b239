"""POST /charges in process, on the events/ files, against moto tables built from template.yaml."""

import pytest

from functions.create_charge.app import lambda_handler
from functions.summarize_charges.app import lambda_handler as summarize_handler
from tests.builders import FakeLambdaContext, call, http_event, load_event
from tests.conftest import OTHER_PROJECT_SECRET_KEY, PUBLIC_KEY, SECRET_KEY
from tests.stream_builders import stream_record

SUCCESS = {"success": True, "code": 200, "data": None}


def with_key(key: str) -> dict[str, str]:
    return {"authorization": f"Bearer {key}"}


def test_a_charge_is_stored_once_in_the_callers_project(tables):
    # Given the ready event of events/create_charge.json, with a key of project "local"
    event = http_event("create_charge.json", headers=with_key(PUBLIC_KEY))

    # When it is handled
    answer = call(lambda_handler, event)

    # Then the answer is the success envelope and exactly that charge is stored, namespaced by project
    assert answer.status == 200, answer.body
    assert answer.body == SUCCESS
    [item] = tables.charges()
    assert item["PK"]["S"] == "P#local#C#u#user_42"
    assert item["project_id"]["S"] == "local"
    assert item["amount"]["N"] == "4999"
    assert item["created_at"]["N"] == "1764057600"
    assert item["user_id"]["S"] == "user_42"
    assert item["email"]["S"] == "ada@example.com"
    assert item["update_session"]["BOOL"] is True

    # And the stream summarizer counts it without ever writing the charge again: it stays what the API wrote
    response = summarize_handler({"Records": [stream_record(item)]}, FakeLambdaContext())
    assert response == {"batchItemFailures": []}
    assert tables.charges() == [item]
    summaries = [i for i in tables.items("SummariesTable") if i["type"]["S"] == "summary"]
    assert [i["charge_count"]["N"] for i in summaries] == ["1"]


def test_email_is_the_identity_without_user_id_trimmed_and_lower_cased(tables):
    event = http_event(
        "create_charge.json", body={"email": "  Ada@Example.COM ", "amount": 100}, headers=with_key(PUBLIC_KEY)
    )
    answer = call(lambda_handler, event)
    assert answer.status == 200, answer.body
    [item] = tables.charges()
    assert item["PK"]["S"] == "P#local#C#e#ada@example.com"
    assert "user_id" not in item


def test_created_at_defaults_to_the_time_the_request_was_received(tables):
    import time

    before = int(time.time())
    answer = call(
        lambda_handler,
        http_event("create_charge.json", body={"user_id": "u1", "amount": 1}, headers=with_key(PUBLIC_KEY)),
    )
    after = int(time.time())
    assert answer.status == 200
    [item] = tables.charges()
    assert before <= int(item["created_at"]["N"]) <= after
    assert item["created_at"] == item["received_at"]


def test_a_beacon_sent_as_text_plain_with_the_key_in_the_body_is_accepted(tables):
    # navigator.sendBeacon posts a string as text/plain and cannot set headers
    answer = call(lambda_handler, load_event("create_charge_beacon.json") | {})
    assert answer.status == 200, answer.body
    [item] = tables.charges()
    assert item["email"]["S"] == "grace@example.com"
    assert "api_key" not in item


def test_the_key_may_come_as_the_api_key_query_parameter(tables):
    event = http_event("create_charge.json", headers={"authorization": None}, query={"api_key": PUBLIC_KEY})
    assert call(lambda_handler, event).status == 200
    assert len(tables.charges()) == 1


def test_unknown_top_level_fields_are_ignored_and_not_stored(tables):
    body = {"user_id": "u1", "amount": 5, "plan": "gold", "metadata": {"a": 1}}
    assert call(lambda_handler, http_event("create_charge.json", body=body, headers=with_key(PUBLIC_KEY))).status == 200
    [item] = tables.charges()
    assert "plan" not in item and "metadata" not in item


@pytest.mark.parametrize(
    ("event_name", "status", "field"),
    [
        ("create_charge_invalid.json", 400, "amount"),
        ("create_charge_malformed.json", 400, "body"),
        ("create_charge_no_key.json", 401, "api_key"),
    ],
)
def test_the_ready_bad_events_are_refused_and_write_nothing(tables, event_name, status, field):
    answer = call(lambda_handler, load_event(event_name))
    assert answer.status == status, answer.body
    assert answer.body["success"] is False
    assert answer.body["code"] == status
    assert answer.body["data"] is None
    assert field in [error["field"] for error in answer.body["errors"]]
    assert tables.charges() == []


def test_invalid_fields_are_all_named_with_a_message(tables):
    answer = call(lambda_handler, load_event("create_charge_invalid.json"))
    messages = {error["field"]: error["message"] for error in answer.body["errors"]}
    assert (
        messages["amount"]
        == 'amount must be an integer or a string of digits such as "1000"; got a string with a decimal point'
    )
    assert "looks like milliseconds" in messages["created_at"]


def test_an_unknown_key_is_401_and_a_revoked_key_stops_working(tables):
    answer = call(lambda_handler, http_event("create_charge.json", headers=with_key("pk_not_a_real_key")))
    assert answer.status == 401
    assert answer.headers["www-authenticate"].startswith("Bearer")
    assert tables.charges() == []


def test_an_idempotent_retry_replays_the_first_answer_and_stores_nothing_new(tables):
    event = http_event("create_charge_idempotent.json", headers=with_key(SECRET_KEY))
    first = call(lambda_handler, event)
    second = call(lambda_handler, http_event("create_charge_idempotent.json", headers=with_key(SECRET_KEY)))
    assert first.status == second.status == 200
    assert first.body == second.body == SUCCESS
    assert second.headers.get("idempotent-replayed") == "true"
    assert "idempotent-replayed" not in first.headers
    assert len(tables.charges()) == 1


def test_the_same_idempotency_key_with_another_body_is_422_and_writes_nothing(tables):
    call(lambda_handler, http_event("create_charge_idempotent.json", headers=with_key(SECRET_KEY)))
    other = http_event(
        "create_charge_idempotent.json", body={"user_id": "user_42", "amount": 9999}, headers=with_key(SECRET_KEY)
    )
    answer = call(lambda_handler, other)
    assert answer.status == 422, answer.body
    assert answer.body["errors"][0]["field"] == "Idempotency-Key"
    assert [item["amount"]["N"] for item in tables.charges()] == ["2500"]


def test_idempotency_keys_do_not_cross_projects(tables):
    call(lambda_handler, http_event("create_charge_idempotent.json", headers=with_key(SECRET_KEY)))
    answer = call(
        lambda_handler, http_event("create_charge_idempotent.json", headers=with_key(OTHER_PROJECT_SECRET_KEY))
    )
    assert answer.status == 200
    assert "idempotent-replayed" not in answer.headers
    assert sorted(item["project_id"]["S"] for item in tables.charges()) == ["globex", "local"]


def test_without_idempotency_key_each_request_is_a_new_charge(tables):
    for _ in range(2):
        assert call(lambda_handler, http_event("create_charge.json", headers=with_key(PUBLIC_KEY))).status == 200
    assert len(tables.charges()) == 2


def test_unknown_routes_get_404_and_known_routes_with_another_method_405(tables):
    not_allowed = call(lambda_handler, load_event("unknown_route.json"))
    assert not_allowed.status == 405
    assert not_allowed.headers["allow"] == "POST"
    assert not_allowed.body["errors"][0]["field"] == "method"
    missing = call(lambda_handler, http_event("unknown_route.json", path="/nope"))
    assert missing.status == 404
    assert missing.body["success"] is False


def test_cors_is_left_to_api_gateway(tables):
    # The HTTP API's CorsConfiguration answers preflights and sets the CORS headers; the function adds none.
    headers = {**with_key(PUBLIC_KEY), "origin": "https://shop.example.com"}
    answer = call(lambda_handler, http_event("create_charge.json", headers=headers))
    assert answer.status == 200
    assert not [name for name in answer.headers if name.lower().startswith("access-control-")]


def test_a_body_over_one_mebibyte_is_413(tables):
    body = '{"user_id": "u1", "amount": 1, "padding": "' + "x" * 1_048_576 + '"}'
    answer = call(lambda_handler, http_event("create_charge.json", raw_body=body, headers=with_key(PUBLIC_KEY)))
    assert answer.status == 413
    assert tables.charges() == []
