"""Argument types shared by the commands: a check that raises ``ValueError`` becomes argparse's usage error."""

import argparse
from collections.abc import Callable


def checked(check: Callable[[str], str]) -> Callable[[str], str]:
    """An argparse ``type`` that runs ``check`` (which raises ``ValueError`` with a message) on the value."""

    def argument(value: str) -> str:
        try:
            return check(value)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    return argument
