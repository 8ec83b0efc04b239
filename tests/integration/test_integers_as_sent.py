"""The other side of the bad-input corpus's line: integers as existing clients send them are accepted.

A string of ASCII digits (``"4999"``) and an integral JSON number (``5000.0``, ``1e3``) are the integers
they denote, in single charges and in every bulk item; the stored items hold DynamoDB Numbers.
(``test_bad_input.py`` holds the strings and numbers that stay refused.)
"""

import pytest

from functions.bulk_charges.app import lambda_handler as bulk_charges
from functions.create_charge.app import lambda_handler as create_charge
from tests.builders import call, http_event
from tests.conftest import PUBLIC_KEY

HANDLERS = {"single": (create_charge, "create_charge.json"), "bulk": (bulk_charges, "bulk_charges.json")}


ACCEPTED_INTEGERS = [
    # (id, endpoint, raw body, stored (amount, created_at) of each charge)
    ("single-amount-digit-string", "single", '{"user_id": "u", "amount": "4999"}', [(4999, None)]),
    ("single-amount-zero-string", "single", '{"user_id": "u", "amount": "0"}', [(0, None)]),
    ("single-amount-10-to-15-string", "single", '{"user_id": "u", "amount": "1000000000000000"}', [(10**15, None)]),
    ("single-amount-integral-float", "single", '{"user_id": "u", "amount": 5000.0}', [(5000, None)]),
    ("single-amount-large-integral-float", "single", '{"user_id": "u", "amount": 380629287072603.0}',
     [(380629287072603, None)]),
    ("single-amount-exponent", "single", '{"user_id": "u", "amount": 1e3}', [(1000, None)]),
    ("single-amount-minus-zero", "single", '{"user_id": "u", "amount": -0.0}', [(0, None)]),
    ("single-created_at-digit-string", "single", '{"user_id": "u", "amount": 1, "created_at": "1764000000"}',
     [(1, 1_764_000_000)]),
    ("single-created_at-integral-float", "single", '{"user_id": "u", "amount": 1, "created_at": 1764000000.0}',
     [(1, 1_764_000_000)]),
    ("bulk-every-form", "bulk",
     '{"user_id": "u", "charges": [{"amount": "1", "created_at": "1764000000"}, {"amount": 2.0}, {"amount": 3}]}',
     [(1, 1_764_000_000), (2, None), (3, None)]),
]  # fmt: skip


@pytest.mark.parametrize(("id", "endpoint", "raw", "stored"), ACCEPTED_INTEGERS, ids=[c[0] for c in ACCEPTED_INTEGERS])
def test_digit_strings_and_integral_numbers_are_stored_as_the_integers_they_denote(tables, id, endpoint, raw, stored):
    handler, event_name = HANDLERS[endpoint]

    answer = call(handler, http_event(event_name, raw_body=raw, headers={"authorization": f"Bearer {PUBLIC_KEY}"}))

    assert answer.status == 200, answer.body
    items = sorted(tables.charges(), key=lambda item: int(item["amount"]["N"]))
    assert [item["amount"] for item in items] == [{"N": str(amount)} for amount, _ in stored]
    for item, (_, created_at) in zip(items, stored, strict=True):
        assert "N" in item["created_at"]  # a DynamoDB Number, never the string that was sent
        if created_at is not None:
            assert item["created_at"] == {"N": str(created_at)}
