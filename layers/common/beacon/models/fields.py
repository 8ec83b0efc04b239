"""Field types and their checks: rules beyond types, as functions that raise ``ValueError`` with a user-facing message.

The request models are built from these types; the message is what an integrating developer reads in the
400 response.
"""

import math
import re
import time
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import AfterValidator, BeforeValidator, ConfigDict, Field, ValidationError, ValidationInfo

if TYPE_CHECKING:
    from pydantic import TypeAdapter

MIN_CREATED_AT = 946_684_800  # 2000-01-01T00:00:00Z
MAX_FUTURE_SECONDS = 24 * 60 * 60
# Year 5138 in seconds; any plausible millisecond timestamp lies between it and 1,000 times it (beyond: not ms).
MILLISECONDS_THRESHOLD = 100_000_000_000
MAX_AMOUNT = 10**15
MAX_USER_ID_CHARS = 255
MAX_EMAIL_CHARS = 254
MAX_INTEGER_DIGITS = 16  # enough for every amount (10^15) and every UNIX time in seconds
MAX_CHARGE_ID_CHARS = 255
# Printable ASCII (space to ~), neither starting nor ending with a space: " 42" and "42" would be two charges.
_CHARGE_ID = re.compile(r"[!-~](?:[ -~]*[!-~])?")
# "0", or ASCII digits without a leading zero ([0-9], not \d, which also matches other scripts' digits)
_DIGIT_STRING = re.compile(rf"0|[1-9][0-9]{{0,{MAX_INTEGER_DIGITS - 1}}}")
# A JSON number beyond this is refused before it becomes an int (1e999999999 would take gigabytes).
_MAX_NUMBER_EXPONENT = 100
_MAX_DATE_CHARS = 64  # longer than any ISO 8601 date and time


def check_created_at(value: int, now: float) -> int:
    """Accept UNIX seconds from 2000-01-01 up to 24 hours after ``now``."""
    if value < 0:
        raise ValueError(f"created_at must be UNIX seconds, not negative; got {value}")
    if MILLISECONDS_THRESHOLD <= value < MILLISECONDS_THRESHOLD * 1000:
        raise ValueError(f"created_at must be UNIX seconds; {value} looks like milliseconds (divide by 1000)")
    if value < MIN_CREATED_AT:
        raise ValueError(f"created_at must be on or after 2000-01-01 ({MIN_CREATED_AT}); got {value}")
    if value > now + MAX_FUTURE_SECONDS:
        raise ValueError(f"created_at must not be more than 24 hours in the future; got {value}")
    return value


@dataclass(frozen=True)
class RequestClock:
    """What a request's ``created_at`` values are checked against (the validation context's ``clock``).

    ``received_at`` is when the API received the request (UNIX seconds); ``offset`` is the client's
    clock error, ``received_at - sent_at``, when the request sent a valid ``sent_at`` (else 0).
    """

    received_at: int
    offset: int = 0

    @classmethod
    def at(cls, received_ms: int, sent_at: int | None = None) -> "RequestClock":
        """The clock of a request received at ``received_ms`` (UNIX ms) that says it was sent at ``sent_at``."""
        received_at = received_ms // 1000
        return cls(received_at=received_at, offset=0 if sent_at is None else received_at - sent_at)

    def correct(self, created_at: int) -> int:
        """``created_at`` as the API's clock tells it: the client's time plus its clock error."""
        return created_at + self.offset


def check_sent_at(value: int) -> int:
    """The client's clock when it sent the request, UNIX seconds: any such time, however wrong the clock."""
    if value < 0:
        raise ValueError(f"sent_at must be UNIX seconds, not negative; got {value}")
    if MILLISECONDS_THRESHOLD <= value < MILLISECONDS_THRESHOLD * 1000:
        raise ValueError(f"sent_at must be UNIX seconds; {value} looks like milliseconds (divide by 1000)")
    if value >= MILLISECONDS_THRESHOLD:
        raise ValueError(f"sent_at must be UNIX seconds, below {MILLISECONDS_THRESHOLD}; got {value}")
    return value


def check_charge_id(value: str) -> str:
    """The client's own id of a charge: 1 to 255 printable ASCII characters, kept exactly as sent."""
    if len(value) > MAX_CHARGE_ID_CHARS:
        raise ValueError(f"charge_id must be at most {MAX_CHARGE_ID_CHARS} characters; got {len(value)}")
    if not _CHARGE_ID.fullmatch(value):
        raise ValueError(
            "charge_id must be 1 to 255 printable ASCII characters (space to ~), not starting or ending with a space"
        )
    return value


# Control, format (zero-width, bidi), surrogate, private-use, line and paragraph separators. Code points
# that are unassigned in this runtime's Unicode version are kept (a client's newer Unicode may have
# assigned them: new emoji), but the 66 noncharacters, which never will be, are not.
FORBIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Zl", "Zp"})


def is_forbidden_in_identifiers(char: str) -> bool:
    """A character no identifier may hold (openapi.yaml's ``UserId`` pattern excludes the same set)."""
    code = ord(char)
    return unicodedata.category(char) in FORBIDDEN_CATEGORIES or 0xFDD0 <= code <= 0xFDEF or code & 0xFFFE == 0xFFFE


def json_integer(value: object, name: str) -> object:
    """The int that a digit string (``"1000"``) or an integral JSON number (``5000.0``, ``1e3``) denotes.

    Existing clients send integers as strings; JSON Schema counts a number with a zero fraction as an
    integer. Any other string or number is refused here, naming the field; every other type (booleans
    included) is returned as it is, for the strict integer check to refuse.
    """
    if isinstance(value, str):
        if _DIGIT_STRING.fullmatch(value):
            return int(value)
        raise ValueError(f'{name} must be an integer or a string of digits such as "1000"; {_what_is_wrong(value)}')
    if isinstance(value, Decimal):
        if value.is_finite() and value == value.to_integral_value():
            if value.adjusted() > _MAX_NUMBER_EXPONENT:
                raise ValueError(
                    f"{name} must be an integer of at most {MAX_INTEGER_DIGITS} digits; got a larger number"
                )
            return int(value)
        raise ValueError(f"{name} must be an integer, got a number with a fraction")
    if isinstance(value, float):
        if math.isfinite(value) and value.is_integer():
            return int(value)
        raise ValueError(f"{name} must be an integer, got a number with a fraction")
    return value


def _what_is_wrong(text: str) -> str:
    digits = text.lstrip("+-")
    if not text:
        return "got an empty string"
    if text != text.strip():
        return "got a string with spaces"
    if digits != text:
        return "got a string with a sign"
    if digits.isascii() and digits.isdigit():
        if len(digits) > MAX_INTEGER_DIGITS:
            return f"got a string of more than {MAX_INTEGER_DIGITS} digits"
        return "got a string with a leading zero"
    if digits.isdigit():
        return "got a string with digits other than 0-9"
    if "." in digits and digits.replace(".", "", 1).isdigit():
        return "got a string with a decimal point"
    return "got a string that holds more than digits"


def check_identifier_text(value: str, name: str) -> str:
    """Reject blank identifiers and those holding control, invisible or noncharacter code points."""
    if not value.strip():
        raise ValueError(f"{name} must not be empty or blank")
    for char in value:
        if is_forbidden_in_identifiers(char):
            raise ValueError(f"{name} must not contain control or invisible characters (found U+{ord(char):04X})")
    return value


def check_user_id(value: str) -> str:
    """A user id is opaque: kept exactly as sent, 1 to 255 characters, printable."""
    if len(value) > MAX_USER_ID_CHARS:
        raise ValueError(f"user_id must be at most {MAX_USER_ID_CHARS} characters; got {len(value)}")
    return check_identifier_text(value, "user_id")


def normalize_email(value: str) -> str:
    """Trim and lower-case an e-mail address, then check its syntax (no DNS look-up)."""
    email = value.strip().lower()
    if len(email) > MAX_EMAIL_CHARS:
        raise ValueError(f"email must be at most {MAX_EMAIL_CHARS} characters; got {len(email)}")
    check_identifier_text(email, "email")
    # Imported on first use: requests identified by user_id alone never pay for it at cold start.
    from email_validator import EmailNotValidError, validate_email

    try:
        validate_email(email, check_deliverability=False)
    except EmailNotValidError as exc:
        raise ValueError(f"email is not a valid e-mail address: {exc}") from None
    return email


def _created_at(value: int | None, info: ValidationInfo) -> int | None:
    """Checked as the API's clock tells it (corrected by ``sent_at``), kept as the client sent it."""
    if value is None:
        return None
    clock = (info.context or {}).get("clock")
    if not isinstance(clock, RequestClock):
        return check_created_at(value, time.time())
    if clock.offset == 0 or not 0 <= value < MILLISECONDS_THRESHOLD:  # negative or milliseconds: told as sent
        return check_created_at(value, clock.received_at)
    try:
        check_created_at(clock.correct(value), clock.received_at)
    except ValueError as exc:
        raise ValueError(f"{exc}, once corrected by sent_at ({value} as sent, {clock.offset:+d} s)") from None
    return value


def _sent_at(value: int | None) -> int | None:
    return None if value is None else check_sent_at(value)


def _integer(value: object, info: ValidationInfo) -> object:
    return json_integer(value, info.field_name or "value")


def created_at_integer(value: object) -> object:
    """``json_integer`` for ``created_at``, which says what to do with a date: the API takes UNIX seconds."""
    try:
        return json_integer(value, "created_at")
    except ValueError:
        if isinstance(value, str) and _is_iso_8601_date(value):
            raise ValueError(
                "created_at must be UNIX seconds (an integer such as 1764057600), not an ISO 8601 date; "
                "bin/beacon import converts ISO 8601 dates to UNIX seconds"
            ) from None
        raise


def _is_iso_8601_date(text: str) -> bool:
    if len(text) > _MAX_DATE_CHARS or not text[:4].isascii() or not text[:4].isdigit():
        return False
    try:
        datetime.fromisoformat(text.strip())
    except ValueError:
        return False
    return True


UserId = Annotated[str, AfterValidator(check_user_id)]
Email = Annotated[str, AfterValidator(normalize_email)]
Amount = Annotated[int, BeforeValidator(_integer), Field(ge=0, le=MAX_AMOUNT)]
CreatedAt = Annotated[int | None, BeforeValidator(created_at_integer), AfterValidator(_created_at)]
SentAt = Annotated[int | None, BeforeValidator(_integer), AfterValidator(_sent_at)]
ChargeId = Annotated[str, AfterValidator(check_charge_id)]


def request_clock(body: Mapping[str, Any], received_ms: int) -> dict[str, RequestClock]:
    """The validation context of a request received at ``received_ms``: its clock, with the client's
    clock error when the body holds a valid ``sent_at`` (an invalid one is reported by the model)."""
    if body.get("sent_at") is None:
        return {"clock": RequestClock.at(received_ms)}
    try:
        sent_at = _sent_at_adapter().validate_python(body["sent_at"])
    except ValidationError:
        sent_at = None
    return {"clock": RequestClock.at(received_ms, sent_at)}


@lru_cache(maxsize=1)
def _sent_at_adapter() -> "TypeAdapter[int | None]":
    # Imported by the first body that sends sent_at: most never do, and pydantic's TypeAdapter module is not
    # loaded at every cold start (docs/benchmarks.md, cold start).
    from pydantic import TypeAdapter

    return TypeAdapter(SentAt, config=ConfigDict(strict=True))
