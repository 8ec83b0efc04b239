"""``beacon customers show``: one customer of a project, as the API shows it.

``show`` prints the customer's summary as ``GET /customers/summary`` answers it (its ``data``, one
JSON line), read the way that endpoint reads it; a customer the project has no summary for is exit
status 1. Every subcommand names its customer the same way (``customer_arguments``).
"""

import argparse
import json
import sys

from beacon.errors import NotFoundError
from beacon.models.fields import check_user_id, normalize_email
from beacon.services.read_summary import read_summary
from ops.arguments import checked
from ops.keys import project_argument


def register(parser: argparse.ArgumentParser) -> None:
    commands = parser.add_subparsers(dest="command", required=True)

    show = commands.add_parser(
        "show",
        help="print a customer's summary as JSON (what GET /customers/summary answers)",
        description="Prints the customer's summary: user_id, email, charges (count, total, first_at, last_at, "
        "last_amount) and sessions (count, first_seen_at, last_seen_at), times in UNIX seconds; exit status 1 "
        "when the project has no summarized charge of that customer. The summary trails the accepted charges "
        "by the stream's delay (usually a second or two).",
    )
    project_argument(show)
    customer_arguments(show)
    show.set_defaults(run=show_customer)


def customer_arguments(parser: argparse.ArgumentParser) -> None:
    """``--user-id`` or ``--email`` (exactly one), checked and normalized as the API does."""
    who = parser.add_mutually_exclusive_group(required=True)
    who.add_argument("--user-id", type=checked(check_user_id), help="the customer's user_id, exactly as sent")
    who.add_argument(
        "--email", type=checked(normalize_email), help="the customer's e-mail address (trimmed and lower-cased)"
    )


def show_customer(args: argparse.Namespace) -> int:
    try:
        summary = read_summary(args.project, user_id=args.user_id, email=args.email)
    except NotFoundError:
        name, value = ("user_id", args.user_id) if args.user_id is not None else ("email", args.email)
        print(
            f"error: project {args.project} has no customer with {name} {value!r} (or none of its charges is "
            "summarized yet)",
            file=sys.stderr,
        )
        return 1
    print(json.dumps(summary.model_dump(mode="json"), ensure_ascii=False))
    return 0
