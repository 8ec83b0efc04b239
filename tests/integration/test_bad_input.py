"""The bad-input corpus: malformed requests to the write endpoints, each refused with a 4xx that names the field.

Every case asserts the status, the error envelope ``{"success": false, "code": <status>, "data": null,
"errors": [...]}`` with the expected field among the errors, and that nothing was written: no charge
and no idempotency record (every case is sent with an Idempotency-Key unless it is about that header).
"""

import base64
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from moto import mock_aws

from functions.bulk_charges.app import lambda_handler as bulk_charges
from functions.create_charge.app import lambda_handler as create_charge
from local.caches import reset_caches
from tests.builders import call, http_event
from tests.conftest import PUBLIC_KEY, Tables, create_tables, seed_keys, table_env_names

NOW = int(time.time())
ONE_CHARGE = {"user_id": "user_42", "amount": 4999, "created_at": 1_764_000_000}
BULK = {"user_id": "user_42", "charges": [{"amount": 1000}, {"amount": 2500, "update_session": False}]}
BASE_HEADERS = {"authorization": f"Bearer {PUBLIC_KEY}", "idempotency-key": "corpus-key-1"}
HANDLERS = {"single": (create_charge, "create_charge.json"), "bulk": (bulk_charges, "bulk_charges.json")}


@dataclass(frozen=True)
class Case:
    """One malformed request and what the API must answer."""

    id: str
    endpoint: str  # "single" (POST /charges) or "bulk" (POST /charges/bulk)
    status: int
    field: str
    body: Any = None  # a JSON document, sent as is (unless raw is given)
    raw: str | bytes | None = None  # the body exactly (bytes go base64-encoded, as API Gateway sends binary)
    headers: dict[str, str | None] = field(default_factory=dict)
    query: dict[str, str] | None = None
    method: str | None = None
    path: str | None = None
    base64_flag: bool | None = None


def single(id: str, status: int, field: str, **kwargs: Any) -> Case:
    return Case(f"single-{id}", "single", status, field, **kwargs)


def bulk(id: str, status: int, field: str, **kwargs: Any) -> Case:
    return Case(f"bulk-{id}", "bulk", status, field, **kwargs)


def charge_with(**fields: Any) -> dict[str, Any]:
    """The valid single charge with some fields replaced (a value of ``...`` removes the field)."""
    return {k: v for k, v in (ONE_CHARGE | fields).items() if v is not ...}


def bulk_with(**fields: Any) -> dict[str, Any]:
    return {k: v for k, v in (BULK | fields).items() if v is not ...}


def charges_with(index: int, count: int = 10, **fields: Any) -> dict[str, Any]:
    """A bulk of ``count`` valid charges whose charge ``index`` has some fields replaced."""
    charges: list[dict[str, Any]] = [{"amount": 100 + i} for i in range(count)]
    charges[index] = {k: v for k, v in (charges[index] | fields).items() if v is not ...}
    return {"user_id": "user_42", "charges": charges}


# ---------------------------------------------------------------- the body as a whole (both endpoints)


def body_cases(endpoint: str, valid: dict[str, Any]) -> list[Case]:
    make = single if endpoint == "single" else bulk
    text = json.dumps(valid)
    # a key in the middle of the document, duplicated with another value
    first_key = next(iter(valid))
    duplicated = text[:-1] + f', "{first_key}": {json.dumps(valid[first_key])}}}'
    too_big = text[:-1] + ', "padding": "' + "x" * 1_048_576 + '"}'
    return [
        make("empty-body", 400, "body", raw=""),
        make("whitespace-body", 400, "body", raw=" \n\t "),
        make("no-body-at-all", 400, "body", raw=None, body=...),
        make("json-null", 400, "body", raw="null"),
        make("json-array", 400, "body", raw=f"[{text}]"),
        make("empty-array", 400, "body", raw="[]"),
        make("json-string", 400, "body", raw='"user_id=user_42"'),
        make("json-number", 400, "body", raw="4999"),
        make("json-true", 400, "body", raw="true"),
        make("json-string-holding-json", 400, "body", raw=json.dumps(text)),
        make("truncated", 400, "body", raw=text[:-1]),
        make("trailing-comma", 400, "body", raw=text[:-1] + ",}"),
        make("single-quotes", 400, "body", raw=text.replace('"', "'")),
        make("unquoted-keys", 400, "body", raw=text.replace(f'"{first_key}"', first_key)),
        make("js-comment", 400, "body", raw="// beacon\n" + text),
        make("two-documents", 400, "body", raw=text + text),
        make("form-encoded-body", 400, "body", raw="user_id=user_42&amount=4999"),
        make("xml-body", 400, "body", raw="<charge><amount>4999</amount></charge>"),
        make("raw-control-char-in-string", 400, "body", raw=text.replace("user_42", "user\x0142")),
        make("duplicate-top-level-key", 400, first_key, raw=duplicated),
        make("too-large", 413, "body", raw=too_big),
        make("too-large-base64", 413, "body", raw=too_big.encode()),
        make("invalid-utf8", 400, "body", raw=text.encode().replace(b"user_42", b"user_\xff42")),
        make("latin1-encoded", 400, "body", raw=text.replace("user_42", "usér_42").encode("latin-1")),
        make("overlong-utf8-slash", 400, "body", raw=text.encode().replace(b"user_42", b"user\xc0\xaf42")),
        make("utf8-encoded-surrogate", 400, "body", raw=text.encode().replace(b"user_42", b"user\xed\xa0\x8042")),
        make("utf16-le-with-bom", 400, "body", raw=b"\xff\xfe" + text.encode("utf-16-le")),
        make("utf16-be-with-bom", 400, "body", raw=b"\xfe\xff" + text.encode("utf-16-be")),
        make("utf16-le-without-bom", 400, "body", raw=text.encode("utf-16-le")),
        make("utf32-with-bom", 400, "body", raw=text.encode("utf-32")),
        make("double-utf8-bom", 400, "body", raw=b"\xef\xbb\xbf\xef\xbb\xbf" + text.encode()),
        make("bom-only", 400, "body", raw=b"\xef\xbb\xbf"),
        make("gzip-body", 400, "body", raw=b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03" + text.encode()),
        make("invalid-base64", 400, "body", raw="this is not base64!", base64_flag=True),
        make("base64-of-json-not-flagged", 400, "body", raw=base64.b64encode(text.encode()).decode()),
        make("nesting-40-deep-in-an-unknown-field", 400, "body", raw=text[:-1] + ', "x": ' + "[" * 40 + "]" * 40 + "}"),
        make("nesting-100k-deep", 400, "body", raw="[" * 100_000 + "]" * 100_000),
        make("objects-nested-50k-deep", 400, "body", raw='{"a":' * 50_000 + "1" + "}" * 50_000),
        make("number-of-5000-digits", 400, "body", raw=text[:-1] + ', "x": ' + "7" * 5000 + "}"),
        make("nan-in-unknown-field", 400, "body", raw=text[:-1] + ', "x": NaN}'),
        make("infinity-in-unknown-field", 400, "body", raw=text[:-1] + ', "x": Infinity}'),
    ]


# ---------------------------------------------------------------- content types (both endpoints)

BAD_MEDIA_TYPES = [
    "application/xml",
    "text/xml",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=x",
    "text/html",
    "text/csv",
    "application/octet-stream",
    "application/jsonp",
    "json",
    "image/png",
]


def media_type_cases(endpoint: str, valid: dict[str, Any]) -> list[Case]:
    make = single if endpoint == "single" else bulk
    return [
        make(f"content-type-{media.split(';')[0].replace('/', '-')}", 400, "Content-Type", body=valid,
             headers={"content-type": media})
        for media in BAD_MEDIA_TYPES
    ]  # fmt: skip


# ---------------------------------------------------------------- keys (both endpoints)


def key_cases(endpoint: str, valid: dict[str, Any]) -> list[Case]:
    make = single if endpoint == "single" else bulk
    no_header: dict[str, str | None] = {"authorization": None}
    return [
        make("no-key", 401, "api_key", body=valid, headers=no_header),
        make("basic-auth", 401, "api_key", body=valid, headers={"authorization": "Basic cGtfbG9jYWxfZGV2Og=="}),
        make("bearer-without-token", 401, "api_key", body=valid, headers={"authorization": "Bearer "}),
        make("token-without-scheme", 401, "api_key", body=valid, headers={"authorization": PUBLIC_KEY}),
        make("unknown-public-key", 401, "api_key", body=valid, headers={"authorization": "Bearer pk_not_a_real_key"}),
        make("unknown-secret-key", 401, "api_key", body=valid, headers={"authorization": "Bearer sk_not_a_real_key"}),
        make("key-of-another-kind", 401, "api_key", body=valid, headers={"authorization": "Bearer rk_local_dev"}),
        make("key-with-space", 401, "api_key", body=valid, headers={"authorization": "Bearer pk_local dev"}),
        make("key-with-homoglyph", 401, "api_key", body=valid, headers={"authorization": "Bearer pk_l\u043ecal_dev"}),
        make("key-with-nul", 401, "api_key", body=valid, headers={"authorization": "Bearer pk_local_dev\x00"}),
        make("key-too-long", 401, "api_key", body=valid, headers={"authorization": "Bearer pk_" + "a" * 500}),
        make("key-prefix-only", 401, "api_key", body=valid, headers={"authorization": "Bearer pk_"}),
        make("key-in-x-api-key-header", 401, "api_key", body=valid, headers={**no_header, "x-api-key": PUBLIC_KEY}),
        make("key-in-cookie", 401, "api_key", body=valid, headers={**no_header, "cookie": f"api_key={PUBLIC_KEY}"}),
        make("unknown-key-in-query", 401, "api_key", body=valid, headers=no_header, query={"api_key": "pk_nope_nope"}),
        make("empty-key-in-query", 401, "api_key", body=valid, headers=no_header, query={"api_key": ""}),
        make("key-in-query-under-other-case", 401, "api_key", body=valid, headers=no_header,
             query={"API_KEY": PUBLIC_KEY}),
        make("unknown-header-key-beats-valid-query-key", 401, "api_key", body=valid,
             headers={"authorization": "Bearer pk_unknown_key"}, query={"api_key": PUBLIC_KEY}),
        make("key-in-body-as-number", 401, "api_key", body=valid | {"api_key": 12345}, headers=no_header),
        make("key-in-body-as-list", 401, "api_key", body=valid | {"api_key": [PUBLIC_KEY]}, headers=no_header),
        make("key-in-body-unknown", 401, "api_key", body=valid | {"api_key": "pk_nope_nope"}, headers=no_header),
        make("key-in-body-nested", 401, "api_key", body=valid | {"auth": {"api_key": PUBLIC_KEY}}, headers=no_header),
        make("key-in-body-other-name", 401, "api_key", body=valid | {"apiKey": PUBLIC_KEY}, headers=no_header),
    ]  # fmt: skip


# ---------------------------------------------------------------- Idempotency-Key header (both endpoints)

BAD_IDEMPOTENCY_KEYS = {
    "empty": "",
    "too-long": "k" * 256,
    "non-ascii": "clé-1",
    "space": "order 1",
    "tab": "order\t1",
    "newline": "order\n1",
    "del-char": "order\x7f1",
    "emoji": "order-🙂",
}


def idempotency_cases(endpoint: str, valid: dict[str, Any]) -> list[Case]:
    make = single if endpoint == "single" else bulk
    return [
        make(f"idempotency-key-{name}", 400, "Idempotency-Key", body=valid, headers={"idempotency-key": value})
        for name, value in BAD_IDEMPOTENCY_KEYS.items()
    ]


# ---------------------------------------------------------------- fields of one charge

NOT_INTEGERS = {
    "decimal-string": "49.99",
    "integral-decimal-string": "4999.0",
    "empty-string": "",
    "minus-string": "-4999",
    "plus-string": "+4999",
    "leading-space-string": " 4999",
    "trailing-space-string": "4999 ",
    "trailing-newline-string": "4999\n",
    "inner-space-string": "4 999",
    "thousands-separator-string": "4,999",
    "underscore-string": "4_999",
    "exponent-string": "5e3",
    "hex-string": "0x10",
    "leading-zero-string": "04999",
    "zeros-string": "00",
    "arabic-indic-digits-string": "\u0664\u0669\u0669\u0669",
    "full-width-digits-string": "\uff14\uff19\uff19\uff19",
    "superscript-digit-string": "\u00b2",
    "17-digit-string": "1" * 17,
    "4300-digit-string": "9" * 4300,
    "nul-after-digits-string": "4999\x00",
    "word-string": "four thousand",
    "float": 49.99,
    "tiny-fraction": 4999.000001,
    "true": True,
    "false": False,
    "null": None,
    "array": [4999],
    "object": {"value": 4999},
}

BAD_IDENTIFIER_TEXT = {
    "empty": "",
    "blank": "   ",
    "tab-only": "\t",
    "nul": "user\x0042",
    "escape-sequence": "\x1b[31muser",
    "cr-lf": "user\r\n42",
    "del": "user\x7f",
    "c1-control": "user\x85",
    "zero-width-space": "user\u200b42",
    "zero-width-joiner": "user\u200d42",
    "rtl-override": "user\u202e24",
    "bom": "\ufeffuser_42",
    "line-separator": "user\u202842",
    "paragraph-separator": "user\u202942",
    "lone-high-surrogate": "user\ud800",
    "lone-low-surrogate": "\udfffuser",
    "private-use": "user\ue000",
    "plane-15-private-use": "user\U000f0000",
    "noncharacter": "user\uffff",
    "tag-character": "user\U000e0001",
}


def charge_field_cases() -> list[Case]:
    cases: list[Case] = []
    for name, value in NOT_INTEGERS.items():
        cases.append(single(f"amount-{name}", 400, "amount", body=charge_with(amount=value)))
        if value is not None:  # a null created_at means "now", as when it is absent
            cases.append(single(f"created_at-{name}", 400, "created_at", body=charge_with(created_at=value)))
    cases += [
        single("amount-missing", 400, "amount", body=charge_with(amount=...)),
        single("amount-negative", 400, "amount", body=charge_with(amount=-1)),
        single("amount-very-negative", 400, "amount", body=charge_with(amount=-(10**30))),
        single("amount-above-10-to-15", 400, "amount", body=charge_with(amount=10**15 + 1)),
        single("amount-10-to-30", 400, "amount", body=charge_with(amount=10**30)),
        single("amount-4300-digits", 400, "amount", body=charge_with(amount=int("9" * 4300))),
        single("amount-beyond-int64", 400, "amount", body=charge_with(amount=2**63)),
        single("amount-nested-in-charge-object", 400, "amount",
               body={"user_id": "user_42", "charge": {"amount": 4999}}),
        single("amount-under-other-case", 400, "amount", body={"user_id": "user_42", "Amount": 4999}),
        single("created_at-negative", 400, "created_at", body=charge_with(created_at=-1)),
        single("created_at-zero", 400, "created_at", body=charge_with(created_at=0)),
        single("created_at-before-2000", 400, "created_at", body=charge_with(created_at=946_684_799)),
        single("created_at-two-days-ahead", 400, "created_at", body=charge_with(created_at=NOW + 2 * 86_400)),
        single("created_at-year-2286", 400, "created_at", body=charge_with(created_at=9_999_999_999)),
        single("created_at-milliseconds", 400, "created_at", body=charge_with(created_at=1_764_000_000_000)),
        single("created_at-milliseconds-of-2000", 400, "created_at", body=charge_with(created_at=946_684_800_000)),
        single("created_at-microseconds", 400, "created_at", body=charge_with(created_at=1_764_000_000_000_000)),
        single("created_at-nanoseconds", 400, "created_at", body=charge_with(created_at=1_764_000_000_000_000_000)),
        single("created_at-10-to-30", 400, "created_at", body=charge_with(created_at=10**30)),
        single("created_at-iso-8601", 400, "created_at", body=charge_with(created_at="2025-11-24T16:00:00Z")),
        single("created_at-fractional-seconds", 400, "created_at", body=charge_with(created_at=1_764_000_000.5)),
        single("update_session-string-true", 400, "update_session", body=charge_with(update_session="true")),
        single("update_session-string-no", 400, "update_session", body=charge_with(update_session="no")),
        single("update_session-one", 400, "update_session", body=charge_with(update_session=1)),
        single("update_session-zero", 400, "update_session", body=charge_with(update_session=0)),
        single("update_session-null", 400, "update_session", body=charge_with(update_session=None)),
        single("update_session-array", 400, "update_session", body=charge_with(update_session=[True])),
        single("no-identity", 400, "user_id", body=charge_with(user_id=...)),
        single("null-identity", 400, "user_id", body=charge_with(user_id=None, email=None)),
        single("identity-under-other-name", 400, "user_id", body=charge_with(user_id=..., userId="user_42")),
        single("user_id-number", 400, "user_id", body=charge_with(user_id=42)),
        single("user_id-float", 400, "user_id", body=charge_with(user_id=4.2)),
        single("user_id-true", 400, "user_id", body=charge_with(user_id=True)),
        single("user_id-array", 400, "user_id", body=charge_with(user_id=["user_42"])),
        single("user_id-object", 400, "user_id", body=charge_with(user_id={"id": "user_42"})),
        single("user_id-256-chars", 400, "user_id", body=charge_with(user_id="u" * 256)),
        single("user_id-256-accented-chars", 400, "user_id", body=charge_with(user_id="é" * 256)),
        single("user_id-256-emoji-over-1kb", 400, "user_id", body=charge_with(user_id="🙂" * 256)),
        single("user_id-3000-chars-over-dynamodb-key-limit", 400, "user_id", body=charge_with(user_id="u" * 3000)),
        single("user_id-blank-with-valid-email", 400, "user_id",
               body=charge_with(user_id=" ", email="ada@example.com")),
        single("email-number", 400, "email", body=charge_with(user_id=..., email=42)),
        single("email-true", 400, "email", body=charge_with(user_id=..., email=True)),
        single("email-array", 400, "email", body=charge_with(user_id=..., email=["ada@example.com"])),
        single("email-no-at", 400, "email", body=charge_with(user_id=..., email="ada.example.com")),
        single("email-no-domain-dot", 400, "email", body=charge_with(user_id=..., email="ada@localhost")),
        single("email-no-local-part", 400, "email", body=charge_with(user_id=..., email="@example.com")),
        single("email-no-domain", 400, "email", body=charge_with(user_id=..., email="ada@")),
        single("email-two-ats", 400, "email", body=charge_with(user_id=..., email="ada@@example.com")),
        single("email-space-inside", 400, "email", body=charge_with(user_id=..., email="ada lovelace@example.com")),
        single("email-double-dot", 400, "email", body=charge_with(user_id=..., email="ada@example..com")),
        single("email-leading-dot", 400, "email", body=charge_with(user_id=..., email=".ada@example.com")),
        single("email-display-name", 400, "email", body=charge_with(user_id=..., email="Ada <ada@example.com>")),
        single("email-two-addresses", 400, "email",
               body=charge_with(user_id=..., email="ada@example.com, bob@example.com")),
        single("email-domain-literal", 400, "email", body=charge_with(user_id=..., email="ada@[127.0.0.1]")),
        single("email-domain-hyphen-start", 400, "email", body=charge_with(user_id=..., email="ada@-example.com")),
        single("email-over-254-chars", 400, "email",
               body=charge_with(user_id=..., email="a@" + ".".join(["b" * 63] * 4) + ".com")),
        single("bad-email-beside-valid-user_id", 400, "email", body=charge_with(email="not-an-address")),
        single("every-field-wrong", 400, "update_session",
               body={"user_id": 1, "email": 2, "amount": "3", "created_at": "4", "update_session": "5"}),
    ]  # fmt: skip
    for name, value in BAD_IDENTIFIER_TEXT.items():
        cases.append(single(f"user_id-{name}", 400, "user_id", body=charge_with(user_id=value)))
        if value.strip():
            email = value.replace("user", "ada") + "@example.com"
            cases.append(single(f"email-{name}", 400, "email", body=charge_with(user_id=..., email=email)))
    return cases


# ---------------------------------------------------------------- bulk structure


def bulk_cases() -> list[Case]:
    return [
        bulk("charges-missing", 400, "charges", body=bulk_with(charges=...)),
        bulk("charges-null", 400, "charges", body=bulk_with(charges=None)),
        bulk("charges-empty", 400, "charges", body=bulk_with(charges=[])),
        bulk("charges-object", 400, "charges", body=bulk_with(charges={"amount": 1})),
        bulk("charges-string", 400, "charges", body=bulk_with(charges="[]")),
        bulk("charges-number", 400, "charges", body=bulk_with(charges=3)),
        bulk("charges-1001", 400, "charges", body=bulk_with(charges=[{"amount": 1}] * 1001)),
        bulk("charges-5000", 400, "charges", body=bulk_with(charges=[{"amount": 1}] * 5000)),
        bulk("charge-number", 400, "charges[0]", body=bulk_with(charges=[1])),
        bulk("charge-null", 400, "charges[1]", body=bulk_with(charges=[{"amount": 1}, None])),
        bulk("charge-string", 400, "charges[0]", body=bulk_with(charges=['{"amount": 1}'])),
        bulk("charge-array", 400, "charges[0]", body=bulk_with(charges=[[{"amount": 1}]])),
        bulk("charge-empty-object", 400, "charges[0].amount", body=bulk_with(charges=[{}])),
        bulk("charges-under-other-name", 400, "charges", body={"user_id": "user_42", "items": [{"amount": 1}]}),
        bulk("single-charge-shape-sent-to-bulk", 400, "charges", body=ONE_CHARGE),
        bulk("no-identity", 400, "user_id", body=bulk_with(user_id=...)),
        bulk("identity-only-inside-charges", 400, "user_id",
             body={"charges": [{"user_id": "user_42", "amount": 1}]}),
        bulk("user_id-number", 400, "user_id", body=bulk_with(user_id=42)),
        bulk("user_id-control-char", 400, "user_id", body=bulk_with(user_id="user\x0042")),
        bulk("user_id-too-long", 400, "user_id", body=bulk_with(user_id="u" * 256)),
        bulk("email-invalid", 400, "email", body=bulk_with(user_id=..., email="ada@")),
        bulk("amount-signed-string-first", 400, "charges[0].amount", body=charges_with(0, amount="-1")),
        bulk("amount-float-middle", 400, "charges[4].amount", body=charges_with(4, amount=1.5)),
        bulk("amount-bool-last", 400, "charges[9].amount", body=charges_with(9, amount=True)),
        bulk("amount-missing", 400, "charges[3].amount", body=charges_with(3, amount=...)),
        bulk("amount-negative", 400, "charges[2].amount", body=charges_with(2, amount=-5)),
        bulk("amount-too-large", 400, "charges[6].amount", body=charges_with(6, amount=10**15 + 1)),
        bulk("amount-bad-at-999-of-1000", 400, "charges[999].amount", body=charges_with(999, 1000, amount="1.0")),
        bulk("amount-bad-at-500-of-1000", 400, "charges[500].amount", body=charges_with(500, 1000, amount=None)),
        bulk("created_at-milliseconds", 400, "charges[2].created_at",
             body=charges_with(2, created_at=1_764_000_000_000)),
        bulk("created_at-negative", 400, "charges[1].created_at", body=charges_with(1, created_at=-1)),
        bulk("created_at-before-2000", 400, "charges[5].created_at", body=charges_with(5, created_at=900_000_000)),
        bulk("created_at-future", 400, "charges[7].created_at", body=charges_with(7, created_at=NOW + 3 * 86_400)),
        bulk("created_at-spaced-string", 400, "charges[8].created_at", body=charges_with(8, created_at=" 1764000000")),
        bulk("created_at-milliseconds-string", 400, "charges[0].created_at",
             body=charges_with(0, created_at="1764000000000")),
        bulk("amount-string-above-10-to-15", 400, "charges[1].amount", body=charges_with(1, amount="1000000000000001")),
        bulk("update_session-string", 400, "charges[1].update_session", body=charges_with(1, update_session="no")),
        bulk("update_session-number", 400, "charges[3].update_session", body=charges_with(3, update_session=0)),
        bulk("duplicate-key-inside-a-charge", 400, "amount",
             raw='{"user_id": "user_42", "charges": [{"amount": 1}, {"amount": 2, "amount": 3}]}'),
        bulk("duplicate-charges-key", 400, "charges",
             raw='{"user_id": "user_42", "charges": [{"amount": 1}], "charges": [{"amount": 2}]}'),
        bulk("nan-amount-in-a-charge", 400, "body", raw='{"user_id": "user_42", "charges": [{"amount": NaN}]}'),
        bulk("huge-number-in-a-charge", 400, "body",
             raw='{"user_id": "user_42", "charges": [{"amount": ' + "1" * 4400 + "}]}"),
        bulk("charges-nested-too-deep", 400, "body",
             raw='{"user_id": "user_42", "charges": [' + "[" * 40 + "]" * 40 + "]}"),
    ]  # fmt: skip


# ---------------------------------------------------------------- single-endpoint JSON oddities


def json_oddity_cases() -> list[Case]:
    return [
        single("duplicate-amount", 400, "amount", raw='{"user_id": "u", "amount": 1, "amount": 2}'),
        single("duplicate-amount-same-value", 400, "amount", raw='{"user_id": "u", "amount": 1, "amount": 1}'),
        single("duplicate-user_id", 400, "user_id", raw='{"user_id": "a", "user_id": "b", "amount": 1}'),
        single("duplicate-via-unicode-escape", 400, "amount", raw='{"user_id": "u", "amount": 1, "\\u0061mount": 2}'),
        single("duplicate-surrogate-key", 400, "\\ud800",
               raw='{"user_id": "u", "amount": 1, "\\ud800": 1, "\\ud800": 2}'),
        single("duplicate-empty-key", 400, '""', raw='{"user_id": "u", "amount": 1, "": 1, "": 2}'),
        single("duplicate-in-ignored-object", 400, "a", raw='{"user_id": "u", "amount": 1, "meta": {"a": 1, "a": 2}}'),
        single("nan-amount", 400, "body", raw='{"user_id": "u", "amount": NaN}'),
        single("infinity-amount", 400, "body", raw='{"user_id": "u", "amount": Infinity}'),
        single("minus-infinity-created_at", 400, "body", raw='{"user_id": "u", "amount": 1, "created_at": -Infinity}'),
        single("leading-zero-amount", 400, "body", raw='{"user_id": "u", "amount": 0100}'),
        single("hex-amount", 400, "body", raw='{"user_id": "u", "amount": 0x10}'),
        single("plus-sign-amount", 400, "body", raw='{"user_id": "u", "amount": +1}'),
        single("amount-exponent-with-fraction", 400, "amount", raw='{"user_id": "u", "amount": 1.5e-3}'),
        single("amount-fraction-beyond-float-precision", 400, "amount",
               raw='{"user_id": "u", "amount": 1000.0000000000000001}'),
        single("amount-negative-float", 400, "amount", raw='{"user_id": "u", "amount": -1.0}'),
        # a float would round this to 1764000000.0 and take it for an integer
        single("created_at-fraction-below-float-precision", 400, "created_at",
               raw='{"user_id": "u", "amount": 1, "created_at": 1764000000.0000001}'),
        single("amount-beyond-2-to-53-integral", 400, "amount", raw='{"user_id": "u", "amount": 9007199254740993.0}'),
        single("amount-1e16", 400, "amount", raw='{"user_id": "u", "amount": 1e16}'),
        single("created_at-float-milliseconds", 400, "created_at",
               raw='{"user_id": "u", "amount": 1, "created_at": 1.764e12}'),
        single("amount-1e400", 400, "amount", raw='{"user_id": "u", "amount": 1e400}'),
        single("amount-5000-digits", 400, "body", raw='{"user_id": "u", "amount": ' + "1" * 5000 + "}"),
        single("created_at-5000-digits", 400, "body",
               raw='{"user_id": "u", "amount": 1, "created_at": ' + "1" * 5000 + "}"),
        single("escaped-nul-in-user_id", 400, "user_id", raw='{"user_id": "a\\u0000b", "amount": 1}'),
        single("undefined-literal", 400, "body", raw='{"user_id": "u", "amount": undefined}'),
        single("python-none-literal", 400, "body", raw='{"user_id": "u", "amount": None}'),
        single("python-true-literal", 400, "body", raw='{"user_id": "u", "amount": 1, "update_session": True}'),
        single("bom-inside-body", 400, "body", raw='{"user_id": "u",\ufeff "amount": 1}'),
        single("nbsp-as-whitespace", 400, "body", raw='{"user_id": "u",\u00a0"amount": 1}'),
        single("unterminated-string", 400, "body", raw='{"user_id": "u, "amount": 1}'),
        single("invalid-escape", 400, "body", raw='{"user_id": "\\x41", "amount": 1}'),
        single("nested-40-deep-in-user_id", 400, "body", raw='{"user_id": ' + "[" * 40 + "]" * 40 + ', "amount": 1}'),
    ]  # fmt: skip


# ---------------------------------------------------------------- routes and methods (served by the $default route)


def route_cases() -> list[Case]:
    return [
        single("get-charges", 405, "method", body=ONE_CHARGE, method="GET"),
        single("put-charges", 405, "method", body=ONE_CHARGE, method="PUT"),
        single("patch-charges", 405, "method", body=ONE_CHARGE, method="PATCH"),
        single("delete-charges", 405, "method", body=ONE_CHARGE, method="DELETE"),
        single("get-charges-bulk", 405, "method", body=BULK, method="GET", path="/charges/bulk"),
        single("put-charges-bulk", 405, "method", body=BULK, method="PUT", path="/charges/bulk"),
        single("post-customers-summary", 405, "method", body=ONE_CHARGE, path="/customers/summary"),
        single("singular-path", 404, "path", body=ONE_CHARGE, path="/charge"),
        single("trailing-slash", 404, "path", body=ONE_CHARGE, path="/charges/"),
        single("upper-case-path", 404, "path", body=ONE_CHARGE, path="/CHARGES"),
        single("nested-path", 404, "path", body=ONE_CHARGE, path="/charges/bulk/extra"),
        single("path-with-key", 404, "path", body=ONE_CHARGE, path=f"/charges/{PUBLIC_KEY}"),
        single("root-path", 404, "path", body=ONE_CHARGE, path="/"),
    ]


CORPUS: list[Case] = [
    *body_cases("single", ONE_CHARGE),
    *body_cases("bulk", BULK),
    *media_type_cases("single", ONE_CHARGE),
    *media_type_cases("bulk", BULK),
    *key_cases("single", ONE_CHARGE),
    *key_cases("bulk", BULK),
    *idempotency_cases("single", ONE_CHARGE),
    *idempotency_cases("bulk", BULK),
    *charge_field_cases(),
    *bulk_cases(),
    *json_oddity_cases(),
    *route_cases(),
]


def build_event(case: Case) -> dict[str, Any]:
    _, event_name = HANDLERS[case.endpoint]
    headers: dict[str, str | None] = {**BASE_HEADERS, **case.headers}
    kwargs: dict[str, Any] = {"headers": headers, "query": case.query, "method": case.method, "path": case.path}
    if case.raw is not None:
        event = http_event(event_name, raw_body=case.raw, **kwargs)
    elif case.body is ...:
        event = http_event(event_name, **kwargs)
        event.pop("body", None)
    else:
        # a lone surrogate cannot be sent raw; json.dumps escapes it as the client would
        event = http_event(event_name, body=case.body, **kwargs)
    if case.base64_flag is not None:
        event["isBase64Encoded"] = case.base64_flag
    return event


@pytest.fixture(scope="module")
def corpus_tables() -> Iterator[Tables]:
    """One set of moto tables for the whole corpus (per worker): no case may write, so they stay empty.

    Creating the tables for each of several hundred cases would dominate the suite's time; a case that
    wrongly wrote would fail itself (and, as the tables are no longer empty, the cases after it).
    """
    with pytest.MonkeyPatch.context() as patch, mock_aws():
        patch.setenv("AWS_DEFAULT_REGION", "us-east-1")
        for env_name, logical_id in table_env_names().items():
            patch.setenv(env_name, f"test-{logical_id}")
        reset_caches()
        client = boto3.client("dynamodb", region_name="us-east-1")
        names = create_tables(client)
        seed_keys()
        reset_caches()
        yield Tables(client=client, names=names)


def test_the_corpus_holds_at_least_200_distinct_cases():
    ids = [case.id for case in CORPUS]
    assert len(ids) == len(set(ids)), "case ids must be unique"
    events = [build_event(case) for case in CORPUS]
    for event in events:
        event["requestContext"]["requestId"] = None
    requests = {json.dumps(event, sort_keys=True) for event in events}
    assert len(requests) == len(CORPUS), "two cases send the same request"
    assert len(CORPUS) >= 200


@pytest.mark.parametrize("case", CORPUS, ids=[case.id for case in CORPUS])
def test_bad_input_is_refused_with_a_4xx_naming_the_field_and_nothing_is_written(corpus_tables, case):
    tables = corpus_tables
    handler, _ = HANDLERS[case.endpoint]
    if case.method is not None or case.path is not None:
        handler = create_charge  # API Gateway sends every other route to the $default route's function

    answer = call(handler, build_event(case))

    assert 400 <= answer.status < 500, answer.body
    assert answer.status == case.status, answer.body
    assert answer.headers["content-type"] == "application/json"
    assert set(answer.body) == {"success", "code", "data", "errors"}
    assert answer.body["success"] is False
    assert answer.body["code"] == case.status
    assert answer.body["data"] is None
    assert answer.body["errors"], "at least one error"
    for error in answer.body["errors"]:
        assert set(error) == {"field", "message"}
        assert error["field"] and error["message"]
        error["message"].encode("utf-8")  # printable: no lone surrogate echoed back
    messages = {error["field"]: error["message"] for error in answer.body["errors"]}
    assert case.field in messages, answer.body
    if case.field not in {"body", "api_key", "method", "path"}:
        assert case.field in messages[case.field], "the message names the field it is about"
    assert tables.charges() == []
    assert tables.items("IdempotencyTable") == []


ISO_DATE = "must be UNIX seconds (an integer such as 1764057600), not an ISO 8601 date; bin/beacon import converts"
TOP_LEVEL = "belongs at the top level of a bulk request, beside charges, not inside charges["


@pytest.mark.parametrize(
    ("endpoint", "body", "field", "words"),
    [
        ("bulk", {"charges": [{"amount": 1}, {"user_id": "user_42", "amount": 2}]}, "user_id", TOP_LEVEL + "1]"),
        ("bulk", {"charges": [{"email": "ada@example.com", "amount": 1}]}, "email", TOP_LEVEL + "0]"),
        ("single", charge_with(created_at="2025-11-24T16:00:00Z"), "created_at", ISO_DATE),
        ("single", charge_with(created_at="2025-11-24"), "created_at", ISO_DATE),
        ("bulk", charges_with(3, created_at="2025-11-24T17:00:00+01:00"), "charges[3].created_at", ISO_DATE),
    ],
)
def test_a_customer_inside_a_bulk_charge_or_a_date_is_refused_saying_what_to_send(
    corpus_tables, endpoint, body, field, words
):
    handler, event_name = HANDLERS[endpoint]

    answer = call(handler, http_event(event_name, body=body, headers=BASE_HEADERS))

    assert answer.status == 400, answer.body
    [error] = answer.body["errors"]
    assert error["field"] == field
    assert error["message"].startswith(f"{field} ") and words in error["message"], error["message"]
    assert corpus_tables.charges() == []
    assert corpus_tables.items("IdempotencyTable") == []
