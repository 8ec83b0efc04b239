"""beacon.api.parse_json: strict JSON (no duplicate keys, no NaN/Infinity, bounded nesting and numbers)."""

import json
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from beacon.api import MAX_JSON_DEPTH, parse_json
from beacon.errors import InvalidRequestError


def refusal(text: str) -> InvalidRequestError:
    with pytest.raises(InvalidRequestError) as caught:
        parse_json(text)
    assert caught.value.status == 400
    return caught.value


def test_a_plain_object_is_read_as_is():
    assert parse_json('{"user_id": "u1", "amount": 100, "nested": {"a": [1, 2.5, null, true]}}') == {
        "user_id": "u1",
        "amount": 100,
        "nested": {"a": [1, 2.5, None, True]},
    }


def test_scalars_and_arrays_are_read_the_caller_decides_what_it_accepts():
    assert parse_json("[1, 2]") == [1, 2]
    assert parse_json('"text"') == "text"
    assert parse_json("null") is None


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ('{"amount": 1, "amount": 2}', "amount"),
        ('{"user_id": "a", "charges": [{"amount": 1, "amount": 1}]}', "amount"),
        ('{"": 1, "": 2}', '""'),
    ],
)
def test_a_duplicate_key_is_refused_naming_the_key(text, field):
    error = refusal(text)
    assert error.errors[0].field == field
    assert "appears twice" in error.message


def test_a_duplicate_key_is_echoed_printable_and_short():
    # a lone surrogate cannot be encoded as UTF-8: echoing it raw would break the answer and the log line
    error = refusal('{"\\ud800": 1, "\\ud800": 2}')
    assert error.errors[0].field == "\\ud800"
    error.message.encode("utf-8")
    long_key = "k" * 500
    error = refusal(json.dumps({long_key: 1})[:-1] + f', "{long_key}": 2}}')
    assert len(error.errors[0].field) == 64
    assert error.errors[0].field.endswith("...")


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_are_not_json_numbers(constant):
    error = refusal(f'{{"amount": {constant}}}')
    assert error.errors[0].field == "body"
    assert error.message == f"{constant} is not a JSON number"


@pytest.mark.parametrize(
    "text",
    ["", "{", '{"a": 1,}', "{'a': 1}", '{"a": 01}', '{"a": 1} {"b": 2}', "\ufeff{}", '{"a": "\x01"}', "undefined"],
)
def test_malformed_json_is_refused_with_the_position(text):
    error = refusal(text)
    assert error.errors[0].field == "body"
    assert error.message.startswith("the body is not valid JSON")


def test_a_number_of_more_than_4300_digits_is_refused():
    error = refusal('{"amount": ' + "9" * 5000 + "}")
    assert error.message == "the body holds a number too large to read"


def test_numbers_with_a_fraction_or_an_exponent_are_read_exactly():
    # a float would make 1e400 infinite and round the fraction below away; the models decide what is an integer
    document = parse_json('{"a": 1e400, "b": 1000.0000000000000001, "c": 5000.0}')
    assert document == {"a": Decimal("1e400"), "b": Decimal("1000.0000000000000001"), "c": Decimal("5000.0")}


def test_nesting_is_bounded():
    at_limit = "[" * (MAX_JSON_DEPTH - 1) + "{}" + "]" * (MAX_JSON_DEPTH - 1)
    assert parse_json(at_limit) is not None
    too_deep = "[" * MAX_JSON_DEPTH + "{}" + "]" * MAX_JSON_DEPTH
    assert refusal(too_deep).message == f"the body is nested more than {MAX_JSON_DEPTH} levels deep"


def test_nesting_far_beyond_the_interpreters_recursion_limit_is_a_400():
    assert refusal("[" * 200_000 + "]" * 200_000).errors[0].field == "body"
    assert refusal('{"a":' * 50_000 + "1" + "}" * 50_000).errors[0].field == "body"


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)


@given(st.text())
def test_arbitrary_text_is_either_read_or_refused_with_a_400(text):
    try:
        parse_json(text)
    except InvalidRequestError as exc:
        assert exc.status == 400
        assert exc.errors and all(error.field for error in exc.errors)


def depth(value: object) -> int:
    if isinstance(value, dict):
        return 1 + max(map(depth, value.values()), default=0)
    if isinstance(value, list):
        return 1 + max(map(depth, value), default=0)
    return 0


@given(st.dictionaries(st.text(max_size=8), json_values, max_size=5))
def test_any_json_object_round_trips_unless_too_deep(document):
    if depth(document) <= MAX_JSON_DEPTH:
        text = json.dumps(document)
        assert parse_json(text) == json.loads(text, parse_float=Decimal)  # numbers with a fraction read exactly
    else:
        assert refusal(json.dumps(document)).errors[0].field == "body"


@given(st.dictionaries(st.text(max_size=8), json_values, max_size=5), st.data())
def test_corrupting_a_json_document_never_raises_anything_but_a_400(document, data):
    text = json.dumps(document)
    position = data.draw(st.integers(0, len(text)))
    insert = data.draw(st.sampled_from(["{", "}", "[", "]", ",", ":", '"', "\\", "NaN", "\x00", "\ud800", "1e999"]))
    try:
        parse_json(text[:position] + insert + text[position:])
    except InvalidRequestError as exc:
        assert exc.status == 400
