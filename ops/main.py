"""Argument parsing and dispatch of the operator commands."""

import argparse
import os
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

from beacon.settings import get_settings
from ops import customers, keys, summaries
from ops.arguments import checked
from ops.importer import command as import_command
from ops.stack_outputs import OUTPUT_TO_ENV, check_stack_name, stack_environment

SETUP = (
    "point bin/beacon at a stack: `bin/beacon --stack <stack-name> ...` for a deployed one (AWS credentials as "
    "usual), or, for the local stack, paste the export lines `make dev` prints (export AWS_ENDPOINT_URL=... and "
    "the table names)"
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="beacon", description="Operate a Beacon charges deployment.")
    parser.add_argument(
        "--stack",
        metavar="STACK_NAME",
        type=checked(check_stack_name),
        help="work on this deployed stack: its tables, queue and API URL from its outputs (AWS credentials as "
        "usual); without it, from the *_TABLE_NAME and BEACON_API_URL variables (the local stack prints them)",
    )
    groups = parser.add_subparsers(dest="group", required=True)
    keys.register(groups.add_parser("keys", help="create, list and revoke a project's API keys"))
    summaries.register(groups.add_parser("summaries", help="rebuild summaries from the charges; replay failed batches"))
    customers.register(groups.add_parser("customers", help="show a customer's summary"))
    import_command.register(groups.add_parser("import", help="send a file of past charges to the API (resumable)"))
    return parser


def apply_global_options(args: argparse.Namespace) -> bool:
    """Resolve the options that say where the commands work (``--stack``) into the environment they read.

    Raises ``ValueError`` (one line) when one cannot be resolved; then nothing is changed. True when the
    environment changed.
    """
    if args.stack is None:
        return False
    environment = stack_environment(args.stack)
    # The stack's values replace the environment's; a variable the stack does not give is unset rather than
    # left pointing elsewhere (at the local stack, say).
    for name in OUTPUT_TO_ENV.values():
        os.environ.pop(name, None)
    os.environ.update(environment)
    get_settings.cache_clear()
    return True


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; the exit status is 0 on success, 1 when the command found a problem, 2 on bad usage
    or when a global option (``--stack``) cannot be resolved, in which case no command runs."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    try:
        if apply_global_options(args):
            args = build_parser().parse_args(argv)  # defaults read from the environment now see the stack's
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return _run(args)


def _run(args: argparse.Namespace) -> int:
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
