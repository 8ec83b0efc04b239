"""beacon.models.fields: the rules beyond types, as pure functions (every rule, both sides of each bound)."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from beacon.models.fields import (
    MAX_EMAIL_CHARS,
    MAX_FUTURE_SECONDS,
    MAX_USER_ID_CHARS,
    MIN_CREATED_AT,
    check_created_at,
    check_identifier_text,
    check_user_id,
    normalize_email,
)

NOW = 1_764_000_000  # 2025-11-24T16:00:00Z


# ---------------------------------------------------------------- created_at


@pytest.mark.parametrize("value", [MIN_CREATED_AT, NOW, NOW - 1, NOW + MAX_FUTURE_SECONDS, 1_000_000_000])
def test_created_at_in_range_is_kept(value):
    assert check_created_at(value, NOW) == value


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (-1, "created_at must be UNIX seconds, not negative; got -1"),
        (0, "created_at must be on or after 2000-01-01 (946684800); got 0"),
        (MIN_CREATED_AT - 1, "created_at must be on or after 2000-01-01 (946684800); got 946684799"),
        (NOW + MAX_FUTURE_SECONDS + 1, "created_at must not be more than 24 hours in the future; got 1764086401"),
        (1_764_000_000_000, "created_at must be UNIX seconds; 1764000000000 looks like milliseconds (divide by 1000)"),
        (946_684_800_000, "created_at must be UNIX seconds; 946684800000 looks like milliseconds (divide by 1000)"),
        # far beyond any millisecond timestamp: called what it is, not "milliseconds"
        (10**30, "created_at must not be more than 24 hours in the future; got " + str(10**30)),
        (1_764_000_000_000_000, "created_at must not be more than 24 hours in the future; got 1764000000000000"),
    ],
)
def test_created_at_out_of_range_is_refused_with_a_message_that_says_why(value, message):
    with pytest.raises(ValueError) as caught:
        check_created_at(value, NOW)
    assert str(caught.value) == message


@given(st.integers(min_value=MIN_CREATED_AT, max_value=NOW + MAX_FUTURE_SECONDS), st.integers(0, 999))
def test_any_valid_time_sent_in_milliseconds_gets_the_milliseconds_message(seconds, extra_ms):
    millis = seconds * 1000 + extra_ms
    with pytest.raises(ValueError, match=f"^created_at must be UNIX seconds; {millis} looks like milliseconds"):
        check_created_at(millis, NOW)


@given(st.integers(min_value=MIN_CREATED_AT, max_value=NOW + MAX_FUTURE_SECONDS))
def test_any_time_between_2000_and_24_hours_from_now_is_accepted(seconds):
    assert check_created_at(seconds, NOW) == seconds


@given(st.integers(max_value=MIN_CREATED_AT - 1) | st.integers(min_value=NOW + MAX_FUTURE_SECONDS + 1))
def test_any_time_outside_the_window_is_refused(value):
    with pytest.raises(ValueError, match=r"^created_at must"):
        check_created_at(value, NOW)


# ---------------------------------------------------------------- identifiers


@pytest.mark.parametrize("value", ["u", "user_42", " padded ", "ü-ñ-日本", "a" * MAX_USER_ID_CHARS, "emoji-🙂", "a b"])
def test_user_ids_are_opaque_and_kept_exactly(value):
    assert check_user_id(value) == value


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "user_id must not be empty or blank"),
        ("   ", "user_id must not be empty or blank"),
        ("\t\n", "user_id must not be empty or blank"),
        ("a" * (MAX_USER_ID_CHARS + 1), "user_id must be at most 255 characters; got 256"),
        ("a\x00b", "user_id must not contain control or invisible characters (found U+0000)"),
        ("a\x1bb", "user_id must not contain control or invisible characters (found U+001B)"),
        ("a\x7fb", "user_id must not contain control or invisible characters (found U+007F)"),
        ("a\u200bb", "user_id must not contain control or invisible characters (found U+200B)"),
        ("a\u202eb", "user_id must not contain control or invisible characters (found U+202E)"),
        ("\ufeffa", "user_id must not contain control or invisible characters (found U+FEFF)"),
        ("a\ud800", "user_id must not contain control or invisible characters (found U+D800)"),
        ("a\ue000", "user_id must not contain control or invisible characters (found U+E000)"),
        ("a\ufdd0", "user_id must not contain control or invisible characters (found U+FDD0)"),
        ("a\U0010ffff", "user_id must not contain control or invisible characters (found U+10FFFF)"),
        ("a\u2028b", "user_id must not contain control or invisible characters (found U+2028)"),
        ("a\u2029b", "user_id must not contain control or invisible characters (found U+2029)"),
    ],
)
def test_bad_user_ids_are_refused(value, message):
    with pytest.raises(ValueError) as caught:
        check_user_id(value)
    assert str(caught.value) == message


@given(st.text(alphabet=st.characters(categories=["Cc", "Cf", "Co", "Zl", "Zp"]), min_size=1), st.text(), st.text())
def test_an_identifier_holding_any_control_or_format_character_is_refused(bad, before, after):
    with pytest.raises(ValueError, match=r"(control or invisible characters|empty or blank)"):
        check_identifier_text(before + bad + after, "user_id")


@given(st.text(alphabet=st.characters(categories=["L", "N", "P", "S"]), min_size=1, max_size=MAX_USER_ID_CHARS))
def test_any_printable_user_id_up_to_the_limit_is_kept(value):
    assert check_user_id(value) == value


def test_a_code_point_not_yet_assigned_by_unicode_is_kept():
    # U+0378 is unassigned in this runtime's Unicode; a client's newer Unicode may have assigned it.
    assert check_user_id("user\u0378") == "user\u0378"


# ---------------------------------------------------------------- email


@pytest.mark.parametrize(
    ("value", "normalized"),
    [
        ("ada@example.com", "ada@example.com"),
        ("  Ada@Example.COM ", "ada@example.com"),
        ("first.last+tag@sub.example.co.uk", "first.last+tag@sub.example.co.uk"),
        ("ü@exämple.com", "ü@exämple.com"),
    ],
)
def test_emails_are_trimmed_and_lower_cased(value, normalized):
    assert normalize_email(value) == normalized


@pytest.mark.parametrize(
    ("value", "message_start"),
    [
        ("", "email must not be empty or blank"),
        ("   ", "email must not be empty or blank"),
        ("plainaddress", "email is not a valid e-mail address"),
        ("a@b", "email is not a valid e-mail address"),
        ("@example.com", "email is not a valid e-mail address"),
        ("a@@example.com", "email is not a valid e-mail address"),
        ("a b@example.com", "email is not a valid e-mail address"),
        ("a@example..com", "email is not a valid e-mail address"),
        ("a\x00@example.com", "email must not contain control or invisible characters (found U+0000)"),
        ("a\u200b@example.com", "email must not contain control or invisible characters (found U+200B)"),
        ("a" * 250 + "@example.com", f"email must be at most {MAX_EMAIL_CHARS} characters; got 262"),
    ],
)
def test_bad_emails_are_refused(value, message_start):
    with pytest.raises(ValueError) as caught:
        normalize_email(value)
    assert str(caught.value).startswith(message_start)


@given(
    st.from_regex(r"[a-z0-9]{1,20}(\.[a-z0-9]{1,10})?", fullmatch=True),
    st.from_regex(r"[a-z]{1,15}\.(com|org|io|example)", fullmatch=True),
)
@settings(deadline=None)  # the first example imports email-validator's data: slow on a busy machine, not a failure
def test_any_simple_address_is_accepted_whatever_its_case(local, domain):
    address = f"{local}@{domain}"
    assert normalize_email(f" {address.upper()} ") == address
