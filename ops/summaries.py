"""``beacon summaries rebuild|replay|migrate``: check and repair summaries; replay failed batches; move old ones.

``rebuild`` recomputes summaries from the stored charges and prints one JSON line per summary that
differs, field by field (exit status 1 when any does); ``--repair`` writes the recomputed summary
the way the stream recomputes one (version check, the window of recently counted charges refilled).
``replay`` re-reads from the stream the batches that the on-failure queue points at and hands them to
the stream function's own code (records that old are recomputed, never folded blindly); a batch the
stream no longer holds has its customers rebuilt. ``migrate`` moves the summaries of the first
layout (one partition key per project) to one partition key per customer.
"""

import argparse
import json
import os
import sys
from collections import Counter
from collections.abc import Iterable

from beacon.errors import StorageUnavailableError
from beacon.logic.identity import identify_customer
from beacon.models.fields import check_user_id, normalize_email
from beacon.services.summarize_batch import SummaryConflictError
from ops.keys import project_argument
from ops.migrate import migrate
from ops.rebuild import RebuildResult, rebuild_customer, rebuild_project
from ops.replay import ReplayResult, replay_failures
from ops.stream_failures import FailureQueue, StreamReader

QUEUE_URL_ENV = "SUMMARIZE_FAILURE_QUEUE_URL"


def register(parser: argparse.ArgumentParser) -> None:
    commands = parser.add_subparsers(dest="command", required=True)

    rebuild = commands.add_parser(
        "rebuild",
        help="recompute summaries from the stored charges, print those that differ (exit 1), --repair them",
        description="Without --user-id/--email, every customer of the project's registry (and with --scan, every "
        "customer with a stored charge: a Scan of the whole charges table, which reads every project's charges).",
    )
    project_argument(rebuild)
    who = rebuild.add_mutually_exclusive_group()
    who.add_argument("--user-id", help="one customer, by user_id")
    who.add_argument("--email", help="one customer known by e-mail only (trimmed and lower-cased)")
    rebuild.add_argument("--repair", action="store_true", help="write the recomputed summaries that differ")
    rebuild.add_argument(
        "--scan", action="store_true", help="also customers missing from the registry (a Scan of the charges table)"
    )
    rebuild.set_defaults(run=rebuild_summaries)

    migrate = commands.add_parser(
        "migrate",
        help="move summaries of the first layout to one partition key per customer (safe while the stream runs)",
        description="Run once after deploying the version that keys summaries per customer. Each old summary is "
        "registered, recomputed into the new layout from the stored charges unless the stream already did, then "
        "deleted. Running it again finds nothing left to move.",
    )
    migrate.set_defaults(run=migrate_summaries)

    replay = commands.add_parser(
        "replay",
        help="re-process the stream batches listed in the summarizer's on-failure queue",
        description=f"Reads the queue (--queue-url or ${QUEUE_URL_ENV}), re-reads each batch from the stream, "
        "folds it into the summaries exactly once and deletes the message once the whole batch is done. A batch "
        "older than the stream's 24 hours has its customers (charges received while it arrived) rebuilt.",
    )
    replay.add_argument("--queue-url", default=os.environ.get(QUEUE_URL_ENV), help=f"default: ${QUEUE_URL_ENV}")
    replay.add_argument("--max", type=int, default=100, help="at most this many messages (default 100)")
    replay.add_argument(
        "--drop-gone",
        action="store_true",
        help="delete the messages the stream no longer holds whose customers cannot be found (no arrival times)",
    )
    replay.set_defaults(run=replay_summaries)


def rebuild_summaries(args: argparse.Namespace) -> int:
    results: Iterable[RebuildResult]
    if args.user_id is not None or args.email is not None:
        user_id = None if args.user_id is None else check_user_id(args.user_id)
        email = None if args.email is None else normalize_email(args.email)
        customer = identify_customer(user_id, email)
        result = rebuild_customer(args.project, customer, repair=args.repair)
        if result.charges == 0 and not result.differences:
            name, value = ("user_id", user_id) if user_id is not None else ("email", email)
            print(f"error: project {args.project} has no customer with {name} {value}", file=sys.stderr)
            return 1
        results = [result]
    else:
        results = rebuild_project(args.project, repair=args.repair, scan_charges=args.scan)
    checked = differing = repaired = 0
    try:
        for result in results:
            checked += 1
            if result.differences:
                differing += 1
                repaired += 1 if result.repaired else 0
                print(json.dumps(_report(result)))
    except (SummaryConflictError, StorageUnavailableError) as exc:
        print(f"error after {checked} customer(s): {exc}; run the command again", file=sys.stderr)
        return 1
    print(f"checked {checked} customer(s) of project {args.project}: {differing} differed, {repaired} repaired")
    return 1 if differing else 0


def _report(result: RebuildResult) -> dict[str, object]:
    return {
        "project": result.project_id,
        "customer": result.customer_id,
        "differences": {name: {"stored": old, "recomputed": new} for name, (old, new) in result.differences.items()},
        "charges": result.charges,
        "repaired": result.repaired,
    }


def replay_summaries(args: argparse.Namespace) -> int:
    if not args.queue_url:
        raise ValueError(f"no queue: pass --queue-url or set {QUEUE_URL_ENV} (bin/beacon --stack NAME sets it)")
    if args.max < 1:
        raise ValueError("--max must be at least 1")
    queue = FailureQueue(args.queue_url)
    results = replay_failures(queue, StreamReader(), max_messages=args.max, drop_gone=args.drop_gone)
    for result in results:
        print(json.dumps(_replay_line(result)))
    counts = Counter(result.status for result in results)
    print(
        f"{len(results)} message(s): {counts['replayed']} replayed, {counts['rebuilt']} rebuilt from the charges "
        f"(no longer in the stream), {counts['failed']} failed, {counts['incomplete']} incomplete, "
        f"{counts['gone'] + counts['dropped']} gone with no way to find their customers"
        f"{' (dropped)' if counts['dropped'] else ''}; failed, incomplete and gone ones stay in the queue"
    )
    if counts["gone"]:
        print(
            "For a batch gone from the stream whose customers cannot be found, rebuild the projects concerned "
            "(`beacon summaries rebuild --project P --scan --repair`), then `summaries replay --drop-gone`."
        )
    return 1 if counts["failed"] or counts["incomplete"] or counts["gone"] or counts["dropped"] else 0


def _replay_line(result: ReplayResult) -> dict[str, object]:
    line: dict[str, object] = {
        "shard_id": result.shard_id,
        "start_sequence_number": result.start_sequence,
        "end_sequence_number": result.end_sequence,
        "status": result.status,
        "records": result.records,
    }
    if result.outcome is not None:
        line["failed_records"] = len(result.outcome.failed)
        line["duplicates_skipped"] = result.outcome.duplicates_skipped
    if result.status == "rebuilt":
        line["customers_rebuilt"] = len(result.rebuilt)
    return line


def migrate_summaries(args: argparse.Namespace) -> int:
    moved = migrate()
    print(
        f"{moved.registered} customer(s) of the first layout: {moved.recomputed} recomputed into the new layout, "
        f"{moved.registered - moved.recomputed} already there; {moved.deleted} old summaries deleted"
    )
    return 0
