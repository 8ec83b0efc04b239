"""The client's ``charge_id`` and ``sent_at``: the rules in beacon/models/fields.py and openapi.yaml's schemas agree."""

import re

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from beacon.models.fields import RequestClock, check_charge_id, check_sent_at, json_integer
from local.template import ROOT

SCHEMAS = yaml.safe_load((ROOT / "openapi.yaml").read_text(encoding="utf-8"))["components"]["schemas"]
CHARGE_ID = SCHEMAS["ChargeId"]
SENT_AT_TEXT = next(form["pattern"] for form in SCHEMAS["SentAt"]["oneOf"] if form.get("type") == "string")
SENT_AT_MAX = next(form["maximum"] for form in SCHEMAS["SentAt"]["oneOf"] if form.get("type") == "integer")
CREATED_AT_TEXT = next(form["pattern"] for form in SCHEMAS["CreatedAt"]["oneOf"] if form.get("type") == "string")


def charge_id_accepted(value: str) -> bool:
    try:
        check_charge_id(value)
    except ValueError:
        return False
    return True


def schema_accepts_charge_id(value: str) -> bool:
    # JSON Schema's patterns are ECMA-262's: "$" is the end of the text, never before a final newline (Python's)
    ecma_pattern = CHARGE_ID["pattern"].replace("$", r"\Z")
    return CHARGE_ID["minLength"] <= len(value) <= CHARGE_ID["maxLength"] and bool(re.search(ecma_pattern, value))


@pytest.mark.parametrize("position", ["alone", "first", "middle", "last"])
def test_the_charge_id_schema_and_the_api_agree_on_every_character_below_u0100(position):
    for code in range(0x100):
        char = chr(code)
        value = {"alone": char, "first": f"{char}x", "middle": f"x{char}x", "last": f"x{char}"}[position]
        assert schema_accepts_charge_id(value) is charge_id_accepted(value), f"U+{code:04X} {position}"


@given(st.text(max_size=300))
def test_the_charge_id_schema_and_the_api_agree_on_any_text(value):
    assert schema_accepts_charge_id(value) is charge_id_accepted(value)


@pytest.mark.parametrize("length", [0, 1, 254, 255, 256])
def test_a_charge_id_holds_1_to_255_characters(length):
    assert charge_id_accepted("x" * length) is (1 <= length <= 255)


@given(st.integers(min_value=-(10**16), max_value=10**16))
def test_the_sent_at_schema_and_the_api_agree_on_any_integer_and_its_digits(value):
    def accepted(sent: object) -> bool:
        try:
            check_sent_at(json_integer(sent, "sent_at"))  # type: ignore[arg-type]
        except ValueError:
            return False
        return True

    assert accepted(value) is (0 <= value <= SENT_AT_MAX)
    assert accepted(str(value)) is bool(re.fullmatch(SENT_AT_TEXT, str(value)))


@given(st.text(alphabet="0123456789+- .e", max_size=18))
def test_the_created_at_digit_pattern_is_what_the_api_reads_as_an_integer(text):
    try:
        json_integer(text, "created_at")
        read = True
    except ValueError:
        read = False
    assert read is bool(re.fullmatch(CREATED_AT_TEXT, text))


def test_the_clock_of_a_request_corrects_by_received_minus_sent():
    clock = RequestClock.at(1_764_061_200_999, sent_at=1_764_064_800)  # the client's clock an hour ahead

    assert clock.received_at == 1_764_061_200
    assert clock.offset == -3600
    assert clock.correct(1_764_064_740) == 1_764_061_140
    assert RequestClock.at(1_764_061_200_999).offset == 0
