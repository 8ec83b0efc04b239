"""Request bodies sent with ``Content-Encoding: gzip``, in process against moto.

API Gateway (HTTP API) passes such a body to the function base64-encoded and does not decompress it:
the function inflates it, a bounded amount at a time. The 1 MiB limit applies to the inflated body; a
body that inflates past it is a 413 without ever being inflated whole; a corrupt stream is a 400 naming
``body``; an encoding other than gzip or identity is a 415 naming ``Content-Encoding``. Nothing is
written by any refused request.
"""

import gzip
import json
import random
import tracemalloc
import zlib

import pytest

from beacon.api import MAX_BODY_BYTES, inflate_gzip
from beacon.errors import InvalidRequestError, PayloadTooLargeError
from functions.bulk_charges.app import lambda_handler as bulk_charges
from functions.create_charge.app import lambda_handler as create_charge
from tests.builders import call, http_event
from tests.conftest import PUBLIC_KEY

SUCCESS = {"success": True, "code": 200, "data": None}
BOMB_BYTES = 10_000_000  # ten million zeros: about 10 KB once compressed


def gzipped(**headers: str | None) -> dict[str, str | None]:
    return {"authorization": f"Bearer {PUBLIC_KEY}", "content-encoding": "gzip", **headers}


def send(handler, name: str, raw: bytes, headers: dict[str, str | None]):
    return call(handler, http_event(name, raw_body=raw, headers=headers))


def amounts(tables) -> list[int]:
    return sorted(int(item["amount"]["N"]) for item in tables.charges())


def assert_refused(answer, status: int, field: str) -> None:
    assert answer.status == status, answer.body
    assert (answer.body["success"], answer.body["code"], answer.body["data"]) == (False, status, None)
    assert [error["field"] for error in answer.body["errors"]] == [field], answer.body


def test_a_gzip_bulk_is_inflated_and_stored(tables):
    body = {"user_id": "gz_bulk", "charges": [{"amount": 100 + i, "created_at": 1_764_000_000 + i} for i in range(500)]}
    raw = gzip.compress(json.dumps(body).encode())

    answer = send(bulk_charges, "bulk_charges.json", raw, gzipped(**{"idempotency-key": None}))

    assert answer.status == 200, answer.body
    assert answer.body == SUCCESS
    assert amounts(tables) == [100 + i for i in range(500)]


@pytest.mark.parametrize("encoding", ["gzip", "GZip", " gzip ", "x-gzip", "identity, gzip", "gzip, identity"])
def test_gzip_is_recognised_whatever_its_case_spelling_or_identity_beside_it(tables, encoding):
    raw = gzip.compress(json.dumps({"user_id": "gz_single", "amount": 4999}).encode())

    answer = send(create_charge, "create_charge.json", raw, gzipped(**{"content-encoding": encoding}))

    assert answer.status == 200, answer.body
    assert amounts(tables) == [4999]


@pytest.mark.parametrize("content_type", ["application/json", "text/plain;charset=UTF-8", None])
def test_a_gzip_body_may_be_json_or_text_plain_as_a_browser_sends_it(tables, content_type):
    body = {"user_id": "gz_text", "amount": 7, "api_key": PUBLIC_KEY}
    headers = gzipped(authorization=None, **{"content-type": content_type})

    answer = send(create_charge, "create_charge.json", gzip.compress(json.dumps(body).encode()), headers)

    assert answer.status == 200, answer.body
    assert amounts(tables) == [7]


@pytest.mark.parametrize("encoding", [None, "identity", "IDENTITY", ""])
def test_identity_or_no_content_encoding_is_read_as_before(tables, encoding):
    event = http_event(
        "create_charge.json",
        body={"user_id": "plain", "amount": 12},
        headers={"authorization": f"Bearer {PUBLIC_KEY}", "content-encoding": encoding},
    )

    answer = call(create_charge, event)

    assert answer.status == 200, answer.body
    assert amounts(tables) == [12]


def test_gzip_members_one_after_the_other_are_one_body(tables):
    text = json.dumps({"user_id": "gz_members", "amount": 31}).encode()
    raw = gzip.compress(text[:10]) + gzip.compress(text[10:])

    answer = send(create_charge, "create_charge.json", raw, gzipped())

    assert answer.status == 200, answer.body
    assert amounts(tables) == [31]


@pytest.mark.parametrize("encoding", ["br", "deflate", "compress", "zstd", "gzip, gzip", "gzip, br", "bogus"])
@pytest.mark.parametrize("endpoint", ["single", "bulk"])
def test_any_other_encoding_is_a_415_naming_content_encoding_and_writes_nothing(tables, encoding, endpoint):
    handler, name = (
        (create_charge, "create_charge.json") if endpoint == "single" else (bulk_charges, "bulk_charges.json")
    )
    event = http_event(name, headers={"authorization": f"Bearer {PUBLIC_KEY}", "content-encoding": encoding})

    answer = call(handler, event)

    assert_refused(answer, 415, "Content-Encoding")
    assert encoding.split(",")[-1].strip() in answer.body["errors"][0]["message"]
    assert answer.headers["accept-encoding"] == "gzip, identity"
    assert tables.charges() == []
    assert tables.items("IdempotencyTable") == []


def test_a_body_inflating_to_exactly_1_mib_is_read_and_one_byte_more_is_a_413(tables):
    text = json.dumps({"user_id": "gz_limit", "amount": 5}).encode()
    exactly = text[:-1] + b" " * (MAX_BODY_BYTES - len(text)) + b"}"
    assert len(exactly) == MAX_BODY_BYTES

    at_limit = send(create_charge, "create_charge.json", gzip.compress(exactly), gzipped())
    over = send(create_charge, "create_charge.json", gzip.compress(b" " + exactly), gzipped())

    assert at_limit.status == 200, at_limit.body
    assert_refused(over, 413, "body")
    assert "decompressed" in over.body["errors"][0]["message"]
    assert amounts(tables) == [5]


def test_a_gzip_bomb_is_a_413_and_is_never_inflated_whole(tables):
    # Given ten million zeros compressed to about ten kilobytes
    bomb = gzip.compress(b"0" * BOMB_BYTES, compresslevel=9)
    assert len(bomb) < 20_000
    event = http_event("create_charge.json", raw_body=bomb, headers=gzipped())

    # When the function answers it, its allocations traced
    tracemalloc.start()
    try:
        answer = call(create_charge, event)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    # Then it is refused as too large, having held a few MiB at most, never the ten million bytes
    assert_refused(answer, 413, "body")
    assert peak < 4 * MAX_BODY_BYTES, f"the function allocated {peak:,} bytes at its peak"
    assert tables.charges() == []


def test_a_compressed_body_over_1_mib_is_a_413_before_it_is_inflated(tables):
    noise = random.Random(23).randbytes(MAX_BODY_BYTES)  # gzip cannot shrink it
    raw = gzip.compress(noise, compresslevel=0)
    assert len(raw) > MAX_BODY_BYTES

    answer = send(create_charge, "create_charge.json", raw, gzipped())

    assert_refused(answer, 413, "body")
    assert "compressed body" in answer.body["errors"][0]["message"]


@pytest.mark.parametrize(
    "raw",
    [
        b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03"
        + b'{"user_id": "u", "amount": 1}',  # a gzip header, then plain text
        b'{"user_id": "u", "amount": 1}',  # not compressed at all
        gzip.compress(b'{"user_id": "u", "amount": 1}')[:-6],  # truncated: the trailer is cut
        gzip.compress(b'{"user_id": "u", "amount": 1}')[:12],  # truncated in the stream
        gzip.compress(b'{"user_id": "u", "amount": 1}') + b"trailing bytes",
        zlib.compress(b'{"user_id": "u", "amount": 1}'),  # zlib's format, not gzip's
        gzip.compress(b'{"user_id": "u", "amount": 1}')[:-8] + b"\x00\x00\x00\x00\x1e\x00\x00\x00",  # bad CRC
    ],
    ids=["header-then-text", "not-compressed", "no-trailer", "cut-in-stream", "trailing-garbage", "zlib", "bad-crc"],
)
def test_a_corrupt_or_truncated_gzip_body_is_a_400_naming_body(tables, raw):
    answer = send(create_charge, "create_charge.json", raw, gzipped())

    assert_refused(answer, 400, "body")
    assert "gzip" in answer.body["errors"][0]["message"]
    assert tables.charges() == []


def test_an_empty_gzip_body_is_the_empty_body_400(tables):
    answer = call(create_charge, http_event("create_charge.json", raw_body="", headers=gzipped()))

    assert_refused(answer, 400, "body")
    assert answer.body["errors"][0]["message"] == "the body is empty; send a JSON object"


def test_an_inflated_body_is_read_as_any_other_bad_json_is_still_a_400(tables):
    answer = send(create_charge, "create_charge.json", gzip.compress(b'{"user_id": "u", "amount": 1,'), gzipped())

    assert_refused(answer, 400, "body")
    assert "not valid JSON" in answer.body["errors"][0]["message"]


def test_inflate_gzip_holds_at_most_the_limit_and_one_byte():
    assert inflate_gzip(gzip.compress(b"x" * 100), 100) == b"x" * 100
    with pytest.raises(PayloadTooLargeError):
        inflate_gzip(gzip.compress(b"x" * 101), 100)
    with pytest.raises(PayloadTooLargeError):  # the second member passes the limit
        inflate_gzip(gzip.compress(b"x" * 60) + gzip.compress(b"x" * 60), 100)
    with pytest.raises(InvalidRequestError):
        inflate_gzip(b"not gzip", 100)
