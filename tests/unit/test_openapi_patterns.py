"""openapi.yaml's ``UserId`` pattern says exactly what the API accepts, code point by code point."""

import re
import sys

import pytest
import yaml

from beacon.models.fields import check_user_id, is_forbidden_in_identifiers
from local.template import ROOT

PATTERN = re.compile(
    yaml.safe_load((ROOT / "openapi.yaml").read_text(encoding="utf-8"))["components"]["schemas"]["UserId"]["pattern"]
)


def accepted(value: str) -> bool:
    try:
        check_user_id(value)
    except ValueError:
        return False
    return True


def test_the_pattern_and_the_api_agree_on_every_unicode_scalar_value():
    # Surrogates are not scalar values: no pattern can name one (the API refuses a lone one sent as a JSON escape).
    disagreements = [
        f"U+{code:04X}"
        for code in range(sys.maxunicode + 1)
        if not 0xD800 <= code <= 0xDFFF
        and bool(PATTERN.fullmatch(f"a{chr(code)}")) is is_forbidden_in_identifiers(chr(code))
    ]
    assert disagreements == []


@pytest.mark.parametrize("value", ["user_42", " ", "\t\u3000", " x ", "a\u200bb", "a\u0378", "\U000f0000x", "a\ufffe"])
def test_the_pattern_and_the_api_agree_on_blank_and_mixed_values(value):
    assert bool(PATTERN.fullmatch(value)) is accepted(value)
