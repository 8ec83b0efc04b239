"""Reading import files (CSV and JSON lines), grouping their rows into bulk requests, and the requests' keys."""

import json

import pytest

from ops.importer.chunks import MAX_BODY_BYTES, chunk_key, file_digest, make_chunks
from ops.importer.rows import Charge, FileFormatError, iso_to_seconds, read_rows

HEADER = "user_id,email,amount,created_at,update_session\n"


def rejects_by_line(text: str, **kwargs: object) -> dict[int, tuple[str, str]]:
    return {r.line: (r.field, r.message) for r in read_rows(text, **kwargs).rejects}  # type: ignore[arg-type]


# ---------------------------------------------------------------- CSV


@pytest.mark.parametrize(
    ("text", "ids"),
    [
        ("charge_id,user_id,amount\n inv-1 ,u1,1\n,u1,2\n   ,u1,3\n", ["inv-1", None, None]),
        ("id,user_id,amount\nch_3MmlLrLkdIwHu7ix0snN0B15,u1,1\n", ["ch_3MmlLrLkdIwHu7ix0snN0B15"]),
        ("id,charge_id,user_id,amount\nrow-1,inv-1,u1,1\n", ["inv-1"]),  # charge_id wins over id
        ("user_id,amount\nu1,1\n", [None]),
        (
            '{"user_id": "u1", "amount": 1, "charge_id": "inv-1"}\n{"user_id": "u1", "amount": 2, "id": 1001}\n',
            ["inv-1", "1001"],
        ),
    ],
    ids=["charge_id-column", "id-column", "both-columns", "no-id-column", "json-lines"],
)
def test_an_id_column_is_each_charge_id(text, ids):
    parsed = read_rows(text)

    assert parsed.rejects == []
    assert [c.charge_id for c in parsed.charges] == ids
    assert [c.bulk_item().get("charge_id") for c in parsed.charges] == ids


def test_a_charge_id_the_api_would_refuse_is_a_reject_naming_it():
    parsed = read_rows("charge_id,user_id,amount\ncafé,u1,1\n" + "x" * 256 + ",u1,2\n")

    assert [(r.line, r.field) for r in parsed.rejects] == [(2, "charge_id"), (3, "charge_id")]
    assert parsed.charges == []


def test_a_charge_id_repeated_for_one_customer_keeps_the_first_row():
    text = "charge_id,user_id,email,amount\na,u1,,1\na,,x@example.com,2\na,u1,other@example.com,3\nb,u1,,4\n"

    parsed = read_rows(text)

    assert [(c.line, c.charge_id) for c in parsed.charges] == [(2, "a"), (3, "a"), (5, "b")]
    assert [(r.line, r.field) for r in parsed.rejects] == [(4, "charge_id")]  # u1 again, whatever its email


def test_csv_cells_become_the_json_values_they_stand_for():
    parsed = read_rows(HEADER + "u1,Ada@Example.com,4999,1764057600,true\n,grace@example.com,0,,\n")

    assert parsed.format == "csv"
    assert parsed.rows == 2
    assert parsed.rejects == []
    assert parsed.charges == [
        Charge(line=2, user_id="u1", email="ada@example.com", amount=4999, created_at=1764057600, update_session=True),
        Charge(line=3, user_id=None, email="grace@example.com", amount=0, created_at=None, update_session=False),
    ]


def test_rows_without_update_session_take_the_commands_default():
    text = HEADER + "u1,,1,,\nu1,,2,,false\n"

    assert [c.update_session for c in read_rows(text).charges] == [False, False]
    assert [c.update_session for c in read_rows(text, update_session=True).charges] == [True, False]


def test_iso_8601_created_at_is_converted_to_unix_seconds():
    text = HEADER + "u1,,1,2025-11-25T08:00:00Z,\nu1,,2,2025-11-25T10:00:00+02:00,\nu1,,3,2025-11-25T08:00:00.900Z,\n"

    assert [c.created_at for c in read_rows(text).charges] == [1764057600, 1764057600, 1764057600]
    assert iso_to_seconds(" 2025-11-25T08:00:00Z ") == 1764057600


@pytest.mark.parametrize(
    ("row", "field", "message"),
    [
        (
            "u1,,100,1764057600000,",
            "created_at",
            "created_at must be UNIX seconds; 1764057600000 looks like milliseconds (divide by 1000)",
        ),
        ("u1,,10.5,,", "amount", "amount must be an integer, got a number"),
        ("u1,,abc,,", "amount", "amount must be an integer or a string of digits"),
        ("u1,,-5,,", "amount", "amount must be at least 0"),
        ("u1,,,,", "amount", "amount is required"),
        (",,100,,", "user_id", "user_id or email is required"),
        (",not-an-address,100,,", "email", "email is not a valid e-mail address"),
        ("u1,,100,,maybe", "update_session", "update_session must be true or false, got a string"),
        (
            "u1,,100,2025-11-25T08:00:00,",
            "created_at",
            "created_at '2025-11-25T08:00:00' has no time zone: add Z for UTC or an offset such as +01:00",
        ),
        ("u1,,100,yesterday,", "created_at", "created_at must be UNIX seconds or an ISO 8601 date and time"),
        ("u1,,100,1764057600,true,extra", "row", "the row has 6 cells; the header names 5 columns"),
    ],
)
def test_a_bad_csv_row_is_rejected_with_the_field_and_the_apis_message(row, field, message):
    parsed = read_rows(HEADER + "ok,,1,,\n" + row + "\n")

    assert [c.line for c in parsed.charges] == [2]
    [reject] = parsed.rejects
    assert (reject.line, reject.field) == (3, field)
    assert reject.message.startswith(message)
    assert reject.original == tuple(row.split(","))


def test_every_problem_of_a_row_is_named_in_column_order():
    [reject] = read_rows(HEADER + "u1,,10.5,soon,maybe\n").rejects

    assert reject.field == "amount, created_at, update_session"
    assert reject.message.count(";") == 2


def test_csv_line_numbers_count_quoted_newlines_and_blank_lines():
    text = 'note,user_id,amount\n"two\nlines",u1,1\n\n,u2,x\n'

    parsed = read_rows(text)

    assert [c.line for c in parsed.charges] == [2]
    assert [r.line for r in parsed.rejects] == [5]


def test_column_names_are_read_without_case_or_surrounding_spaces():
    parsed = read_rows(" User_ID ,AMOUNT\nu1,5\n")

    assert [(c.user_id, c.amount) for c in parsed.charges] == [("u1", 5)]


def test_other_columns_are_ignored_so_a_fixed_rejects_file_imports_as_it_is():
    parsed = read_rows("line,field,message,user_id,amount\n7,amount,bad,u1,100\n")

    assert [(c.user_id, c.amount) for c in parsed.charges] == [("u1", 100)]


@pytest.mark.parametrize("text", ["", "user_id,email,created_at\nu1,,1\n", "email_address,amount\na@example.com,1\n"])
def test_a_csv_without_an_amount_or_identity_column_is_refused_as_a_whole(text):
    with pytest.raises(FileFormatError):
        read_rows(text, fmt="csv")


# ---------------------------------------------------------------- JSON lines


def test_json_lines_are_read_as_json():
    text = (
        '{"user_id": "u1", "amount": 5, "created_at": "2025-11-25T08:00:00Z", "other": 1}\n\n'
        '{"email": "a@example.com", "amount": 7, "update_session": true}\n'
    )

    parsed = read_rows(text)

    assert parsed.format == "jsonl"
    assert parsed.charges == [
        Charge(line=1, user_id="u1", email=None, amount=5, created_at=1764057600, update_session=False),
        Charge(line=3, user_id=None, email="a@example.com", amount=7, created_at=None, update_session=True),
    ]


@pytest.mark.parametrize(
    ("line", "field", "message"),
    [
        ('{"user_id": "u1", "amount": 1.5}', "amount", "amount must be an integer, got a number"),
        ('{"user_id": "u1", "amount": true}', "amount", "amount must be an integer, got a boolean"),
        (
            '{"user_id": "u1", "amount": 1, "created_at": 1764057600000}',
            "created_at",
            "created_at must be UNIX seconds; 1764057600000 looks like milliseconds",
        ),
        ('{"amount": 1}', "user_id", "user_id or email is required"),
        ('{"user_id": "u1", "amount": 1, "amount": 2}', "amount", "the key 'amount' appears twice"),
        ('{"user_id": "u1", "amount": NaN}', "row", "NaN is not a JSON number"),
        ('["u1", 1]', "row", "each line must be a JSON object"),
        ('{"user_id": "u1", "amount": 1', "row", "the line is not valid JSON"),
    ],
)
def test_a_bad_json_line_is_rejected_with_its_text(line, field, message):
    text = '{"user_id": "ok", "amount": 1}\n' + line + "\n"

    parsed = read_rows(text, fmt="jsonl")

    [reject] = parsed.rejects
    assert (reject.line, reject.field, reject.original) == (2, field, line)
    assert reject.message.startswith(message)


# ---------------------------------------------------------------- chunks and keys


def charge(line: int, user_id: str | None = "u1", email: str | None = None, amount: int = 1) -> Charge:
    return Charge(line, user_id, email, amount, 1764057600, False)


def test_rows_are_grouped_by_customer_in_order_of_first_appearance():
    rows = [charge(2, "a"), charge(3, "b"), charge(4, "a"), charge(5, None, "x@example.com"), charge(6, "a", "y@e.co")]

    chunks = make_chunks(rows, "d" * 64)

    assert [(c.user_id, c.email, [r.line for r in c.charges]) for c in chunks] == [
        ("a", None, [2, 4]),
        ("b", None, [3]),
        (None, "x@example.com", [5]),
        ("a", "y@e.co", [6]),
    ]
    assert json.loads(chunks[0].body()) == {
        "user_id": "a",
        "charges": [
            {"amount": 1, "created_at": 1764057600, "update_session": False},
            {"amount": 1, "created_at": 1764057600, "update_session": False},
        ],
    }


def test_a_customer_with_more_than_1000_rows_is_cut_into_chunks_of_1000():
    chunks = make_chunks([charge(n) for n in range(2, 2502)], "d" * 64)

    assert [len(c.charges) for c in chunks] == [1000, 1000, 500]
    assert [c.charges[0].line for c in chunks] == [2, 1002, 2002]


def test_no_body_reaches_the_size_limit():
    rows = [charge(n, "u" * 255, amount=10**15) for n in range(2, 602)]
    one = len(make_chunks(rows[:1], "d" * 64)[0].body())
    limit = one * 100  # room for about a hundred charges

    chunks = make_chunks(rows, "d" * 64, max_bytes=limit)

    assert len(chunks) > 1
    assert all(len(c.body()) < limit for c in chunks)
    assert sum(len(c.charges) for c in chunks) == 600
    assert all(len(c.body()) < MAX_BODY_BYTES for c in make_chunks(rows, "d" * 64))


def test_keys_are_the_same_for_the_same_file_and_differ_between_chunks_and_files():
    data = (HEADER + "".join(f"u{n % 3},,{n},,\n" for n in range(3003))).encode()
    first = make_chunks(read_rows(data.decode()).charges, file_digest(data))
    again = make_chunks(read_rows(data.decode()).charges, file_digest(data))
    edited = data + b"u9,,1,,\n"
    other = make_chunks(read_rows(edited.decode()).charges, file_digest(edited))

    assert [(c.key, c.body()) for c in first] == [(c.key, c.body()) for c in again]
    assert len({c.key for c in first}) == len(first) == 6
    assert not {c.key for c in first} & {c.key for c in other}
    assert all(1 <= len(c.key) <= 255 and c.key.isascii() and c.key.isprintable() for c in first)


def test_other_options_keep_the_keys_but_change_the_bodies_so_the_api_refuses_them():
    text = HEADER + "u1,,1,,\n"
    digest = file_digest(text.encode())
    historical = make_chunks(read_rows(text).charges, digest)
    tracked = make_chunks(read_rows(text, update_session=True).charges, digest)

    assert historical[0].key == tracked[0].key
    assert historical[0].body() != tracked[0].body()


def test_a_chunk_key_names_the_file_and_the_chunk():
    assert chunk_key("ab" * 32, "u1", None, 0).startswith("import-abababababab-")
    assert chunk_key("ab" * 32, "u1", None, 0) != chunk_key("ab" * 32, "u1", None, 1)
    assert chunk_key("ab" * 32, "u1", None, 0) != chunk_key("ab" * 32, None, "u1", 0)
