"""Reading an import file: CSV with a header row, or JSON lines; one charge per row.

Every row is validated with ``CreateChargeRequest``, the model the API validates ``POST /charges``
with, so a row refused here is one the API would refuse, with the same field and message. Before
that, values are read as the file type writes them: a CSV cell is text, so ``1000`` is read as an
integer, ``10.5`` as a number and ``true``/``false`` as a boolean (anything else stays text, which
the model refuses where it wants a number). In both formats a ``created_at`` written in ISO 8601
with a time zone is converted to UNIX seconds.

An id column (``charge_id``, else ``id``, as payment exports name it) becomes each charge's
``charge_id``: the API then stores each charge once, whatever is sent again, and a row whose
customer already has that ``charge_id`` on an earlier line is rejected (the API would refuse the
whole request holding both). A JSON integer id is sent as its digits; a CSV cell is trimmed.
"""

import csv
import io
import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from pydantic import ValidationError

from beacon.logic.identity import identify_customer
from beacon.models.parsing import to_field_errors
from beacon.models.requests import CreateChargeRequest

Format = Literal["csv", "jsonl"]

FIELDS = ("user_id", "email", "amount", "created_at", "update_session", "charge_id")
ID_COLUMNS = ("charge_id", "id")  # the first one the file has is the charge_id
_NUMERIC = ("amount", "created_at")
_INTEGER = re.compile(r"[+-]?[0-9]+")
_DECIMAL = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_BOOLEANS = {"true": True, "false": False}


class FileFormatError(ValueError):
    """The input cannot be read as an import file at all (no row can be imported)."""


@dataclass(frozen=True, slots=True)
class Charge:
    """A valid row: one charge of one customer, as the API will store it."""

    line: int
    user_id: str | None
    email: str | None
    amount: int
    created_at: int | None
    update_session: bool
    charge_id: str | None = None

    def bulk_item(self) -> dict[str, object]:
        """The charge's object in the ``charges`` array of a bulk request."""
        item: dict[str, object] = {"amount": self.amount}
        if self.created_at is not None:
            item["created_at"] = self.created_at
        item["update_session"] = self.update_session
        if self.charge_id is not None:
            item["charge_id"] = self.charge_id
        return item


@dataclass(frozen=True, slots=True)
class Reject:
    """A row that is not imported: its line, the field(s) at fault, why, and the row as the file has it."""

    line: int
    field: str
    message: str
    original: tuple[str, ...] | str  # CSV: the row's cells; JSON lines: the line's text


@dataclass
class ImportFile:
    """What a file holds: its format, the CSV header, the valid charges and the rejected rows, in file order."""

    format: Format
    header: tuple[str, ...] = ()
    rows: int = 0
    charges: list[Charge] = field(default_factory=list)
    rejects: list[Reject] = field(default_factory=list)


class _RowError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def detect_format(text: str) -> Format:
    """JSON lines when the first non-blank character opens an object, CSV otherwise."""
    return "jsonl" if text.lstrip().startswith("{") else "csv"


def read_rows(text: str, *, fmt: Format | None = None, update_session: bool = False) -> ImportFile:
    """Parse and validate every row; ``update_session`` is the value of rows that do not set it."""
    fmt = fmt or detect_format(text)
    parsed = ImportFile(format=fmt)
    rows = _csv_rows(text, parsed) if fmt == "csv" else _jsonl_rows(text)
    for line, original, values in rows:
        parsed.rows += 1
        try:
            if isinstance(values, _RowError):
                raise values
            parsed.charges.append(_charge(line, values, update_session))
        except _RowError as exc:
            parsed.rejects.append(Reject(line, exc.field, exc.message, original))
    _reject_repeated_charge_ids(parsed)
    return parsed


def _reject_repeated_charge_ids(parsed: ImportFile) -> None:
    """Keep the first row of each (customer, charge_id); the later ones become rejects naming that line."""
    first: dict[tuple[str, str], int] = {}
    kept: list[Charge] = []
    for charge in parsed.charges:
        if charge.charge_id is None:
            kept.append(charge)
            continue
        key = (identify_customer(charge.user_id, charge.email), charge.charge_id)
        if key in first:
            message = f"charge_id {charge.charge_id!r} is on line {first[key]} already, for the same customer"
            parsed.rejects.append(Reject(charge.line, "charge_id", message, ""))
            continue
        first[key] = charge.line
        kept.append(charge)
    parsed.charges = kept


def originals(text: str, fmt: Format, lines: set[int]) -> dict[int, tuple[str, ...] | str]:
    """The rows that start on ``lines``, as the file has them (for the rejects file)."""
    rows = _csv_rows(text, ImportFile(format=fmt)) if fmt == "csv" else _jsonl_rows(text)
    return {line: original for line, original, _ in rows if line in lines}


def _csv_rows(text: str, parsed: ImportFile) -> list[tuple[int, tuple[str, ...], dict[str, Any] | _RowError]]:
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader, None)
    if header is None:
        raise FileFormatError("the file is empty: the first line must be a header naming the columns")
    parsed.header = tuple(name.strip().lower() for name in header)
    if "amount" not in parsed.header or not {"user_id", "email"} & set(parsed.header):
        raise FileFormatError(
            f"the header must name an amount column and a user_id or email column; it names {', '.join(parsed.header)}"
        )
    names = _field_names(parsed.header)
    rows: list[tuple[int, tuple[str, ...], dict[str, Any] | _RowError]] = []
    end = reader.line_num
    for cells in reader:
        start, end = end + 1, reader.line_num
        if not cells:
            continue
        if len(cells) > len(parsed.header):
            error = _RowError("row", f"the row has {len(cells)} cells; the header names {len(parsed.header)} columns")
            rows.append((start, tuple(cells), error))
            continue
        values = {
            name: _cell(name, cell)
            for name, cell in zip(names, cells, strict=False)
            if name and (cell.strip() if name == "charge_id" else cell)  # a blank id: a charge without one
        }
        rows.append((start, tuple(cells), values))
    return rows


def _field_names(header: tuple[str, ...]) -> list[str | None]:
    """The field each column holds (``None``: ignored); the id column is the first of ``ID_COLUMNS`` present."""
    id_column = next((name for name in ID_COLUMNS if name in header), None)
    return [
        "charge_id" if name == id_column else (name if name in FIELDS and name != "charge_id" else None)
        for name in header
    ]


def _cell(name: str, cell: str) -> object:
    """A CSV cell as the JSON value it stands for; text that is neither stays text for the model to judge."""
    text = cell.strip()
    if name in _NUMERIC:
        if _INTEGER.fullmatch(text):
            return int(text)
        if _DECIMAL.fullmatch(text):
            return float(text)
    if name == "update_session":
        return _BOOLEANS.get(text.lower(), cell)
    if name == "charge_id":
        return text
    return cell


def _jsonl_rows(text: str) -> list[tuple[int, str, dict[str, Any] | _RowError]]:
    rows: list[tuple[int, str, dict[str, Any] | _RowError]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line, object_pairs_hook=_no_duplicate_keys, parse_constant=_no_constant)
        except _RowError as exc:
            rows.append((number, line, exc))
            continue
        except json.JSONDecodeError as exc:
            rows.append(
                (number, line, _RowError("row", f"the line is not valid JSON: {exc.msg} at column {exc.colno}"))
            )
            continue
        if not isinstance(value, dict):
            rows.append((number, line, _RowError("row", "each line must be a JSON object")))
            continue
        rows.append((number, line, _json_fields(value)))
    return rows


def _json_fields(value: dict[str, Any]) -> dict[str, Any]:
    fields = {name: value[name] for name in FIELDS if name in value and name != "charge_id"}
    charge_id = next((value[name] for name in ID_COLUMNS if value.get(name) is not None), None)
    if charge_id is not None:
        # an integer id (a database's) is sent as its digits: the API takes a charge_id as text
        is_integer = isinstance(charge_id, int) and not isinstance(charge_id, bool)
        fields["charge_id"] = str(charge_id) if is_integer else charge_id
    return fields


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise _RowError(key, f"the key '{key}' appears twice in one JSON object")
        seen[key] = value
    return seen


def _no_constant(name: str) -> None:
    raise _RowError("row", f"{name} is not a JSON number")


def _charge(line: int, values: dict[str, Any], update_session: bool) -> Charge:
    problems: list[tuple[str, str]] = []
    created_at = values.get("created_at")
    if isinstance(created_at, str) and not created_at.strip().isdigit():
        try:
            values["created_at"] = iso_to_seconds(created_at)
        except _RowError as exc:
            problems.append((exc.field, exc.message))
            del values["created_at"]  # reported above; the model still checks every other field
    values.setdefault("update_session", update_session)
    try:
        request = CreateChargeRequest.model_validate(values)
    except ValidationError as exc:
        problems += [(error.field, error.message) for error in to_field_errors(exc)]
    if problems:
        problems.sort(key=lambda problem: FIELDS.index(problem[0]) if problem[0] in FIELDS else len(FIELDS))
        fields = ", ".join(dict.fromkeys(name for name, _ in problems))
        raise _RowError(fields, "; ".join(message for _, message in problems))
    return Charge(
        line=line,
        user_id=request.user_id,
        email=request.email,
        amount=request.amount,
        created_at=request.created_at,
        update_session=request.update_session,
        charge_id=request.charge_id,
    )


def iso_to_seconds(text: str) -> int:
    """``2025-11-25T10:00:00Z`` (or any ISO 8601 date and time with a time zone) as UNIX seconds."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise _RowError(
            "created_at",
            f"created_at must be UNIX seconds or an ISO 8601 date and time such as 2025-11-25T10:00:00Z, got {text!r}",
        ) from None
    if moment.tzinfo is None:
        raise _RowError(
            "created_at", f"created_at {text!r} has no time zone: add Z for UTC or an offset such as +01:00"
        )
    return int(moment.timestamp())
