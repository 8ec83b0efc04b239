"""``sent_at``: the client's clock when it sent the request, correcting every ``created_at`` it sent.

``created_at + (received_at - sent_at)``, where ``received_at`` is the receive time stored with the
charges (``received_ms``), before ``created_at`` is checked as usual. In process against moto.
"""

import time

import pytest

from functions.bulk_charges.app import lambda_handler as bulk_charges
from functions.create_charge.app import lambda_handler as create_charge
from tests.builders import call, http_event
from tests.conftest import PUBLIC_KEY

HOUR = 3600
DAY = 24 * HOUR


def single(body: dict, idempotency_key: str | None = None):
    headers = {"authorization": f"Bearer {PUBLIC_KEY}", "idempotency-key": idempotency_key}
    return call(create_charge, http_event("create_charge.json", body={"user_id": "device", **body}, headers=headers))


def bulk(body: dict, idempotency_key: str | None = None):
    headers = {"authorization": f"Bearer {PUBLIC_KEY}", "idempotency-key": idempotency_key}
    return call(bulk_charges, http_event("bulk_charges.json", body={"user_id": "device", **body}, headers=headers))


def by_position(tables) -> list[dict]:
    return sorted(tables.charges(), key=lambda item: (int(item["received_ms"]["N"]), int(item["position"]["N"])))


def received_at(item: dict) -> int:
    return int(item["received_ms"]["N"]) // 1000


def test_a_clock_an_hour_ahead_has_its_created_at_moved_back_an_hour(tables):
    # Given a device whose clock is an hour ahead: it stamps the charge and the request by that clock
    device_now = int(time.time()) + HOUR

    answer = single({"amount": 100, "created_at": device_now - 60, "sent_at": device_now})

    assert answer.status == 200, answer.body
    [item] = tables.charges()
    # exactly created_at + (received_at - sent_at), with the receive time stored beside it
    assert int(item["created_at"]["N"]) == device_now - 60 + received_at(item) - device_now
    assert abs(int(item["created_at"]["N"]) - (device_now - 60 - HOUR)) <= 2


def test_every_created_at_of_a_bulk_is_corrected_and_a_missing_one_is_the_receive_time(tables):
    device_now = int(time.time()) - 3 * HOUR  # a clock three hours behind
    charges = [{"amount": 1, "created_at": device_now - 10}, {"amount": 2}, {"amount": 3, "created_at": "1764057600"}]

    answer = bulk({"sent_at": str(device_now), "charges": charges})

    assert answer.status == 200, answer.body
    first, second, third = by_position(tables)
    offset = received_at(first) - device_now
    assert int(first["created_at"]["N"]) == device_now - 10 + offset
    assert int(second["created_at"]["N"]) == received_at(second)  # "when the API received it": nothing to correct
    assert int(third["created_at"]["N"]) == 1_764_057_600 + offset


def test_a_created_at_refused_as_sent_is_accepted_once_corrected(tables):
    # A device two days ahead: its created_at is more than 24 hours in the future by the API's clock...
    device_now = int(time.time()) + 2 * DAY
    assert single({"amount": 5, "created_at": device_now}).status == 400

    # ...but not once its clock error is known
    answer = single({"amount": 5, "created_at": device_now, "sent_at": device_now})

    assert answer.status == 200, answer.body
    [item] = tables.charges()
    assert int(item["created_at"]["N"]) == received_at(item)


def test_a_clock_reset_to_1970_is_corrected_too(tables):
    # A device whose clock restarted at the epoch: it has been up 1,000 s and charged 100 s ago
    answer = single({"amount": 5, "created_at": 900, "sent_at": 1_000})

    assert answer.status == 200, answer.body
    [item] = tables.charges()
    assert int(item["created_at"]["N"]) == received_at(item) - 100


def test_a_created_at_invalid_once_corrected_is_a_400_that_says_so(tables):
    now = int(time.time())

    answer = bulk({"sent_at": now - 2 * DAY, "charges": [{"amount": 1}, {"amount": 1, "created_at": now}]})

    assert answer.status == 400, answer.body
    [error] = answer.body["errors"]
    assert error["field"] == "charges[1].created_at"
    assert "24 hours in the future" in error["message"] and "corrected by sent_at" in error["message"]
    assert tables.charges() == []


@pytest.mark.parametrize(
    ("created_at", "problem"),
    [(-1, "not negative"), (1_764_057_600_000, "looks like milliseconds")],
)
def test_a_negative_or_millisecond_created_at_is_refused_as_sent_whatever_sent_at_says(tables, created_at, problem):
    answer = single({"amount": 1, "created_at": created_at, "sent_at": 1_000})

    assert answer.status == 400, answer.body
    [error] = answer.body["errors"]
    assert error["field"] == "created_at"
    assert problem in error["message"] and str(created_at) in error["message"]
    assert tables.charges() == []


@pytest.mark.parametrize(
    ("sent_at", "problem"),
    [
        (1_764_057_600_000, "looks like milliseconds"),
        (-1, "not negative"),
        (10**17, "below"),
        (1_764_057_600.5, "fraction"),
        ("1764057600.5", "decimal point"),
        ("soon", "string of digits"),
        (True, "must be an integer"),
        ([1_764_057_600], "must be an integer"),
    ],
)
def test_an_invalid_sent_at_is_a_400_naming_it_and_writes_nothing(tables, sent_at, problem):
    for answer in (
        single({"amount": 1, "created_at": 1_764_057_600, "sent_at": sent_at}),
        bulk({"sent_at": sent_at, "charges": [{"amount": 1}]}),
    ):
        assert answer.status == 400, answer.body
        assert [error["field"] for error in answer.body["errors"]] == ["sent_at"], answer.body
        assert problem in answer.body["errors"][0]["message"]
    assert tables.charges() == []


def test_a_null_sent_at_is_no_sent_at(tables):
    answer = single({"amount": 1, "created_at": 1_764_057_600, "sent_at": None})

    assert answer.status == 200, answer.body
    assert tables.charges()[0]["created_at"] == {"N": "1764057600"}


def test_a_retry_that_says_when_it_was_sent_again_is_the_same_request(tables):
    # An Idempotency-Key retry and a charge_id resend, each with a later sent_at: the same charge
    sent = int(time.time())
    body = {"amount": 40, "created_at": sent - 5, "charge_id": "order-77"}

    first = single({**body, "sent_at": sent}, idempotency_key="retry-me")
    replay = single({**body, "sent_at": sent + 30}, idempotency_key="retry-me")
    resent = single({**body, "sent_at": sent + 90})

    assert [first.status, replay.status, resent.status] == [200, 200, 200]
    assert replay.headers["idempotent-replayed"] == "true"
    [item] = tables.charges()
    assert item["client_created_at"] == {"N": str(sent - 5)}  # compared as the client sent it
