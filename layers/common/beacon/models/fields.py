"""Field types and their checks: rules beyond types, as functions that raise ``ValueError`` with a user-facing message.

The request models are built from these types; the message is what an integrating developer reads in the
400 response.
"""

import time
import unicodedata
from typing import Annotated

from pydantic import AfterValidator, Field

MIN_CREATED_AT = 946_684_800  # 2000-01-01T00:00:00Z
MAX_FUTURE_SECONDS = 24 * 60 * 60
# Year 5138 in seconds; any plausible millisecond timestamp lies between it and 1,000 times it (beyond: not ms).
MILLISECONDS_THRESHOLD = 100_000_000_000
MAX_AMOUNT = 10**15
MAX_USER_ID_CHARS = 255
MAX_EMAIL_CHARS = 254


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


def check_identifier_text(value: str, name: str) -> str:
    """Reject blank identifiers and those holding control or invisible format characters."""
    if not value.strip():
        raise ValueError(f"{name} must not be empty or blank")
    for char in value:
        # control, format (zero-width, bidi), surrogate, private-use, unassigned, line and paragraph separators
        if unicodedata.category(char) in {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}:
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


def _created_at(value: int | None) -> int | None:
    return None if value is None else check_created_at(value, time.time())


UserId = Annotated[str, AfterValidator(check_user_id)]
Email = Annotated[str, AfterValidator(normalize_email)]
Amount = Annotated[int, Field(ge=0, le=MAX_AMOUNT)]
CreatedAt = Annotated[int | None, AfterValidator(_created_at)]
