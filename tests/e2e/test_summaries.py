"""Summaries over real HTTP: charges in through the API, the stream, and GET /customers/summary out.

The expected summaries are computed here from the charges the test sent, independently of the
stream handler's fold. The stream delivers within seconds; each wait is bounded.
"""

import json
import random
import time
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.e2e.conftest import Stack, unique

pytestmark = pytest.mark.e2e

WAIT_SECONDS = 60
CLOCK_SKEW_SECONDS = 5  # a deployed stack's clock is not this machine's


@dataclass
class Customer:
    """One customer of the workload and every charge sent for it."""

    user_id: str | None
    email: str | None  # as sent: maybe with capitals and spaces
    charges: list[dict[str, Any]] = field(default_factory=list)

    @property
    def query(self) -> dict[str, str]:
        return {"user_id": self.user_id} if self.user_id else {"email": self.stored_email or ""}

    @property
    def stored_email(self) -> str | None:
        return self.email.strip().lower() if self.email else None

    def expected(self, sent_from: int, sent_until: int) -> dict[str, Any]:
        """The summary these charges imply; session times are only known to lie within the sending window."""
        latest = max(self.charges, key=lambda c: c["created_at"])  # created_at values are distinct
        tracked = any(c.get("update_session", True) for c in self.charges)
        return {
            "user_id": self.user_id,
            "email": self.stored_email,
            "charges": {
                "count": len(self.charges),
                "total": sum(c["amount"] for c in self.charges),
                "first_at": min(c["created_at"] for c in self.charges),
                "last_at": latest["created_at"],
                "last_amount": latest["amount"],
            },
            # Everything is sent within one session timeout (30 min): one session if any charge is tracked.
            # First Seen is when the first charge arrived, tracked or not; Last Seen needs a tracked one.
            "sessions": {"count": 1 if tracked else 0, "seen_within": (sent_from, sent_until), "tracked": tracked},
        }


def wait_for_summaries(stack: Stack, customers: list[Customer]) -> dict[int, dict[str, Any]]:
    """Each customer's summary once its charge count reaches what was sent (or what it is when time runs out)."""
    deadline = time.monotonic() + WAIT_SECONDS
    found: dict[int, dict[str, Any]] = {}
    waiting = list(range(len(customers)))
    while waiting and time.monotonic() < deadline:
        still = []
        for index in waiting:
            response = stack.summary(**customers[index].query)
            if response.status_code == 200:
                found[index] = response.json()["data"]
                if found[index]["charges"]["count"] >= len(customers[index].charges):
                    continue
            else:
                assert response.status_code == 404, response.text
            still.append(index)
        waiting = still
        if waiting:
            time.sleep(0.2)
    return found


def assert_summary(actual: dict[str, Any] | None, expected: dict[str, Any], who: str) -> None:
    assert actual is not None, f"no summary for {who}"
    assert actual["user_id"] == expected["user_id"], who
    assert actual["email"] == expected["email"], who
    assert actual["charges"] == expected["charges"], who
    sessions = actual["sessions"]
    assert sessions["count"] == expected["sessions"]["count"], who
    low, high = expected["sessions"]["seen_within"]
    assert low - CLOCK_SKEW_SECONDS <= sessions["first_seen_at"] <= high + CLOCK_SKEW_SECONDS, who
    if expected["sessions"]["tracked"]:
        assert sessions["first_seen_at"] <= sessions["last_seen_at"] <= high + CLOCK_SKEW_SECONDS, who
    else:
        assert sessions["last_seen_at"] is None, who


def test_a_charge_shows_up_in_its_summary(stack: Stack):
    customer = Customer(user_id=unique("e2e-summary"), email="Ada@Example.com ")
    customer.charges.append({"amount": 4999, "created_at": 1764057600})
    sent_from = int(time.time())

    response = stack.post("/charges", {"user_id": customer.user_id, "email": customer.email, **customer.charges[0]})
    sent_until = int(time.time()) + 1

    assert response.status_code == 200, response.text
    found = wait_for_summaries(stack, [customer])
    assert_summary(found.get(0), customer.expected(sent_from, sent_until), customer.user_id or "")


def test_an_unknown_customer_has_no_summary(stack: Stack):
    response = stack.summary(user_id=unique("e2e-nobody"))

    assert response.status_code == 404
    assert response.json()["code"] == 404


def test_idempotent_retries_count_once_in_the_summary(stack: Stack):
    customer = Customer(user_id=unique("e2e-retried"), email=None)
    single = {"amount": 500, "created_at": 1764057600}
    bulk = [{"amount": 10, "created_at": 1764057601}, {"amount": 20, "created_at": 1764057602}]
    customer.charges.extend([single, *bulk])
    single_key, bulk_key = {"Idempotency-Key": unique("single")}, {"Idempotency-Key": unique("bulk")}
    sent_from = int(time.time())

    for _ in range(3):
        assert stack.post("/charges", {"user_id": customer.user_id, **single}, headers=single_key).ok
        assert stack.post("/charges/bulk", {"user_id": customer.user_id, "charges": bulk}, headers=bulk_key).ok
    sent_until = int(time.time()) + 1

    found = wait_for_summaries(stack, [customer])
    assert_summary(found.get(0), customer.expected(sent_from, sent_until), customer.user_id or "")


def test_a_workload_of_hundreds_of_charges_gives_exactly_the_summaries_they_imply(stack: Stack):
    # Given 40 customers (30 by user id, 10 by e-mail address) and about 300 charges among them, sent
    # one by one and in bulk, out of time order, some historical (update_session false)
    rng = random.Random(20261125)
    run = unique("load")
    customers = [
        Customer(user_id=f"{run}-user-{n}", email=f"user{n}@example.com" if n % 3 == 0 else None) for n in range(30)
    ] + [Customer(user_id=None, email=f"  Buyer{n}.{run}@Example.COM ") for n in range(10)]
    base = 1_764_000_000
    requests_to_send: list[tuple[str, dict[str, Any]]] = []
    for index, customer in enumerate(customers):
        count = rng.randint(3, 12)
        historical_only = index % 13 == 5
        times = rng.sample(range(base, base + 86_400 * 30, 60), count)  # distinct created_at values
        for created_at in times:
            charge: dict[str, Any] = {"amount": rng.randint(1, 100_000), "created_at": created_at}
            if historical_only or rng.random() < 0.2:
                charge["update_session"] = False
            customer.charges.append(charge)
        identity = {"user_id": customer.user_id} if customer.user_id else {}
        if customer.email:
            identity["email"] = customer.email
        split = rng.randint(0, count)
        for charge in customer.charges[:split]:
            requests_to_send.append(("/charges", {**identity, **charge}))
        if split < count:
            requests_to_send.append(("/charges/bulk", {**identity, "charges": customer.charges[split:]}))
    rng.shuffle(requests_to_send)
    total = sum(len(c.charges) for c in customers)
    assert 200 <= total <= 500

    # When they are all sent
    sent_from = int(time.time())
    statuses = [stack.post(path, body).status_code for path, body in requests_to_send]
    sent_until = int(time.time()) + 1

    # Then every request was accepted, and every summary is exactly what its charges imply
    assert statuses == [200] * len(requests_to_send)
    found = wait_for_summaries(stack, customers)
    for index, customer in enumerate(customers):
        assert_summary(found.get(index), customer.expected(sent_from, sent_until), str(customer.query))


def test_the_request_of_the_pipedream_crowdpower_action_is_a_charge_of_its_amount(stack: Stack):
    # Given the request Pipedream's "CrowdPower: Create Customer Charge" action sends (through axios): its
    # form fields are strings, so the amount is a JSON string; the body JSON.stringify'd, without spaces
    user = unique("u_1")
    body = json.dumps({"user_id": user, "amount": "1000"}, separators=(",", ":"))
    headers = {
        "Accept": "application/json, text/plain, */*",
        "Content-Type": "application/json",
        "Authorization": f"Bearer {stack.public_key}",
        "User-Agent": "axios/1.7.7",
    }

    # When it is posted
    response = stack.session.post(f"{stack.base_url}/charges", data=body.encode(), headers=headers, timeout=30)

    # Then it is accepted, stored as the integer 1000, and counted in the customer's summary
    assert response.status_code == 200, response.text
    assert response.json() == {"success": True, "code": 200, "data": None}
    stored = stack.stored_charges(user_id=user)
    assert [item["amount"] for item in stored] == [{"N": "1000"}]
    customer = Customer(user_id=user, email=None, charges=[{"amount": 1000, "created_at": 0}])
    found = wait_for_summaries(stack, [customer])
    assert found[0]["charges"]["count"] == 1 and found[0]["charges"]["total"] == 1000
    assert found[0]["charges"]["last_amount"] == 1000


def test_among_charges_of_one_second_the_later_request_and_the_later_item_win_every_time(stack: Stack):
    # Given ten customers, each sent two charges one after the other with one created_at (the second with
    # another address and amount), and ten more, each sent one bulk of two charges with one created_at
    created_at = 1764057600
    pairs = [Customer(user_id=unique("e2e-latest"), email=None) for _ in range(10)]
    bulks = [Customer(user_id=unique("e2e-latest-bulk"), email=None) for _ in range(10)]
    for customer in pairs:
        for email, amount in (("old@example.com", 1), ("new@example.com", 2)):
            charge = {"amount": amount, "created_at": created_at}
            assert stack.post("/charges", {"user_id": customer.user_id, "email": email, **charge}).ok
            customer.charges.append(charge)
    for customer in bulks:
        customer.charges = [{"amount": 111, "created_at": created_at}, {"amount": 222, "created_at": created_at}]
        assert stack.post("/charges/bulk", {"user_id": customer.user_id, "charges": customer.charges}).ok

    # When the summaries are read
    found = wait_for_summaries(stack, pairs + bulks)

    # Then every one holds the later request's address and amount, and the bulk's later item
    assert [(found[i]["email"], found[i]["charges"]["last_amount"]) for i in range(10)] == [("new@example.com", 2)] * 10
    assert [found[10 + i]["charges"]["last_amount"] for i in range(10)] == [222] * 10
