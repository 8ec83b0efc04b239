"""Argument parsing and dispatch of the operator commands."""

import argparse
import sys
from collections.abc import Sequence

from ops import keys, summaries


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="beacon", description="Operate a Beacon charges deployment.")
    groups = parser.add_subparsers(dest="group", required=True)
    keys.register(groups.add_parser("keys", help="create, list and revoke a project's API keys"))
    summaries.register(groups.add_parser("summaries", help="rebuild summaries from the charges; replay failed batches"))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; the exit status is 0 on success, 1 when the command found a problem, 2 on bad usage."""
    args = build_parser().parse_args(argv)
    try:
        status: int = args.run(args)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return status
