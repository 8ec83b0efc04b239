"""GET /customers/summary in process, on events/get_summary.json, after the stream handler ran on its ready event."""

import pytest

from functions.get_summary.app import lambda_handler
from functions.summarize_charges.app import lambda_handler as summarize_handler
from tests.builders import FakeLambdaContext, call, http_event, load_event
from tests.conftest import OTHER_PROJECT_SECRET_KEY, PUBLIC_KEY, SECRET_KEY
from tests.stream_builders import put_charges


@pytest.fixture
def summarized(tables):
    """The charges of events/summarize_charges.json stored and summarized (user_42 and grace@example.com)."""
    from beacon.dal.items import charge_from_item

    event = load_event("summarize_charges.json")
    charges = [charge_from_item(r["dynamodb"]["NewImage"]) for r in event["Records"] if r["eventName"] == "INSERT"]
    put_charges(tables.client, tables.names["ChargesTable"], charges)
    assert summarize_handler(event, FakeLambdaContext()) == {"batchItemFailures": []}
    return tables


def ask(query: dict[str, str] | None = None, key: str | None = SECRET_KEY, **changes):
    headers = {"authorization": f"Bearer {key}" if key else None}
    return call(lambda_handler, http_event("get_summary.json", headers=headers, query=query, **changes))


def test_the_ready_event_answers_the_summary_shaped_exactly(summarized):
    answer = call(lambda_handler, load_event("get_summary.json"))
    assert answer.status == 200, answer.body
    assert answer.body == {
        "success": True,
        "code": 200,
        "data": {
            "user_id": "user_42",
            "email": "ada@example.com",
            "charges": {
                "count": 2,
                "total": 6499,
                "first_at": 1764057600,
                "last_at": 1764057900,
                "last_amount": 1500,
            },
            "sessions": {"count": 1, "first_seen_at": 1764057600, "last_seen_at": 1764057900},
        },
    }


def test_a_customer_known_by_email_is_found_by_its_trimmed_lower_cased_address(summarized):
    answer = ask({"email": "  Grace@Example.COM "})
    assert answer.status == 200, answer.body
    assert answer.body["data"] == {
        "user_id": None,
        "email": "grace@example.com",
        "charges": {"count": 1, "total": 250, "first_at": 1735689600, "last_at": 1735689600, "last_amount": 250},
        "sessions": {"count": 0, "first_seen_at": None, "last_seen_at": None},
    }


@pytest.mark.parametrize(
    ("query", "field"),
    [({"user_id": "nobody"}, "user_id"), ({"email": "nobody@example.com"}, "email")],
)
def test_an_unknown_customer_is_404_naming_the_field(summarized, query, field):
    answer = ask(query)
    assert answer.status == 404
    assert answer.body["success"] is False
    assert [e["field"] for e in answer.body["errors"]] == [field]


def test_an_other_projects_secret_key_does_not_see_the_customer(summarized):
    answer = ask({"user_id": "user_42"}, key=OTHER_PROJECT_SECRET_KEY)
    assert answer.status == 404


@pytest.mark.parametrize(
    "query",
    [{}, {"user_id": "user_42", "email": "ada@example.com"}, {"email": "not-an-address"}, {"user_id": " "}],
    ids=["neither", "both", "bad-email", "blank-user-id"],
)
def test_exactly_one_valid_identity_is_required(summarized, query):
    answer = ask(query)
    assert answer.status == 400, answer.body
    assert answer.body["errors"][0]["field"] in ("user_id", "email")


def test_a_public_key_is_refused_with_403(summarized):
    answer = ask({"user_id": "user_42"}, key=PUBLIC_KEY)
    assert answer.status == 403
    assert answer.body["errors"][0]["field"] == "api_key"


def test_no_key_is_401_and_a_secret_key_in_the_url_is_refused(summarized):
    assert ask({"user_id": "user_42"}, key=None).status == 401
    assert ask({"user_id": "user_42", "api_key": SECRET_KEY}, key=None).status == 401


def test_other_methods_on_the_route_are_405(summarized):
    answer = ask({"user_id": "user_42"}, method="POST")
    assert answer.status == 405
    assert answer.headers["allow"] == "GET"
