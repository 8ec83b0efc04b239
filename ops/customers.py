"""``beacon customers list|show|erase``: a project's customers, one of them as the API shows it, erasing one.

``list`` prints the project's customers, one JSON line each, from its registry (an entry per customer,
written with its first summary, under a few partition keys read one after the other): ``--limit``
stops after so many and prints the ``--after`` value that resumes there. ``show`` prints the
customer's summary as ``GET /customers/summary`` answers it (its ``data``, one JSON line), read the
way that endpoint reads it; a customer the project has no summary for is exit status 1. ``erase`` does
what ``DELETE /customers`` does (``services.erase_customer``), recorded under the key id ``operator``;
with ``--now`` it also deletes the customer's items from this machine at once instead of leaving them
to the jobs function (which still makes its final pass). Every subcommand names its customer the same
way (``customer_arguments``).
"""

import argparse
import base64
import json
import sys
import time

from beacon.errors import NotFoundError
from beacon.logic.identity import identify_customer
from beacon.models.fields import check_user_id, normalize_email
from beacon.models.jobs import CustomerJob
from beacon.services.erase_customer import erase_customer, run_erase_job
from beacon.services.read_summary import read_summary
from beacon.services.summarize_batch import repository
from ops.arguments import checked
from ops.keys import project_argument

OPERATOR = "operator"  # the key id an erasure made with this command is recorded under


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

    listing = commands.add_parser(
        "list",
        help="list a project's customers, one JSON line each (paged: --limit, --after)",
        description="Reads the project's customer registry (an entry per customer, written with its first "
        "summary): one Query page after another, a few read units per thousand customers. With --limit, the last "
        "line says how to go on (--after).",
    )
    project_argument(listing)
    listing.add_argument("--limit", type=checked(_positive), help="at most this many customers")
    listing.add_argument("--after", type=checked(_cursor), help="go on after this point (what --limit printed)")
    listing.set_defaults(run=list_customers)

    erase = commands.add_parser(
        "erase",
        help="erase a customer: what DELETE /customers does (its summary reads 404 at once, its items go)",
        description="Records the erasure (a keyed hash of the identity, when, key id 'operator'), replaces the "
        "summary with a tombstone that no charge received before now can bring back, and queues the erase job, "
        "which deletes the customer's charges, seen items and registry entry within 10 minutes (docs/operations.md, "
        "Erasing a customer). Erasing a customer who does not exist, or again, is done as well.",
    )
    project_argument(erase)
    customer_arguments(erase)
    erase.add_argument(
        "--now",
        action="store_true",
        help="also delete the customer's items from this machine at once, and print how many",
    )
    erase.set_defaults(run=erase_a_customer)


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


def list_customers(args: argparse.Namespace) -> int:
    listed, last = 0, (0, "")
    for shard, customer in repository().customers(args.project, after=args.after):
        if args.limit is not None and listed == args.limit:
            print(json.dumps({"next": f"--after {_cursor_of(*last)}"}))
            return 0
        print(json.dumps(_customer_line(customer), ensure_ascii=False))
        listed, last = listed + 1, (shard, customer)
    return 0


def erase_a_customer(args: argparse.Namespace) -> int:
    erased_before = int(time.time() * 1000)
    erase_customer(args.project, user_id=args.user_id, email=args.email, erased_before=erased_before, key_id=OPERATOR)
    done: dict[str, object] = {"erased": True, "erased_at": erased_before // 1000}
    if args.now:
        customer = identify_customer(args.user_id, args.email)
        job = CustomerJob(kind="erase", project_id=args.project, customer_id=customer, erased_before=erased_before)
        erased = run_erase_job(job)
        done |= {"charges_deleted": erased.charges, "other_items_deleted": erased.other_items}
    print(json.dumps(done))
    return 0


def _customer_line(customer: str) -> dict[str, str]:
    """``u#ada`` -> ``{"user_id": "ada"}``; ``e#a@b.c`` -> ``{"email": "a@b.c"}`` (``logic.identity``)."""
    kind, _, value = customer.partition("#")
    return {"user_id": value} if kind == "u" else {"email": value}


def _positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise ValueError("--limit must be at least 1")
    return number


def _cursor_of(shard: int, customer: str) -> str:
    return base64.urlsafe_b64encode(json.dumps([shard, customer]).encode()).decode()


def _cursor(value: str) -> tuple[int, str]:
    """What ``--after`` takes: the point ``--limit`` printed."""
    try:
        shard, customer = json.loads(base64.urlsafe_b64decode(value.encode()))
    except (ValueError, TypeError) as exc:
        raise ValueError(f"--after {value!r} is not a point that `customers list --limit` printed") from exc
    return int(shard), str(customer)
