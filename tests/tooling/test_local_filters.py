"""The local stream poller's FilterCriteria: the EventBridge-pattern subset Lambda applies to stream records."""

import pytest

from local.filters import UnsupportedPatternError, matches, passes

CHARGE_INSERT = {
    "eventName": "INSERT",
    "eventSource": "aws:dynamodb",
    "dynamodb": {
        "Keys": {"PK": {"S": "P#local#C#u#user_42"}, "SK": {"S": "CHARGE#abc"}},
        "NewImage": {"type": {"S": "charge"}, "amount": {"N": "4999"}, "tags": {"SS": ["a", "b"]}},
    },
}
ONLY_CHARGE_INSERTS = {"eventName": ["INSERT"], "dynamodb": {"NewImage": {"type": {"S": ["charge"]}}}}


def with_changes(eventName: str = "INSERT", item_type: str = "charge") -> dict:
    record = {**CHARGE_INSERT, "eventName": eventName}
    record["dynamodb"] = {**CHARGE_INSERT["dynamodb"], "NewImage": {"type": {"S": item_type}}}
    return record


def test_a_charge_insert_passes_the_charge_insert_filter():
    assert matches(ONLY_CHARGE_INSERTS, CHARGE_INSERT)


@pytest.mark.parametrize(
    "record",
    [with_changes(eventName="MODIFY"), with_changes(eventName="REMOVE"), with_changes(item_type="summary")],
    ids=["modify", "remove", "other-item-type"],
)
def test_records_that_differ_in_any_key_of_the_pattern_are_dropped(record):
    assert not matches(ONLY_CHARGE_INSERTS, record)


def test_a_missing_key_does_not_match():
    record = {"eventName": "INSERT", "dynamodb": {"Keys": {}}}
    assert not matches(ONLY_CHARGE_INSERTS, record)


def test_a_list_in_the_pattern_is_a_choice_of_values():
    assert matches({"eventName": ["MODIFY", "INSERT"]}, CHARGE_INSERT)
    assert not matches({"eventName": ["MODIFY", "REMOVE"]}, CHARGE_INSERT)


def test_values_compare_with_their_json_type():
    # Stream images carry numbers as strings: {"N": "4999"} does not match the number 4999.
    assert matches({"dynamodb": {"NewImage": {"amount": {"N": ["4999"]}}}}, CHARGE_INSERT)
    assert not matches({"dynamodb": {"NewImage": {"amount": {"N": [4999]}}}}, CHARGE_INSERT)


def test_exists_prefix_and_anything_but():
    assert matches({"dynamodb": {"NewImage": {"type": {"S": [{"exists": True}]}}}}, CHARGE_INSERT)
    assert matches({"dynamodb": {"NewImage": {"missing": [{"exists": False}]}}}, CHARGE_INSERT)
    assert not matches({"dynamodb": {"NewImage": {"type": [{"exists": False}]}}}, CHARGE_INSERT)
    assert matches({"dynamodb": {"Keys": {"SK": {"S": [{"prefix": "CHARGE#"}]}}}}, CHARGE_INSERT)
    assert not matches({"dynamodb": {"Keys": {"SK": {"S": [{"prefix": "SUMMARY#"}]}}}}, CHARGE_INSERT)
    assert matches({"eventName": [{"anything-but": ["REMOVE", "MODIFY"]}]}, CHARGE_INSERT)
    assert not matches({"eventName": [{"anything-but": "INSERT"}]}, CHARGE_INSERT)


def test_a_list_in_the_record_matches_when_one_element_does():
    assert matches({"dynamodb": {"NewImage": {"tags": {"SS": ["b"]}}}}, CHARGE_INSERT)
    assert not matches({"dynamodb": {"NewImage": {"tags": {"SS": ["c"]}}}}, CHARGE_INSERT)


def test_criteria_pass_when_any_filter_matches_and_everything_passes_without_filters():
    assert passes([{"eventName": ["REMOVE"]}, ONLY_CHARGE_INSERTS], CHARGE_INSERT)
    assert not passes([{"eventName": ["REMOVE"]}, {"eventName": ["MODIFY"]}], CHARGE_INSERT)
    assert passes([], with_changes(eventName="REMOVE"))


def test_an_operator_outside_the_subset_is_refused_rather_than_guessed():
    with pytest.raises(UnsupportedPatternError, match="numeric"):
        matches({"dynamodb": {"NewImage": {"amount": {"N": [{"numeric": [">", 0]}]}}}}, CHARGE_INSERT)
