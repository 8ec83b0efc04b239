"""Argument types shared by the commands: a check that raises ``ValueError`` becomes argparse's usage error."""

import argparse
from collections.abc import Callable


def checked[T](check: Callable[[str], T]) -> Callable[[str], T]:
    """An argparse ``type`` that runs ``check`` (which raises ``ValueError`` with a message) on the value."""

    def argument(value: str) -> T:
        try:
            return check(value)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    return argument
