"""What moto (5.2) gets wrong for a long-running local stack, mended; and the switch of its speed patches.

``apply()`` installs the two correctness fixes below, each named after the upstream behaviour it works
around and each held by a test that shows that behaviour without the fix
(``tests/tooling/test_local_moto_fixes.py``), then the speed patches of ``local.moto_speedups``, unless
``LOCAL_MOTO_SPEEDUPS=0`` (or ``apply(speedups=False)``) leaves moto as slow as it is: the speed patches
change no answer, and the suite passes either way.

1. **A cancelled TransactWriteItems swaps the table's stream** (``DynamoDBBackend.transact_write_items``).
   moto backs a transaction up by deep-copying every table it touches and rolls a cancelled one back by
   putting the copies in place of the tables; the copy's stream is a copy too, so readers of the stream
   keep the old one, see the cancelled writes as records, and never see a later write (the summaries
   stop). The fix, under the embedded server's one call at a time (``local.aws.BACKEND_LOCK``): the
   tables are not copied; the items a transaction names are remembered (as they were) with the length
   of each stream, and a cancellation restores exactly those and cuts the streams back. (Not copying
   also spares each transaction a cost proportional to everything the tables and streams hold.)
2. **Shard iterators pile up** (``DynamoDBStreamsBackend.get_records``). moto keeps every shard iterator it
   ever handed out, over a kilobyte each; a poller asking four times a second adds some 14,000 an hour,
   for as long as the stack runs. Only the newest ``MAX_SHARD_ITERATORS`` are kept (a poller uses each
   one once; AWS expires them after 15 minutes anyway).
"""

import copy
import itertools
import os
import types
from typing import Any

from moto.dynamodb import models
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import DynamoType, Item
from moto.dynamodb.models.table import StreamShard, Table
from moto.dynamodbstreams.models import DynamoDBStreamsBackend

MAX_SHARD_ITERATORS = 10_000
SPEEDUPS_VARIABLE = "LOCAL_MOTO_SPEEDUPS"  # "0", "false", "off" or "no": moto without local.moto_speedups


class Patches:
    """Attributes of moto replaced by ours, with the originals (read when this is built) to put back."""

    def __init__(self, *patches: tuple[Any, str, Any]) -> None:
        self._patches = patches
        self.targets = [(owner, name) for owner, name, _ in patches]
        self.originals = [getattr(owner, name) for owner, name in self.targets]

    @property
    def applied(self) -> bool:
        return all(getattr(owner, name) is replacement for owner, name, replacement in self._patches)

    def apply(self) -> None:
        for owner, name, replacement in self._patches:
            setattr(owner, name, replacement)

    def remove(self) -> None:
        for (owner, name), original in zip(self.targets, self.originals, strict=True):
            setattr(owner, name, original)


_Snapshot = tuple[Table, DynamoType, DynamoType | None, Item | None]
_moto_transact_write_items = DynamoDBBackend.transact_write_items
_moto_get_records = DynamoDBStreamsBackend.get_records


def _deepcopy_except_tables(value: Any, memo: dict[int, Any] | None = None) -> Any:
    return value if isinstance(value, Table) else copy.deepcopy(value, memo)


def _key_values(table: Table, attributes: dict[str, Any]) -> tuple[DynamoType, DynamoType | None] | None:
    if table.hash_key_attr not in attributes:
        return None
    range_value = None
    if table.range_key_attr is not None:
        if table.range_key_attr not in attributes:
            return None
        range_value = DynamoType(attributes[table.range_key_attr])
    return DynamoType(attributes[table.hash_key_attr]), range_value


def _snapshot(backend: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> list[_Snapshot]:
    snapshots: list[_Snapshot] = []
    for entry in transact_items:
        operation, arguments = next(iter(entry.items()))
        table = backend.tables.get(arguments.get("TableName"))
        if table is None:
            continue
        keys = _key_values(table, arguments.get("Item", {}) if operation == "Put" else arguments.get("Key", {}))
        if keys is None:
            continue
        hash_value, range_value = keys
        items: Any = table.items  # {hash: Item} or {hash: {range: Item}}
        current = items.get(hash_value)
        if range_value is not None:
            current = current.get(range_value) if current else None
        snapshots.append((table, hash_value, range_value, copy.deepcopy(current)))
    return snapshots


def _restore(snapshots: list[_Snapshot], stream_lengths: list[tuple[StreamShard, int]]) -> None:
    for table, hash_value, range_value, item in reversed(snapshots):
        items: Any = table.items
        if range_value is None:
            if item is None:
                items.pop(hash_value, None)
            else:
                items[hash_value] = item
        elif item is None:
            items.get(hash_value, {}).pop(range_value, None)
        else:
            items[hash_value][range_value] = item
    for shard, length in stream_lengths:
        del shard.items[length:]


def _transact_write_items(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
    snapshots = _snapshot(self, transact_items)
    shards = {id(t.stream_shard): t.stream_shard for t, *_ in snapshots if t.stream_shard is not None}
    stream_lengths = [(shard, len(shard.items)) for shard in shards.values()]
    try:
        _moto_transact_write_items(self, transact_items)
    except Exception:
        _restore(snapshots, stream_lengths)
        raise


def _get_records(self: DynamoDBStreamsBackend, iterator_arn: str, limit: int) -> dict[str, Any]:
    answer = _moto_get_records(self, iterator_arn, limit)
    excess = len(self.shard_iterators) - MAX_SHARD_ITERATORS
    if excess > 0:
        for arn in list(itertools.islice(self.shard_iterators, excess)):  # oldest first: dicts keep insertion order
            del self.shard_iterators[arn]
    return answer


TRANSACTIONS = Patches(
    # The module's ``copy.deepcopy(table)`` becomes the table itself: moto's own rollback that follows is a no-op.
    (models, "copy", types.SimpleNamespace(deepcopy=_deepcopy_except_tables)),
    (DynamoDBBackend, "transact_write_items", _transact_write_items),
)
SHARD_ITERATORS = Patches((DynamoDBStreamsBackend, "get_records", _get_records))
FIXES = (TRANSACTIONS, SHARD_ITERATORS)


def speedups_enabled() -> bool:
    """Whether ``apply()`` installs the speed patches: yes unless ``LOCAL_MOTO_SPEEDUPS`` says no."""
    return os.environ.get(SPEEDUPS_VARIABLE, "1").strip().lower() not in {"0", "false", "off", "no"}


def apply(*, speedups: bool | None = None) -> None:
    """Install the fixes in this process, and the speed patches unless switched off (again: no change)."""
    from local import moto_speedups

    for fix in FIXES:
        fix.apply()
    if speedups_enabled() if speedups is None else speedups:
        moto_speedups.PATCHES.apply()


def remove() -> None:
    """Put moto back as it was (for tests that apply the fixes in a shared process)."""
    from local import moto_speedups

    for patches in (*FIXES, moto_speedups.PATCHES):
        patches.remove()
