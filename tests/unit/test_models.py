"""Request models through parse_model: strict types, field paths such as charges[2].amount, readable messages."""

import time
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from beacon.errors import InvalidRequestError
from beacon.models.fields import MAX_AMOUNT, MAX_FUTURE_SECONDS, MIN_CREATED_AT
from beacon.models.parsing import field_path, parse_model
from beacon.models.requests import MAX_BULK_CHARGES, BulkChargesRequest, CreateChargeRequest


def errors_of(model, data) -> dict[str, str]:
    with pytest.raises(InvalidRequestError) as caught:
        parse_model(model, data)
    assert caught.value.status == 400
    assert caught.value.message == caught.value.errors[0].message
    return {error.field: error.message for error in caught.value.errors}


# ---------------------------------------------------------------- valid


def test_a_full_charge_is_read_exactly():
    data = {"user_id": "u1", "email": "A@Example.com", "amount": 4999, "created_at": 1_764_000_000}
    charge = parse_model(CreateChargeRequest, data | {"update_session": False})
    assert (charge.user_id, charge.email, charge.amount, charge.created_at, charge.update_session) == (
        "u1",
        "a@example.com",
        4999,
        1_764_000_000,
        False,
    )


def test_defaults_created_at_none_and_update_session_true():
    charge = parse_model(CreateChargeRequest, {"email": "ada@example.com", "amount": 0})
    assert charge.created_at is None
    assert charge.update_session is True
    assert charge.user_id is None


@pytest.mark.parametrize(
    ("sent", "amount"),
    [
        ("0", 0),
        ("1000", 1000),
        (str(MAX_AMOUNT), MAX_AMOUNT),
        (5000.0, 5000),
        (380629287072603.0, 380629287072603),
        (Decimal("5000.0"), 5000),
        (Decimal("1e3"), 1000),
        (Decimal("1.5E3"), 1500),
        (Decimal("-0.0"), 0),
    ],
)
def test_a_digit_string_or_an_integral_number_is_the_integer_it_denotes(sent, amount):
    charge = parse_model(CreateChargeRequest, {"user_id": "u", "amount": sent, "created_at": "1764000000"})
    assert (charge.amount, charge.created_at) == (amount, 1_764_000_000)
    assert type(charge.amount) is int and type(charge.created_at) is int


def test_null_created_at_means_the_default():
    assert parse_model(CreateChargeRequest, {"user_id": "u", "amount": 1, "created_at": None}).created_at is None


def test_unknown_fields_are_ignored_and_not_kept():
    charge = parse_model(CreateChargeRequest, {"user_id": "u", "amount": 1, "plan": "gold", "api_key": "pk_x"})
    assert "plan" not in charge.model_dump()
    assert "api_key" not in charge.model_dump()


def test_a_bulk_of_the_maximum_size_is_accepted():
    charges = [{"amount": i} for i in range(MAX_BULK_CHARGES)]
    bulk = parse_model(BulkChargesRequest, {"user_id": "u", "charges": charges})
    assert [c.amount for c in bulk.charges] == list(range(MAX_BULK_CHARGES))


# ---------------------------------------------------------------- invalid: one charge


ISO = "not an ISO 8601 date; bin/beacon import converts ISO 8601 dates to UNIX seconds"
MISSING = object()
DIGITS = 'must be an integer or a string of digits such as "1000"'


@pytest.mark.parametrize(
    ("field", "value", "problem"),
    [
        ("amount", 10.5, "must be an integer, got a number with a fraction"),
        ("amount", Decimal("10.5"), "must be an integer, got a number with a fraction"),
        ("amount", Decimal("1000.0000000000000001"), "must be an integer, got a number with a fraction"),
        ("amount", Decimal("1e-3"), "must be an integer, got a number with a fraction"),
        ("amount", Decimal("1e400"), "must be an integer of at most 16 digits; got a larger number"),
        ("amount", Decimal("1e20"), f"must be at most {MAX_AMOUNT}"),
        ("amount", Decimal("-1.0"), "must be at least 0"),
        ("amount", float("inf"), "must be an integer, got a number with a fraction"),
        ("amount", "10.5", f"{DIGITS}; got a string with a decimal point"),
        ("amount", "10.0", f"{DIGITS}; got a string with a decimal point"),
        ("amount", "1e3", f"{DIGITS}; got a string that holds more than digits"),
        ("amount", "0x10", f"{DIGITS}; got a string that holds more than digits"),
        ("amount", "1_000", f"{DIGITS}; got a string that holds more than digits"),
        ("amount", " 100", f"{DIGITS}; got a string with spaces"),
        ("amount", "100\n", f"{DIGITS}; got a string with spaces"),
        ("amount", "-1", f"{DIGITS}; got a string with a sign"),
        ("amount", "+1", f"{DIGITS}; got a string with a sign"),
        ("amount", "01", f"{DIGITS}; got a string with a leading zero"),
        ("amount", "00", f"{DIGITS}; got a string with a leading zero"),
        ("amount", "", f"{DIGITS}; got an empty string"),
        ("amount", "\u0661\u0660", f"{DIGITS}; got a string with digits other than 0-9"),  # Arabic-Indic 10
        ("amount", "\uff11\uff10", f"{DIGITS}; got a string with digits other than 0-9"),  # full-width 10
        ("amount", "1" * 17, f"{DIGITS}; got a string of more than 16 digits"),
        ("amount", str(MAX_AMOUNT + 1), f"must be at most {MAX_AMOUNT}"),
        ("amount", True, "must be an integer, got a boolean"),
        ("amount", None, "must be an integer, got null"),
        ("amount", [1], "must be an integer, got an array"),
        ("amount", {"value": 1}, "must be an integer, got an object"),
        ("amount", -1, "must be at least 0"),
        ("amount", MAX_AMOUNT + 1, f"must be at most {MAX_AMOUNT}"),
        ("amount", MISSING, "is required"),
        ("user_id", 42, "must be a string, got an integer"),
        ("email", 42, "must be a string, got an integer"),
        ("email", ["a@example.com"], "must be a string, got an array"),
        ("update_session", "true", "must be true or false, got a string"),
        ("update_session", 1, "must be true or false, got an integer"),
        ("update_session", None, "must be true or false, got null"),
        ("created_at", "1764000000.5", f"{DIGITS}; got a string with a decimal point"),
        ("created_at", "1764000000000", "must be UNIX seconds; 1764000000000 looks like milliseconds (divide by 1000)"),
        ("created_at", 1764000000000.0, "must be UNIX seconds; 1764000000000 looks like milliseconds (divide by 1000)"),
        ("created_at", "-5", f"{DIGITS}; got a string with a sign"),
        ("created_at", "soon", f"{DIGITS}; got a string that holds more than digits"),
        ("created_at", "2025-11-24T16:00:00Z", f"must be UNIX seconds (an integer such as 1764057600), {ISO}"),
        ("created_at", "2025-11-24 16:00", f"must be UNIX seconds (an integer such as 1764057600), {ISO}"),
        ("created_at", "2025-11-24", f"must be UNIX seconds (an integer such as 1764057600), {ISO}"),
        ("created_at", False, "must be an integer, got a boolean"),
        ("created_at", -5, "must be UNIX seconds, not negative; got -5"),
        ("created_at", 1764000000000, "must be UNIX seconds; 1764000000000 looks like milliseconds (divide by 1000)"),
    ],
)
def test_each_bad_field_is_named_with_what_is_wrong(field, value, problem):
    data: dict[str, object] = {"user_id": "u", "amount": 1}
    if value is MISSING:
        del data[field]
    else:
        data[field] = value
    assert errors_of(CreateChargeRequest, data) == {field: f"{field} {problem}"}


@pytest.mark.parametrize("data", [{"amount": 1}, {"user_id": None, "email": None, "amount": 1}])
def test_a_charge_without_identity_names_user_id(data):
    assert errors_of(CreateChargeRequest, data) == {"user_id": "user_id or email is required"}


def test_every_bad_field_is_reported_at_once():
    errors = errors_of(CreateChargeRequest, {"user_id": "", "amount": "1.0", "update_session": "no"})
    assert set(errors) == {"user_id", "amount", "update_session"}


# ---------------------------------------------------------------- invalid: bulk


def test_bulk_errors_point_at_the_charge_and_its_field():
    errors = errors_of(
        BulkChargesRequest,
        {
            "email": "ada@example.com",
            "charges": [
                {"amount": 1},
                {"amount": 10.5},
                {"amount": 300, "update_session": "no"},
                7,
                {"created_at": 1_764_000_000},
            ],
        },
    )
    assert errors == {
        "charges[1].amount": "charges[1].amount must be an integer, got a number with a fraction",
        "charges[2].update_session": "charges[2].update_session must be true or false, got a string",
        "charges[3]": "charges[3] must be an object, got an integer",
        "charges[4].amount": "charges[4].amount is required",
    }


@pytest.mark.parametrize(
    ("charges", "message"),
    [
        ([], "charges must hold at least 1 item(s)"),
        ([{"amount": 1}] * (MAX_BULK_CHARGES + 1), "charges must hold at most 1000 items; got 1001"),
        ({"amount": 1}, "charges must be an array, got an object"),
        (None, "charges must be an array, got null"),
        ("[]", "charges must be an array, got a string"),
    ],
)
def test_the_charges_list_must_hold_1_to_1000_charges(charges, message):
    assert errors_of(BulkChargesRequest, {"user_id": "u", "charges": charges}) == {"charges": message}


def test_a_bulk_without_identity_names_user_id():
    assert errors_of(BulkChargesRequest, {"charges": [{"amount": 1}]}) == {"user_id": "user_id or email is required"}


def test_identity_inside_a_bulk_charge_does_not_count_and_the_message_says_where_it_belongs():
    # user_id and email sit at the top level of a bulk request; inside a charge they are unknown fields
    assert errors_of(BulkChargesRequest, {"charges": [{"amount": 1, "user_id": "u"}]}) == {
        "user_id": "user_id belongs at the top level of a bulk request, beside charges, not inside charges[0]: "
        "a bulk request records the charges of one customer"
    }
    assert errors_of(BulkChargesRequest, {"charges": [{"amount": 1, "user_id": None}]}) == {
        "user_id": "user_id or email is required"
    }
    request = parse_model(BulkChargesRequest, {"email": "a@example.com", "charges": [{"amount": 1, "user_id": "u"}]})
    assert (request.user_id, request.email) == (None, "a@example.com")


@pytest.mark.parametrize(
    ("loc", "path"),
    [
        ((), "body"),
        (("amount",), "amount"),
        (("charges", 2, "amount"), "charges[2].amount"),
        (("charges", 0), "charges[0]"),
    ],
)
def test_field_paths(loc, path):
    assert field_path(loc) == path


# ---------------------------------------------------------------- properties

amounts = st.integers(min_value=0, max_value=MAX_AMOUNT)
identifiers = st.text(alphabet=st.characters(categories=["L", "N", "P", "S"]), min_size=1, max_size=255)


def created_ats() -> st.SearchStrategy[int]:
    return st.integers(min_value=MIN_CREATED_AT, max_value=int(time.time()))


@given(user_id=identifiers, amount=amounts, created_at=st.none() | created_ats(), update_session=st.booleans())
def test_any_valid_charge_round_trips(user_id, amount, created_at, update_session):
    data = {"user_id": user_id, "amount": amount, "created_at": created_at, "update_session": update_session}
    charge = parse_model(CreateChargeRequest, data)
    assert charge.model_dump(include=set(data)) == data


@given(
    charges=st.lists(
        st.fixed_dictionaries(
            {"amount": amounts}, optional={"created_at": created_ats(), "update_session": st.booleans()}
        ),
        min_size=1,
        max_size=30,
    )
)
def test_any_valid_bulk_round_trips(charges):
    bulk = parse_model(BulkChargesRequest, {"email": "ada@example.com", "charges": charges})
    assert [c.model_dump(include=set(sent)) for c, sent in zip(bulk.charges, charges, strict=True)] == charges


def is_digit_string(text: str) -> bool:
    return text == "0" or (text.isascii() and text.isdigit() and not text.startswith("0") and len(text) <= 16)


not_an_integer = (
    st.text(max_size=20).filter(lambda text: not is_digit_string(text))
    | st.integers().map(lambda n: f"{n:+d}")
    | st.integers(0).map(lambda n: f"0{n}")
    | st.floats(allow_nan=False).filter(lambda x: not x.is_integer())
    | st.decimals(allow_nan=False).filter(lambda x: x != x.to_integral_value())
    | st.booleans()
)


@given(amount=not_an_integer)
def test_any_other_string_number_or_boolean_amount_is_refused(amount):
    errors = errors_of(CreateChargeRequest, {"user_id": "u", "amount": amount})
    assert list(errors) == ["amount"]
    assert errors["amount"].startswith("amount must be an integer")


@given(amount=amounts, form=st.sampled_from([str, float, lambda n: Decimal(n).scaleb(-2).scaleb(2)]))
def test_any_amount_sent_as_digits_or_as_an_integral_number_is_read_exactly(amount, form):
    charge = parse_model(CreateChargeRequest, {"user_id": "u", "amount": form(amount)})
    assert charge.amount == amount and type(charge.amount) is int


@given(index=st.integers(0, 9), amount=not_an_integer)
def test_a_bad_amount_anywhere_in_a_bulk_is_named_by_its_index(index, amount):
    charges: list[dict[str, object]] = [{"amount": 1} for _ in range(10)]
    charges[index] = {"amount": amount}
    errors = errors_of(BulkChargesRequest, {"user_id": "u", "charges": charges})
    assert list(errors) == [f"charges[{index}].amount"]


@given(seconds=created_ats(), extra=st.integers(0, 999))
def test_any_created_at_in_milliseconds_is_refused_with_the_milliseconds_message(seconds, extra):
    millis = seconds * 1000 + extra
    errors = errors_of(CreateChargeRequest, {"user_id": "u", "amount": 1, "created_at": millis})
    message = f"created_at must be UNIX seconds; {millis} looks like milliseconds (divide by 1000)"
    assert errors == {"created_at": message}


@given(ahead=st.integers(min_value=MAX_FUTURE_SECONDS + 120, max_value=10**10))
def test_any_created_at_more_than_a_day_ahead_is_refused(ahead):
    errors = errors_of(CreateChargeRequest, {"user_id": "u", "amount": 1, "created_at": int(time.time()) + ahead})
    assert list(errors) == ["created_at"]


def test_a_rule_broken_inside_a_bulk_names_the_charge_in_its_message():
    charges: list[dict[str, object]] = [{"amount": 1}, {"amount": 1}, {"amount": 1, "created_at": 1_764_000_000_000}]
    errors = errors_of(BulkChargesRequest, {"user_id": "u", "charges": charges})
    assert errors == {
        "charges[2].created_at": "charges[2].created_at must be UNIX seconds; 1764000000000 looks like milliseconds "
        "(divide by 1000)"
    }
