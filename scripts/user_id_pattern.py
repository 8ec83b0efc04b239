"""Prints openapi.yaml's ``UserId`` pattern, as its YAML line, from the API's own rule (``beacon.models.fields``).

``PYTHONPATH=layers/common .venv/bin/python scripts/user_id_pattern.py`` after a change of the rule
(or of Python's Unicode version); tests/unit/test_openapi_patterns.py checks that openapi.yaml holds
what it prints and that every engine reads it as the API does.

The pattern must read the same in Python and Rust (code points), in JavaScript with the ``u`` flag
(code points) and without it (UTF-16 code units, as Spectral and many JSON Schema tools compile
patterns). Without ``u`` an astral character is two code units, so a class range between two astral
characters does not parse ("range out of order"), and the pattern holds none. Each character is:

- not one of planes 15 and 16, which are private use (refused): ``(?![^\\u0000-<U+EFFFF>\\u0000-<U+10000>-\\uffff])``.
  With code points the class is U+0000 to U+EFFFF, U+0000 to U+10000, "-" and U+FFFF, and the
  lookahead refuses U+F0000 and above; in UTF-16 code units it is U+0000 to U+DB7F, U+DFFF, U+0000
  to U+D800, then U+DC00 to U+FFFF, and the lookahead refuses the lead surrogates of those planes;
- not one of the refused astral characters below (a few format characters and the noncharacters),
  listed one by one in a negative lookahead, which every engine reads as those characters;
- in a negated class of the refused BMP characters, which reads the same everywhere.

Generators (Hypothesis, Schemathesis) draw from that last class and read past the lookaheads, so it
is small to build (a positive class spanning the astral planes takes seconds) and draws few
characters that the lookaheads then refuse.
"""

import sys
from collections.abc import Iterable

from beacon.models.fields import is_forbidden_in_identifiers

PLANE_15 = 0xF0000


def _ranges(codes: Iterable[int]) -> list[tuple[int, int]]:
    ranges: list[list[int]] = []
    for code in codes:
        if ranges and ranges[-1][1] == code - 1:
            ranges[-1][1] = code
        else:
            ranges.append([code, code])
    return [(first, last) for first, last in ranges]


def _escape(code: int) -> str:
    """A BMP character as the regex escape ``\\uXXXX``, written for a YAML double-quoted string."""
    return f"\\\\u{code:04x}"


def _character(code: int) -> str:
    """An astral character as a YAML escape: the pattern holds the character itself."""
    return f"\\U{code:08X}"


def yaml_pattern() -> str:
    """The pattern, as the text between the quotes of ``pattern: "..."`` in openapi.yaml."""
    if not all(is_forbidden_in_identifiers(chr(code)) for code in range(PLANE_15, sys.maxunicode + 1)):
        raise SystemExit("the rule allows a character of planes 15-16: the construction no longer fits")
    bmp = [code for code in range(0x10000) if not 0xD800 <= code <= 0xDFFF and is_forbidden_in_identifiers(chr(code))]
    astral = [code for code in range(0x10000, PLANE_15) if is_forbidden_in_identifiers(chr(code))]
    below_plane_15 = (
        f"(?![^{_escape(0)}-{_character(PLANE_15 - 1)}{_escape(0)}-{_character(0x10000)}-{_escape(0xFFFF)}])"
    )
    refused_astral = "|".join(_character(code) for code in astral)
    refused_bmp = "".join(_escape(a) if a == b else f"{_escape(a)}-{_escape(b)}" for a, b in _ranges(bmp))
    return f"^(?!\\\\s*$)(?:{below_plane_15}(?!{refused_astral})[^{refused_bmp}])+$"


if __name__ == "__main__":
    print(f'      pattern: "{yaml_pattern()}"')
