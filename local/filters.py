"""Lambda event filtering (``FilterCriteria``): the EventBridge-pattern subset the template's filters use.

A pattern is a JSON object whose leaves are lists of alternatives. A record matches when, for every
key of the pattern, the record has that key and its value matches: nested objects recurse, a list
of alternatives matches when any alternative does. Alternatives are exact values or one of the
operators ``{"exists": bool}``, ``{"prefix": str}`` and ``{"anything-but": value | [values]}``.
A record matches the criteria when it matches any of its filters; no filters let everything through.
"""

from collections.abc import Iterable, Mapping
from typing import Any

_MISSING = object()
_OPERATORS = frozenset({"exists", "prefix", "anything-but"})


class UnsupportedPatternError(ValueError):
    """The pattern uses EventBridge syntax that this subset does not implement."""


def passes(filters: Iterable[Mapping[str, Any]], record: Mapping[str, Any]) -> bool:
    """Whether ``record`` passes the filter criteria (any filter matches; no filter means pass)."""
    patterns = list(filters)
    return not patterns or any(matches(pattern, record) for pattern in patterns)


def matches(pattern: Mapping[str, Any], value: Any) -> bool:
    """Whether ``value`` (a JSON object) matches one EventBridge pattern."""
    if not isinstance(value, Mapping):
        return False
    for key, expected in pattern.items():
        actual = value.get(key, _MISSING)
        if isinstance(expected, Mapping):
            if not matches(expected, actual):
                return False
        elif isinstance(expected, list):
            if not _any_alternative(expected, actual):
                return False
        else:
            raise UnsupportedPatternError(f"pattern value of {key!r} must be an object or a list, got {expected!r}")
    return True


def _any_alternative(alternatives: list[Any], actual: Any) -> bool:
    # A list in the record matches when any of its elements does.
    candidates = actual if isinstance(actual, list) else [actual]
    return any(_alternative(alt, candidate) for alt in alternatives for candidate in candidates)


def _alternative(alternative: Any, actual: Any) -> bool:
    if not isinstance(alternative, Mapping):
        return actual is not _MISSING and type(actual) is type(alternative) and actual == alternative
    if len(alternative) != 1 or next(iter(alternative)) not in _OPERATORS:
        raise UnsupportedPatternError(f"unsupported filter operator {alternative!r} (local/filters.py)")
    (operator, operand), *_ = alternative.items()
    if operator == "exists":
        return (actual is not _MISSING) is bool(operand)
    if actual is _MISSING:
        return False
    if operator == "prefix":
        return isinstance(actual, str) and actual.startswith(operand)
    excluded = operand if isinstance(operand, list) else [operand]
    return all(not (type(actual) is type(x) and actual == x) for x in excluded)
