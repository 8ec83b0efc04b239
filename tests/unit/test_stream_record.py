"""``beacon.dal.items.stream_record``: the one builder of stream records, shaped as Lambda delivers them."""

from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord

from beacon.dal.items import charge_from_item, charge_item, stream_record
from tests.builders import load_event
from tests.stream_builders import charge


def test_a_record_has_the_shape_of_the_ready_event_and_carries_the_charge():
    example = load_event("summarize_charges.json")["Records"][0]
    stored = charge("ada", amount=4_999)
    record = stream_record(charge_item(stored), sequence="4" + "0" * 39, created_at=1_764_057_660)

    assert record.keys() == example.keys()
    assert record["dynamodb"].keys() == example["dynamodb"].keys()
    assert record["eventSourceARN"] == example["eventSourceARN"]
    parsed = DynamoDBRecord(record)
    assert parsed.event_name is not None and parsed.event_name.name == "INSERT"
    assert parsed.dynamodb is not None
    assert parsed.dynamodb.sequence_number == "4" + "0" * 39
    assert parsed.dynamodb.approximate_creation_date_time == 1_764_057_660
    assert charge_from_item(record["dynamodb"]["NewImage"]) == stored
    assert record["dynamodb"]["Keys"] == {key: charge_item(stored)[key] for key in ("PK", "SK")}


def test_the_same_write_is_the_same_record_and_another_sequence_another_event():
    item = charge_item(charge("ada"))
    first, again = (stream_record(item, sequence="41", created_at=1) for _ in range(2))
    other = stream_record(item, sequence="42", created_at=1, event_name="MODIFY")

    assert first == again
    assert other["eventID"] != first["eventID"]
    assert other["eventName"] == "MODIFY"
