"""Argument parsing and dispatch of the operator commands."""

import argparse
import sys
from collections.abc import Sequence

from botocore.exceptions import (
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
)
from pydantic import ValidationError

from ops import keys, summaries
from ops.importer import command as import_command

SETUP = (
    "point bin/beacon at a stack: `bin/beacon --stack <stack-name> ...` for a deployed one (AWS credentials as "
    "usual), or, for the local stack, paste the export lines `make dev` prints (export AWS_ENDPOINT_URL=... and "
    "the table names)"
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="beacon", description="Operate a Beacon charges deployment.")
    groups = parser.add_subparsers(dest="group", required=True)
    keys.register(groups.add_parser("keys", help="create, list and revoke a project's API keys"))
    summaries.register(groups.add_parser("summaries", help="rebuild summaries from the charges; replay failed batches"))
    import_command.register(groups.add_parser("import", help="send a file of past charges to the API (resumable)"))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; the exit status is 0 on success, 1 when the command found a problem, 2 on bad usage."""
    args = build_parser().parse_args(argv)
    try:
        status: int = args.run(args)
    except ValidationError as exc:  # the settings: a variable the command needs is not set
        missing = ", ".join(sorted({str(error["loc"][0]) for error in exc.errors() if error["loc"]}))
        print(f"error: {missing or 'the environment'} not set; {SETUP}", file=sys.stderr)
        return 2
    except (NoRegionError, NoCredentialsError, PartialCredentialsError, EndpointConnectionError) as exc:
        print(f"error: {exc}; {SETUP}", file=sys.stderr)
        return 2
    except ClientError as exc:
        error = exc.response.get("Error", {})
        print(f"error: AWS refused the call: {error.get('Code')}: {error.get('Message')}", file=sys.stderr)
        return 1
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return status
