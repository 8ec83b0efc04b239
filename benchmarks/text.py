"""Markdown for the pages the benchmarks write: tables and verdicts."""

from typing import Any


def table(header: list[str], align: str, rows: list[list[Any]]) -> list[str]:
    """A markdown table and the blank line after it; ``align`` holds a letter a column, ``l`` or ``r``."""
    rule = " | ".join("---:" if a == "r" else "---" for a in align)
    return [f"| {' | '.join(header)} |", f"| {rule} |", *[f"| {' | '.join(map(str, row))} |" for row in rows], ""]


def met(ok: bool) -> str:
    return "**met**" if ok else "**missed**"
