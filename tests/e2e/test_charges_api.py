"""The write endpoints over real HTTP: what a client sees, and what the stack stored."""

import json
import threading

import pytest
import requests

from tests.e2e.conftest import Stack, unique

pytestmark = pytest.mark.e2e


def amounts(items: list[dict]) -> list[int]:
    return sorted(int(item["amount"]["N"]) for item in items)


def test_a_charge_is_accepted_and_stored_once(stack: Stack):
    user = unique("e2e-charge")

    response = stack.post(
        "/charges", {"user_id": user, "email": "ada@example.com", "amount": 4999, "created_at": 1764057600}
    )

    assert response.status_code == 200, response.text
    assert response.json() == {"success": True, "code": 200, "data": None}
    (item,) = stack.stored_charges(user_id=user)
    assert item["amount"] == {"N": "4999"}
    assert item["created_at"] == {"N": "1764057600"}
    assert item["user_id"] == {"S": user}
    assert item["email"] == {"S": "ada@example.com"}
    assert item["update_session"] == {"BOOL": True}


def test_a_secret_key_may_send_charges_too(stack: Stack):
    user = unique("e2e-secret")

    response = stack.post("/charges", {"user_id": user, "amount": 1}, key=stack.secret_key)

    assert response.status_code == 200, response.text
    assert amounts(stack.stored_charges(user_id=user)) == [1]


def test_a_bulk_request_stores_every_charge(stack: Stack):
    user = unique("e2e-bulk")
    charges = [
        {"amount": 100, "created_at": 1764057600},
        {"amount": 250, "created_at": 1764061200, "update_session": False},
        {"amount": 75},
    ]

    response = stack.post("/charges/bulk", {"user_id": user, "email": "bulk@example.com", "charges": charges})

    assert response.status_code == 200, response.text
    assert response.json() == {"success": True, "code": 200, "data": None}
    assert amounts(stack.stored_charges(user_id=user)) == [75, 100, 250]


def test_requests_to_every_function_at_once_each_get_their_own_answer(stack: Stack):
    """Single charges, bulks and summary reads side by side (the stream summarizing meanwhile): no answer mixed up."""
    clients, rounds = 6, 15
    users = [unique(f"e2e-together-{n}") for n in range(clients)]
    wrong: list[str] = []
    lock = threading.Lock()

    def client(n: int) -> None:
        session = requests.Session()
        public = {"Authorization": f"Bearer {stack.public_key}"}
        secret = {"Authorization": f"Bearer {stack.secret_key}"}
        for r in range(rounds):
            single = session.post(
                f"{stack.base_url}/charges", json={"user_id": users[n], "amount": 1000 + r}, headers=public, timeout=30
            )
            bulk = session.post(
                f"{stack.base_url}/charges/bulk",
                json={"user_id": users[n], "charges": [{"amount": r + 1}] * (n + 2)},
                headers=public,
                timeout=30,
            )
            read = session.get(
                f"{stack.base_url}/customers/summary",
                params={"user_id": f"{users[n]}-none"},
                headers=secret,
                timeout=30,
            )
            with lock:
                wrong.extend(
                    f"{a.request.method} {a.url}: {a.status_code} {a.text}" for a in (single, bulk) if not a.ok
                )
                if read.status_code != 404:
                    wrong.append(f"summary of an unknown customer: {read.status_code} {read.text}")

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert wrong == []
    for n, user in enumerate(users):
        expected = sorted([1000 + r for r in range(rounds)] + [r + 1 for r in range(rounds) for _ in range(n + 2)])
        assert amounts(stack.stored_charges(user_id=user)) == expected


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/charges", {"user_id": "{user}", "amount": "1e3"}, "amount"),
        ("/charges", {"user_id": "{user}", "amount": "10.5"}, "amount"),
        ("/charges", {"user_id": "{user}", "amount": " 1000"}, "amount"),
        ("/charges", {"user_id": "{user}", "amount": "-1"}, "amount"),
        ("/charges", {"user_id": "{user}", "amount": "01"}, "amount"),
        ("/charges", {"user_id": "{user}", "amount": 10.5}, "amount"),
        ("/charges", {"user_id": "{user}", "amount": 100, "created_at": 1764057600000}, "created_at"),
        ("/charges/bulk", {"user_id": "{user}", "charges": [{"amount": 1}, {"amount": True}]}, "charges[1].amount"),
    ],
    ids=[
        "amount-exponent-string",
        "amount-decimal-string",
        "amount-spaced-string",
        "amount-signed-string",
        "amount-leading-zero-string",
        "amount-with-decimals",
        "created-at-in-milliseconds",
        "bulk-item",
    ],
)
def test_bad_input_is_a_400_naming_the_field_and_writes_nothing(stack: Stack, path, body, field):
    user = unique("e2e-invalid")
    body = json.loads(json.dumps(body).replace("{user}", user))

    response = stack.post(path, body)

    assert response.status_code == 400, response.text
    envelope = response.json()
    assert (envelope["success"], envelope["code"], envelope["data"]) == (False, 400, None)
    assert field in [error["field"] for error in envelope["errors"]], envelope
    assert stack.stored_charges(user_id=user) == []


def test_malformed_json_is_a_400(stack: Stack):
    response = stack.post("/charges", data='{"amount": 1,', headers={"Content-Type": "application/json"})

    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "body"


def test_an_unknown_key_is_a_401_and_writes_nothing(stack: Stack):
    user = unique("e2e-unknown-key")

    response = stack.post("/charges", {"user_id": user, "amount": 1}, key="pk_not_a_key_of_anyone")

    assert response.status_code == 401
    assert response.json()["code"] == 401
    assert response.json()["errors"][0]["field"] == "api_key"
    assert stack.stored_charges(user_id=user) == []


def test_a_missing_key_is_a_401(stack: Stack):
    response = stack.session.post(f"{stack.base_url}/charges", json={"user_id": "x", "amount": 1}, timeout=30)

    assert response.status_code == 401
    assert response.json()["errors"][0]["field"] == "api_key"


def test_a_public_key_cannot_read_summaries(stack: Stack):
    response = stack.session.get(
        f"{stack.base_url}/customers/summary",
        params={"user_id": "anyone"},
        headers={"Authorization": f"Bearer {stack.public_key}"},
        timeout=30,
    )

    assert response.status_code == 403
    assert response.json()["code"] == 403


def test_a_retry_with_the_same_idempotency_key_replays_and_writes_nothing_new(stack: Stack):
    user = unique("e2e-idempotent")
    body = {"user_id": user, "amount": 1200, "created_at": 1764057600}
    key = {"Idempotency-Key": unique("retry")}

    first = stack.post("/charges", body, headers=key)
    retry = stack.post("/charges", body, headers=key)
    other_body = stack.post("/charges", {**body, "amount": 1300}, headers=key)

    assert (first.status_code, retry.status_code) == (200, 200)
    assert retry.json() == first.json()
    assert retry.headers.get("Idempotent-Replayed") == "true"
    assert other_body.status_code == 422
    assert other_body.json()["errors"][0]["field"] == "Idempotency-Key"
    assert amounts(stack.stored_charges(user_id=user)) == [1200]


def test_a_bulk_retry_with_the_same_idempotency_key_writes_nothing_new(stack: Stack):
    user = unique("e2e-idempotent-bulk")
    body = {"user_id": user, "charges": [{"amount": 1}, {"amount": 2}, {"amount": 3}]}
    key = {"Idempotency-Key": unique("retry")}

    answers = [stack.post("/charges/bulk", body, headers=key).status_code for _ in range(3)]

    assert answers == [200, 200, 200]
    assert amounts(stack.stored_charges(user_id=user)) == [1, 2, 3]


def test_a_browser_beacon_sent_as_text_plain_is_accepted(stack: Stack):
    # navigator.sendBeacon(url, JSON.stringify({...})) sends text/plain, no Authorization header.
    email = f"{unique('beacon')}@example.com"
    body = json.dumps({"email": f"  {email.upper()} ", "amount": 1200, "api_key": stack.public_key})

    response = stack.session.post(
        f"{stack.base_url}/charges", data=body, headers={"Content-Type": "text/plain;charset=UTF-8"}, timeout=30
    )

    assert response.status_code == 200, response.text
    (item,) = stack.stored_charges(email=email)
    assert item["email"] == {"S": email}


def test_unknown_routes_and_methods_are_404_and_405_envelopes(stack: Stack):
    missing = stack.session.get(f"{stack.base_url}/no/such/route", timeout=30)
    wrong_method = stack.session.get(f"{stack.base_url}/charges", timeout=30)

    assert (missing.status_code, missing.json()["code"]) == (404, 404)
    assert (wrong_method.status_code, wrong_method.json()["code"]) == (405, 405)
    assert wrong_method.headers["Allow"] == "POST"
