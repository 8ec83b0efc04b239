"""``beacon import FILE``: send a file of past charges to the API; resumable, with a rejects file and a report.

The whole file is read and validated first (rows are grouped by customer, so every row must be
known before the first request), then its chunks are sent by ``--concurrency`` worker threads. A
re-run of the same file after a crash, a Ctrl-C or a network failure resends every chunk under the
same ``Idempotency-Key``: the API replays those it has stored, within its idempotency TTL
(``IdempotencyTtlSeconds``, 24 hours by default), and stores the rest.

Exit status: 0 every row was accepted (``--dry-run``: every row is valid); 1 some rows were
rejected and are listed in the rejects file, all others were accepted; 2 the command could not run
(arguments, an unreadable file, no URL or key); 3 some rows were not sent (the API refused the key,
or did not answer after every retry): run the same command again; 130 interrupted (Ctrl-C).
"""

import argparse
import csv
import json
import os
import queue
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ops.importer.chunks import Chunk, file_digest, make_chunks
from ops.importer.progress import Counts, Progress, duration_text, progress_for
from ops.importer.rows import Format, ImportFile, Reject, originals, read_rows
from ops.importer.sending import Answer, ApiClient

URL_ENV = "BEACON_API_URL"
KEY_ENV = "BEACON_API_KEY"
EXIT_OK, EXIT_REJECTED, EXIT_USAGE, EXIT_INCOMPLETE, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
DEFAULT_CONCURRENCY = 4
REJECT_COLUMNS = ("line", "field", "message")  # then the file's own columns
MAX_CONCURRENCY = 64


def register(parser: argparse.ArgumentParser) -> None:
    """The arguments of ``beacon import``."""
    parser.description = (
        "Send a file of past charges (CSV with a header row, or JSON lines) to POST /charges/bulk, grouped by "
        "customer, each request under an Idempotency-Key derived from the file: running the same command again "
        "after an interruption resumes it without storing anything twice. Exit status: 0 all accepted, "
        "1 some rows rejected (see the rejects file), 2 usage error, 3 some rows not sent (run it again), "
        "130 interrupted."
    )
    parser.add_argument(
        "file",
        help="the file to import: columns/fields user_id, email, amount, created_at, "
        "update_session, charge_id (or id); - reads standard input",
    )
    parser.add_argument("--url", default=os.environ.get(URL_ENV), help=f"the API's base URL (default: ${URL_ENV})")
    parser.add_argument("--key", default=os.environ.get(KEY_ENV), help=f"a key of the project (default: ${KEY_ENV})")
    parser.add_argument(
        "--concurrency",
        type=int,
        default=DEFAULT_CONCURRENCY,
        help=f"requests in flight (default {DEFAULT_CONCURRENCY})",
    )
    parser.add_argument("--dry-run", action="store_true", help="validate the file and write the rejects; send nothing")
    parser.add_argument(
        "--update-session",
        action="store_true",
        help="rows without update_session count as visits (default: they do not, as fits historical charges)",
    )
    parser.add_argument("--format", choices=["csv", "jsonl"], help="default: JSON lines if the file starts with {")
    parser.add_argument(
        "--rejects", type=Path, help="the rejects file (default: beside FILE, as FILE.rejects.csv or .jsonl)"
    )
    parser.add_argument(
        "--progress-interval",
        type=float,
        default=10.0,
        help="seconds between two progress lines when standard error is not a terminal (default 10)",
    )
    parser.set_defaults(run=run)


@dataclass
class Outcome:
    """What an import did: its counts, every rejected row, and why rows were not sent (if any were not)."""

    counts: Counts
    rejects: list[Reject]
    interrupted: bool = False
    failures: list[str] = field(default_factory=list)


def run(args: argparse.Namespace) -> int:
    """Run ``beacon import`` as the arguments say; the exit status is described in the module docstring."""
    try:
        return _import(args)
    except KeyboardInterrupt:  # while the file is read: nothing was sent (once sending, send_chunks handles it)
        return EXIT_INTERRUPTED


def _import(args: argparse.Namespace) -> int:
    if not 1 <= args.concurrency <= MAX_CONCURRENCY:
        raise ValueError(f"--concurrency must be from 1 to {MAX_CONCURRENCY}")
    data = _read_input(args.file)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{args.file} is not UTF-8 text (byte {exc.start} cannot be read)") from None
    parsed = read_rows(text, fmt=args.format, update_session=args.update_session)
    chunks = make_chunks(parsed.charges, file_digest(data))
    rejects_path = args.rejects or default_rejects_path(args.file, parsed.format)
    if args.dry_run:
        outcome = Outcome(Counts(rows=parsed.rows, rejected=len(parsed.rejects)), list(parsed.rejects))
    else:
        if not args.url or not args.key:
            raise ValueError(
                f"no API: pass --url and --key, or set {URL_ENV} and {KEY_ENV} (make dev prints them; "
                f"bin/beacon --stack NAME sets {URL_ENV})"
            )
        client = ApiClient(args.url, args.key, pool_size=args.concurrency)
        try:
            progress = progress_for(len(parsed.charges), args.progress_interval)
            outcome = send_chunks(client, chunks, parsed, progress=progress, concurrency=args.concurrency)
        finally:
            client.close()
    write_rejects(rejects_path, parsed, outcome.rejects, text)
    print(report(args.file, parsed, chunks, outcome, rejects_path, dry_run=args.dry_run))
    if outcome.interrupted:
        return EXIT_INTERRUPTED
    if outcome.counts.not_sent:
        return EXIT_INCOMPLETE
    return EXIT_REJECTED if outcome.rejects else EXIT_OK


def _read_input(name: str) -> bytes:
    if name == "-":
        return sys.stdin.buffer.read()
    try:
        return Path(name).read_bytes()
    except OSError as exc:
        raise ValueError(f"cannot read {name}: {exc.strerror}") from None


def default_rejects_path(name: str, fmt: Format) -> Path:
    """``charges.csv`` -> ``charges.rejects.csv`` beside it; standard input -> ``stdin.rejects.<format>`` here."""
    source = Path("stdin" if name == "-" else name)
    return source.with_name(f"{source.stem}.rejects.{fmt}")


def send_chunks(
    client: ApiClient,
    chunks: Sequence[Chunk],
    parsed: ImportFile,
    *,
    progress: Progress,
    concurrency: int,
) -> Outcome:
    """Send every chunk with ``concurrency`` threads; stop early on a refused key or Ctrl-C."""
    counts = Counts(rows=parsed.rows, to_send=len(parsed.charges), rejected=len(parsed.rejects))
    outcome = Outcome(counts, list(parsed.rejects))
    senders = _Senders(client, chunks, concurrency)
    ended = 0
    try:
        while ended < len(chunks):
            ended_chunk = senders.next_answer()
            if ended_chunk is None:
                break  # stopped: the chunks left were never taken
            ended += 1
            _record(outcome, *ended_chunk)
            progress.update(counts)
    except KeyboardInterrupt:
        outcome.interrupted = True
        answered, in_flight = senders.abandon()
        for ended_chunk in answered:
            _record(outcome, *ended_chunk)
        # Their requests were sent and may have been stored: the next run finds out (nothing is stored twice).
        counts.in_flight = sum(len(chunk.charges) for chunk in in_flight)
    counts.finished = time.monotonic()
    counts.not_sent = counts.to_send - counts.accepted - counts.api_rejected - counts.in_flight
    progress.close(counts)
    return outcome


class _Senders:
    """Worker threads that take chunks from a queue, send them, and queue each answer."""

    def __init__(self, client: ApiClient, chunks: Sequence[Chunk], concurrency: int) -> None:
        self.client = client
        self.jobs: queue.SimpleQueue[Chunk] = queue.SimpleQueue()
        for chunk in chunks:
            self.jobs.put(chunk)
        self.answers: queue.SimpleQueue[tuple[Chunk, Answer]] = queue.SimpleQueue()
        self.stop = threading.Event()
        # Taking a chunk, and ending one, happen under this lock, so that a chunk is always either waiting,
        # in flight, or answered (``abandon``).
        self.lock = threading.Lock()
        self.in_flight: dict[str, Chunk] = {}
        # Daemon threads: a Ctrl-C must not wait for requests in flight (a re-run sends them again).
        self.workers = [threading.Thread(target=self._work, daemon=True) for _ in range(min(concurrency, len(chunks)))]
        for worker in self.workers:
            worker.start()

    def _work(self) -> None:
        while (chunk := self._take()) is not None:
            answer = self.client.send(chunk)
            if answer.key_refused:
                self.stop.set()  # before taking another chunk: every request would be refused the same way
            with self.lock:
                del self.in_flight[chunk.key]
                self.answers.put((chunk, answer))

    def _take(self) -> Chunk | None:
        with self.lock:
            if self.stop.is_set():
                return None
            try:
                chunk = self.jobs.get_nowait()
            except queue.Empty:
                return None
            self.in_flight[chunk.key] = chunk
            return chunk

    def abandon(self) -> tuple[list[tuple[Chunk, Answer]], list[Chunk]]:
        """Stop taking chunks; the answers not read yet, and the chunks whose request is still on its way."""
        with self.lock:
            self.stop.set()
            answered = []
            while not self.answers.empty():
                answered.append(self.answers.get_nowait())
            return answered, list(self.in_flight.values())

    def next_answer(self) -> tuple[Chunk, Answer] | None:
        """The next chunk to end and its answer; ``None`` once every worker has stopped and all was read."""
        while True:
            try:
                return self.answers.get(timeout=0.5)  # a timeout keeps Ctrl-C deliverable to the main thread
            except queue.Empty:
                if not any(worker.is_alive() for worker in self.workers) and self.answers.empty():
                    return None


def _record(outcome: Outcome, chunk: Chunk, answer: Answer) -> None:
    counts, size = outcome.counts, len(chunk.charges)
    counts.requests += 1
    counts.retries += answer.retries
    if answer.accepted:
        counts.accepted += size
        counts.replayed += size if answer.replayed else 0
    elif answer.rejected:
        rejects = rejected_rows(chunk, answer)
        outcome.rejects.extend(rejects)
        counts.api_rejected += size
        counts.rejected += size
    else:
        counts.not_sent += size
        reason = "the API refused the key" if answer.key_refused else answer.detail
        message = "; ".join(e.message for e in answer.errors[:1]) if answer.key_refused else ""
        outcome.failures.append(f"{reason}: {message}" if message else reason)


def rejected_rows(chunk: Chunk, answer: Answer) -> list[Reject]:
    """The rows of a refused request, each with the API's errors for it (those of the whole request included)."""
    shared = [e for e in answer.errors if e.index is None]
    by_index: dict[int, list[tuple[str, str]]] = {}
    for error in answer.errors:
        if error.index is not None:
            by_index.setdefault(error.index, []).append((error.field, error.message))
    faulty = sorted(chunk.charges[i].line for i in by_index if i < len(chunk.charges))
    rejects = []
    for index, charge in enumerate(chunk.charges):
        problems = [(e.field, e.message) for e in shared] + by_index.get(index, [])
        if not problems:
            lines = ", ".join(str(line) for line in faulty)
            problems = [("row", f"not stored: the API refused the request it was sent in because of line(s) {lines}")]
        fields = ", ".join(dict.fromkeys(name for name, _ in problems))
        rejects.append(Reject(charge.line, fields, "; ".join(message for _, message in problems), ""))
    return rejects


def write_rejects(path: Path, parsed: ImportFile, rejects: Sequence[Reject], text: str) -> None:
    """Rewrite the rejects file in line order (CSV: line, field, message, then the file's own columns, so that
    the fixed file can be imported as it is; JSON lines: one object per row). No rejects: no file."""
    if not rejects:
        path.unlink(missing_ok=True)
        return
    missing = {r.line for r in rejects if r.original == ""}
    found = originals(text, parsed.format, missing) if missing else {}
    ordered = sorted(rejects, key=lambda r: r.line)
    # A rejects file imported again: its own line, field and message columns give way to the new ones.
    skip = len(REJECT_COLUMNS) if parsed.header[: len(REJECT_COLUMNS)] == REJECT_COLUMNS else 0
    with path.open("w", encoding="utf-8", newline="") as out:
        if parsed.format == "csv":
            writer = csv.writer(out)
            writer.writerow([*REJECT_COLUMNS, *parsed.header[skip:]])
            for reject in ordered:
                cells = found.get(reject.line, reject.original)
                writer.writerow([reject.line, reject.field, reject.message, *cells[skip:]])
        else:
            for reject in ordered:
                row = found.get(reject.line, reject.original)
                out.write(
                    json.dumps(
                        {"line": reject.line, "field": reject.field, "message": reject.message, "row": row},
                        ensure_ascii=False,
                    )
                    + "\n"
                )


def report(
    name: str,
    parsed: ImportFile,
    chunks: Sequence[Chunk],
    outcome: Outcome,
    rejects_path: Path,
    *,
    dry_run: bool,
) -> str:
    """The final report, one figure a line."""
    counts = outcome.counts
    source = "standard input" if name == "-" else name
    where = f"  (listed in {rejects_path})" if outcome.rejects else ""
    if dry_run:
        lines = [
            f"rows read   {counts.rows:,}  from {source} (dry run: nothing sent)",
            f"valid       {len(parsed.charges):,}  (would be sent in {_requests(len(chunks))})",
            f"rejected    {len(outcome.rejects):,}{where}",
        ]
        return "\n".join(lines)
    earlier = f"  ({counts.replayed:,} stored by an earlier run)" if counts.replayed else ""
    lines = [
        f"rows read   {counts.rows:,}  from {source}",
        f"accepted    {counts.accepted:,}{earlier}",
        f"rejected    {len(outcome.rejects):,}{where}",
        *(
            [f"in flight   {counts.in_flight:,}  (sent when interrupted: stored or not, the next run finds out)"]
            if counts.in_flight
            else []
        ),
        f"not sent    {counts.not_sent:,}",
        f"requests    {counts.requests:,}  ({counts.retries:,} {'retry' if counts.retries == 1 else 'retries'})",
        f"duration    {duration_text(counts.seconds, counts.sent)}",
    ]
    if outcome.interrupted:
        lines.append("Interrupted: run the same command again to finish; nothing is stored twice.")
    elif counts.not_sent:
        lines.append(f"Not sent: {outcome.failures[0] if outcome.failures else 'stopped'}.")
        lines.append("Run the same command again (with a valid key, if it was refused): nothing is stored twice.")
    return "\n".join(lines)


def _requests(count: int) -> str:
    return f"{count:,} request" + ("" if count == 1 else "s")
