"""The import report's duration and rate: never a duration of zero, and the rate is that of the duration shown."""

import re

from hypothesis import given
from hypothesis import strategies as st

from ops.importer.progress import duration_text

DURATION = re.compile(r"([\d,.]+) (s|ms)  \(([\d,]+) rows/s\)")


def test_a_short_import_is_shown_in_milliseconds():
    assert duration_text(0.047, 4) == "47 ms  (85 rows/s)"
    assert duration_text(0.9994, 3) == "999 ms  (3 rows/s)"
    assert duration_text(0.00002, 0) == "under 1 ms"
    assert duration_text(0.0005, 1) == "under 1 ms"  # half a millisecond rounds to none, never to "0 ms"


def test_a_longer_one_in_seconds():
    assert duration_text(61.4, 86_000) == "61.4 s  (1,401 rows/s)"
    assert duration_text(0.9996, 4) == "1.0 s  (4 rows/s)"
    assert duration_text(1.25, 5) == "1.2 s  (4 rows/s)"  # a tie rounds to even, the rate with it


@given(seconds=st.floats(min_value=0, max_value=100_000), rows=st.integers(min_value=0, max_value=10_000_000))
def test_the_duration_shown_is_never_zero_and_the_rate_is_the_rows_over_it(seconds, rows):
    text = duration_text(seconds, rows)

    match = DURATION.fullmatch(text)
    if match is None:
        assert text == "under 1 ms" and seconds < 0.001
        return
    unit = 1000 if match[2] == "ms" else 1
    shown = float(match[1].replace(",", "")) / unit
    assert shown > 0
    half_step = 0.05 if match[2] == "s" else 0.0005  # rounded to 0.1 s or to 1 ms
    assert abs(shown - seconds) <= half_step * (1 + 1e-9)
    assert match[3] == f"{rows / shown:,.0f}"
