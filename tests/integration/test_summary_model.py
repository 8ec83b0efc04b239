"""A model of the stream against the real summarizer: every charge counted exactly once, whatever the schedule.

The real ``process_stream_records``, recompute and rebuild run against an in-memory table that keeps
DynamoDB's conditional-write rules (``benchmarks/fake_dynamodb.py``). Each seed draws a schedule:
charges written by the API (singles and bulks, received out of order by several API instances),
stream batches delivered with duplicates and at any age (the event source mapping's retries, the
failure queue's replays), other invocations interleaved between a read and a write, responses lost
after a write went through, writes refused (throttled) and retried from the lowest reported record,
rebuilds racing the stream, invocations running out of time (recomputes handed to the jobs
function, done later), customers erased (at any step, and between an invocation's read and its
write), their erase jobs done later, with the window's limits shrunk so that a few charges reach
every path.

Every amount is a distinct power of two: a summary's total says exactly which charges it counts, so
``count == popcount(total)`` catches a charge counted twice, and a bit of no stored charge catches
one counted that was never stored. At the end every record is delivered once more (as a replay of
the failure queue would) and every summary must equal what its stored charges give: those received
after the customer's last erasure. An erased customer keeps no charge, seen item nor registry entry
from before its erasure.

``MODEL_SEEDS`` sets the number of seeds (500 by default, as in CI).
"""

import os
import random
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from botocore.exceptions import ClientError, ReadTimeoutError

from beacon.dal import aws
from beacon.dal.charges import ChargesRepository
from beacon.dal.item_keys import charge_pk, registry_pk, registry_shard, seen_pk
from beacon.dal.items import charge_item, received_ms_of, stream_record
from beacon.dal.summaries import SummariesRepository
from beacon.dal.summary_items import summary_from_item
from beacon.logic import seen
from beacon.logic.fold import summarize
from beacon.logic.plan import as_stored
from beacon.models.records import ChargeRecord
from beacon.services import erase_customer, summarize_batch
from beacon.services.summarize_batch import Context, process_stream_records, recompute_customer
from benchmarks.fake_dynamodb import FakeDynamoDB
from local.caches import reset_caches
from ops.rebuild import summary_fields
from tests.stream_builders import count_plan_paths

SEEDS = int(os.environ.get("MODEL_SEEDS", "500"))
MAX_AGE = 60  # STREAM_MAX_RECORD_AGE_SECONDS: the least the template allows, so that windows expire quickly
TIMEOUT = 60  # SESSION_TIMEOUT_SECONDS
LIMITS = seen.WindowLimits(inline_ids=3, ids_per_seen_item=4, seen_items_per_write=3, ids_per_write=10, spans=2)
CUSTOMERS = (("p1", "u#ada"), ("p1", "u#bob"), ("p1", "e#cy@example.com"), ("p2", "u#ada"))
SUMMARIES, CHARGES = "summaries", "charges"
# What a run must go through, summed over its seeds (a model that reaches no path proves nothing of it)
PATHS = (
    "duplicates",
    "seen_items",
    "several_writes",
    "recomputed",
    "drop_oldest_minutes",
    "caught_up",
    "closed_session",
    "handed_off",
    "interleaved",
    "lost_response",
    "refused",
    "rebuild_raced",
    "raced",
    "replayed_old",
    "erased",
    "erased_raced",
    "erased_record_dropped",
    "came_back",
)


@dataclass
class World:
    """The tables, the stream, the clock and what the schedule has done so far."""

    rng: random.Random
    paths: Counter[str]
    fake: FakeDynamoDB = field(default_factory=lambda: FakeDynamoDB(page_size=3))
    clock: int = 1_764_057_600
    charges: list[ChargeRecord] = field(default_factory=list)
    records: list[dict[str, Any]] = field(default_factory=list)
    retry: list[dict[str, Any]] = field(default_factory=list)  # records reported failed, to deliver again
    jobs: list[tuple[str, str]] = field(default_factory=list)
    erase_jobs: list[tuple[tuple[str, str], int]] = field(default_factory=list)
    erased: dict[tuple[str, str], int] = field(default_factory=dict)  # the last erasure of each customer (ms)
    amount: int = 1

    @property
    def summaries(self) -> SummariesRepository:
        return SummariesRepository(SUMMARIES, CHARGES, client=self.fake, sleep=lambda _: None)

    @property
    def charges_repository(self) -> ChargesRepository:
        return ChargesRepository(CHARGES, client=self.fake, sleep=lambda _: None)

    def alive(self, charge: ChargeRecord) -> bool:
        """The charge counts: it was received after its customer's last erasure, if any."""
        return charge.received_ms >= self.erased.get((charge.project_id, charge.customer_id), 0)

    def context(self) -> Context:
        since = seen.horizon(self.clock, MAX_AGE)
        return Context(self.summaries, since, TIMEOUT, now=lambda: self.clock, limits=LIMITS)

    # ------------------------------------------------------------ the API

    def write(self, who: tuple[str, str] | None = None) -> list[dict[str, Any]]:
        """A request of one customer (a single charge, or a bulk of up to 8), stored as the API stores it.

        Most are received a few seconds before they are written (several API instances); some long
        before (an instance that hung): correctness never rests on when a charge is written.
        """
        project, customer = who or self.rng.choice(CUSTOMERS)
        late = self.rng.randint(0, 1_500) if self.rng.random() < 0.1 else self.rng.randint(0, 90)
        received_ms = (self.clock - late) * 1000 + self.rng.randint(0, 999)
        written = len(self.records)
        email = self.rng.choice([None, "cy@example.com", "new@example.com"]) if customer[0] == "u" else customer[2:]
        for position in range(self.rng.choice([1, 1, 1, 2, 5, 8])):
            charge = ChargeRecord(
                project_id=project,
                customer_id=customer,
                charge_id=f"{self.rng.getrandbits(128):032x}",
                user_id=customer[2:] if customer[0] == "u" else None,
                email=email,
                amount=self.amount,
                created_at=self.clock - self.rng.randint(0, 10**6),
                received_ms=received_ms,
                position=position,
                update_session=self.rng.random() < 0.7,
            )
            self.amount *= 2
            self.charges.append(charge)
            item = charge_item(charge)
            self.fake.seed(CHARGES, item)
            sequence = str(4 * 10**39 + len(self.records))
            self.records.append(stream_record(item, sequence=sequence, created_at=self.clock + self.rng.randint(0, 5)))
        return self.records[written:]

    def erase(self, who: tuple[str, str] | None = None) -> None:
        """``DELETE /customers``: the tombstone at once; the erase job (its first pass) later."""
        key = who or self.rng.choice(CUSTOMERS)
        erased_before = self.clock * 1000 + self.rng.randint(0, 999)
        if erased_before <= self.erased.get(key, 0):
            return
        self.paths["erased"] += 1
        self.erased[key] = erased_before
        erase_customer.tombstone(self.summaries, key, erased_before, MAX_AGE, now=lambda: self.clock)
        self.erase_jobs.append((key, erased_before))

    # ------------------------------------------------------------ the stream

    def deliver(self, batch: list[dict[str, Any]], *, faults: bool = True) -> None:
        """One invocation of the stream function on ``batch``, with this step's fault.

        What happens inside the invocation draws from a generator of its own (its customers are
        written in threads, in no fixed order), so that the schedule itself stays the seed's.
        """
        faulty = ["none", "none", "interleave", "lost", "refuse", "short", "rebuild", "raced", "erase"]
        fault = self.rng.choice(faulty) if faults else "none"
        charges = (self._charge_of(r) for r in batch)
        self.paths["erased_record_dropped"] += sum(not self.alive(c) for c in charges)
        remaining = [1_000.0]
        inside = random.Random(self.rng.getrandbits(32))
        concurrency = self.rng.choice([1, 2, 4])
        with self._injecting(fault, batch, remaining, inside):
            outcome = process_stream_records(
                [DynamoDBRecord(r) for r in batch],
                summaries=self.summaries,
                now=lambda: self.clock,
                seconds_left=lambda: remaining[0],
                concurrency=concurrency,
                limits=LIMITS,
            )
        self.paths["duplicates"] += outcome.duplicates_skipped > 0
        self.paths["recomputed"] += outcome.customers_recomputed
        failed = set(outcome.failed)
        if failed:  # Lambda retries from the lowest reported record: it and every record after it come again
            lowest = min(int(s) for s in failed)
            self.retry += [r for r in batch if int(r["dynamodb"]["SequenceNumber"]) >= lowest]
        self.check()

    @contextmanager
    def _injecting(
        self, fault: str, batch: list[dict[str, Any]], remaining: list[float], inside: random.Random
    ) -> Iterator[None]:
        hook = self._fault(fault, batch, remaining, inside)
        if hook is not None:
            self.fake.hooks.append(hook)
        real_put, real_transact = self.fake.put_item, self.fake.transact_write_items
        if fault == "lost":
            self.fake.put_item = self._lose_answer(real_put, inside)  # type: ignore[method-assign]
            self.fake.transact_write_items = self._lose_answer(real_transact, inside)  # type: ignore[method-assign]
        try:
            yield
        finally:
            self.fake.hooks.clear()
            self.fake.put_item, self.fake.transact_write_items = real_put, real_transact  # type: ignore[method-assign]

    def _fault(self, fault: str, batch: list[dict[str, Any]], remaining: list[float], inside: random.Random) -> Any:
        done = [False]

        def once(operation: str, params: dict[str, Any]) -> None:
            if done[0] or not _is_summary_write(operation, params, fault):
                return
            done[0] = True
            if fault == "interleave":  # another invocation writes between this one's read and its write
                self.paths["interleaved"] += 1
                self.fake.hooks.clear()
                self.deliver(inside.sample(batch, k=inside.randint(1, len(batch))), faults=False)
            elif fault == "refuse":
                self.paths["refused"] += 1
                done[0] = False  # every write of this invocation is refused
                raise ClientError({"Error": {"Code": "ProvisionedThroughputExceededException"}}, operation)  # type: ignore[typeddict-item]
            elif fault == "short":  # the invocation runs short of time while a recompute reads
                remaining[0] = 1.0
            elif fault == "rebuild":  # an operator's rebuild of the same customer races the stream's recompute
                self.paths["rebuild_raced"] += 1
                self.fake.hooks.clear()
                recompute_customer(self.context(), _customer_of(params))
            elif fault == "raced":  # while a recompute reads, new charges are stored and counted by another invocation
                self.fake.hooks.clear()
                self.paths["raced"] += 1
                self.deliver(self.write(_customer_of(params)), faults=False)
            elif fault == "erase":  # the customer is erased between this invocation's read and its write
                self.fake.hooks.clear()
                self.paths["erased_raced"] += 1
                self.erase(_written_customer(params))

        return None if fault in ("none", "lost") else once

    def _lose_answer(self, real: Callable[..., Any], inside: random.Random) -> Callable[..., Any]:
        def lost(**params: Any) -> Any:
            answer = real(**params)
            if inside.random() < 0.5:
                self.paths["lost_response"] += 1
                raise ReadTimeoutError(endpoint_url="https://dynamodb.us-east-1.amazonaws.com")
            return answer

        return lost

    def run_jobs(self) -> None:
        """The jobs function: each recompute the stream handed over, each erase job, with all the time they need."""
        jobs, self.jobs = self.jobs, []
        for key in jobs:
            recompute_customer(self.context(), key)
        erase_jobs, self.erase_jobs = self.erase_jobs, []
        for key, erased_before in erase_jobs:
            erase_customer.delete_erased(self.summaries, self.charges_repository, key, erased_before)
        self.check()

    def _charge_of(self, record: dict[str, Any]) -> ChargeRecord:
        sk = record["dynamodb"]["Keys"]["SK"]["S"]
        return next(c for c in self.charges if sk.endswith(c.charge_id))

    # ------------------------------------------------------------ what must hold

    def stored(self) -> dict[tuple[str, str], Any]:
        items = self.fake.table(SUMMARIES).values()
        summaries = (summary_from_item(item) for item in items if item["type"]["S"] == "summary")
        return {(s.project_id, s.customer_id): s for s in summaries}

    def check(self) -> None:
        """No charge counted twice (count == popcount(total)), none counted that is not stored."""
        stored_amounts = Counter[tuple[str, str]]()
        for charge in filter(self.alive, self.charges):
            stored_amounts[(charge.project_id, charge.customer_id)] |= charge.amount  # type: ignore[assignment]
        for key, summary in self.stored().items():
            charges = summary.summary.charges
            assert charges.count == charges.total.bit_count(), f"{key}: a charge counted twice"
            assert charges.total & ~stored_amounts[key] == 0, f"{key}: a charge counted that is not stored"

    def check_exact(self) -> None:
        """Every summary is what its charges received since the last erasure give, field by field; an erased
        customer with none keeps nothing of before its erasure but the tombstone."""
        stored = self.stored()
        for key in {(c.project_id, c.customer_id) for c in self.charges}:
            charges = [c for c in self.charges if (c.project_id, c.customer_id) == key and self.alive(c)]
            if not charges:
                self.check_erased(key, stored.get(key))
                continue
            self.paths["came_back"] += key in self.erased
            expected = as_stored(
                summarize(charges, session_timeout=TIMEOUT), stored[key].seen, session_timeout=TIMEOUT, limits=LIMITS
            )
            assert summary_fields(stored[key].summary) == summary_fields(expected), key
            assert stored[key].summary.sessions.count == expected.sessions.count, key

    def check_erased(self, key: tuple[str, str], summary: Any) -> None:
        assert summary is None or summary.is_erased, f"{key}: an erased customer has a summary again"
        assert key in self.erased, f"{key}: no summary"
        project, customer = key
        left = [
            item
            for (pk, _), item in self.fake.table(CHARGES).items()
            if pk.startswith(f"P#{project}#C#{customer}") and received_ms_of(item) < self.erased[key]
        ]
        assert left == [], f"{key}: erased charges left"
        summaries = self.fake.table(SUMMARIES)
        assert not any(pk == seen_pk(project, customer) for pk, _ in summaries), f"{key}: seen items left"
        registry = registry_pk(project, registry_shard(customer))
        assert not any(pk == registry and item["customer_id"]["S"] == customer for (pk, _), item in summaries.items())


def _customer_of(query: dict[str, Any]) -> tuple[str, str]:
    """The customer whose charges a Query reads."""
    return next(c for c in CUSTOMERS if charge_pk(*c) == query["ExpressionAttributeValues"][":pk"]["S"])


def _written_customer(params: dict[str, Any]) -> tuple[str, str]:
    """The customer whose summary a PutItem or TransactWriteItems is about to write."""
    put = params["Item"] if "Item" in params else params["TransactItems"][0]["Put"]["Item"]
    return put["project_id"]["S"], put["customer_id"]["S"]


def _is_summary_write(operation: str, params: dict[str, Any], fault: str) -> bool:
    if fault == "raced":  # after the first page: charges stored now may sort before where the read is
        return operation == "Query" and params.get("TableName") == CHARGES and "ExclusiveStartKey" in params
    if fault in ("short", "rebuild"):  # these act while a recompute reads the charges
        return operation == "Query" and params.get("TableName") == CHARGES
    if operation == "PutItem":
        return params["Item"]["type"]["S"] == "summary"
    return operation == "TransactWriteItems"


# ---------------------------------------------------------------- the schedule


def step(world: World) -> None:
    rng = world.rng
    actions = ["write", "time", "deliver", "replay", "retry", "jobs", "erase"]
    action = rng.choices(actions, weights=[5, 3, 6, 1, 2, 1, 0.3])[0]
    if action == "write":
        world.write()
    elif action == "erase":
        world.erase()
    elif action == "time":
        world.clock += rng.choice([0, 5, 60, 300, 900, 1_500, 3_000])
    elif action == "deliver" and world.records:
        # what the event source mapping may still hand out: records no older than the record age
        recent = [r for r in world.records if r["dynamodb"]["ApproximateCreationDateTime"] >= world.clock - MAX_AGE]
        batch = recent[rng.randint(0, max(0, len(recent) - 1)) :][: rng.randint(1, 12)] if recent else []
        if batch:
            world.deliver(sorted(batch + rng.sample(batch, k=rng.randint(0, min(2, len(batch)))), key=_sequence))
    elif action == "replay" and world.records:  # the failure queue: records of any age
        world.paths["replayed_old"] += 1
        start = rng.randrange(len(world.records))
        world.deliver(world.records[start : start + rng.randint(1, 10)])
    elif action == "retry" and world.retry:
        batch, world.retry = world.retry, []
        world.deliver(batch)
    elif action == "jobs":
        world.run_jobs()


def _sequence(record: dict[str, Any]) -> int:
    return int(record["dynamodb"]["SequenceNumber"])


def run(world: World) -> None:
    """A schedule of 20 to 60 steps, then every record once more, in order (the failure queue replayed)."""
    for _ in range(world.rng.randint(20, 60)):
        step(world)
    world.clock += 10
    while world.retry:
        batch, world.retry = world.retry, []
        world.deliver(batch, faults=False)
    for start in range(0, len(world.records), 10):
        world.deliver(world.records[start : start + 10], faults=False)
    world.run_jobs()
    # The final pass of every erasure, once every charge received before it is written
    world.erase_jobs = [(key, erased_before) for key, erased_before in world.erased.items()]
    world.run_jobs()
    world.check_exact()


@dataclass
class Model:
    """The paths the runs reach, and the world running now (where a handed-off recompute is queued)."""

    paths: Counter[str] = field(default_factory=Counter)
    world: World | None = None

    def hand_off(self, key: tuple[str, str]) -> None:
        assert self.world is not None
        self.paths["handed_off"] += 1
        self.world.jobs.append(key)


@pytest.fixture
def model(monkeypatch: pytest.MonkeyPatch) -> Model:
    """The model's settings, and a count of the paths of ``logic.plan`` and the service the runs reach."""
    monkeypatch.setenv("SESSION_TIMEOUT_SECONDS", str(TIMEOUT))
    monkeypatch.setenv("STREAM_MAX_RECORD_AGE_SECONDS", str(MAX_AGE))
    reset_caches()
    monkeypatch.setattr(aws, "backoff_delay", lambda attempt: 0.0)
    model = Model()
    monkeypatch.setattr(summarize_batch, "hand_off", model.hand_off)
    count_plan_paths(monkeypatch, model.paths)
    return model


def test_every_charge_counts_exactly_once_in_the_model_whatever_the_schedule(model, capsys):
    for seed in range(SEEDS):
        model.world = World(random.Random(seed), model.paths)
        try:
            run(model.world)
        except AssertionError as exc:
            raise AssertionError(f"seed {seed}: {exc}") from exc
    with capsys.disabled():
        print(f"\nsummary model, {SEEDS} seeds, paths reached: {dict(sorted(model.paths.items()))}")
    for path in PATHS:
        assert model.paths[path] > 0, f"no seed reached {path}"


def test_the_model_catches_a_charge_counted_twice_when_the_window_check_is_taken_away(model, monkeypatch):
    # Given the window's duplicate check removed: a record counted already looks new
    real_classify = seen.classify

    def never_duplicate(*args: Any) -> seen.Verdict:
        verdict = real_classify(*args)
        return seen.Verdict.NEW if verdict is seen.Verdict.DUPLICATE else verdict

    monkeypatch.setattr(seen, "classify", never_duplicate)

    # Then the model's schedules count some charge twice, and say which
    with pytest.raises(AssertionError, match="counted twice"):
        for seed in range(50):
            model.world = World(random.Random(seed), model.paths)
            run(model.world)


def test_the_model_catches_an_erased_charge_brought_back_when_the_floor_is_taken_away(model, monkeypatch):
    # Given the erasure's floor ignored: a record of a charge received before the erasure counts again
    from beacon.logic import plan

    monkeypatch.setattr(plan, "erased", lambda stored, charge: False)

    # Then the model's schedules find a summary holding an erased charge
    with pytest.raises(AssertionError, match=r"erased|not stored"):
        for seed in range(50):
            model.world = World(random.Random(seed), model.paths)
            run(model.world)
