"""Flaws of moto that a long-running local stack cannot live with, and their fixes.

TransactWriteItems: moto (5.2) backs a transaction up by deep-copying every table it touches, once per operation, and
rolls a cancelled one back by putting the copies in place of the tables. So:

1. each transaction costs time proportional to everything the tables (and their streams) hold:
   a local stack slows down the longer it runs (a 200-record stream batch took seconds);
2. a cancellation swaps the table's stream for the copy's: readers of the stream keep the old one,
   see the cancelled writes as records, and never see a later write (the summaries stop).

The fix, applied to the embedded server only: the tables are not copied; the items a transaction
touches are remembered (as they were) with the length of each stream, and a cancellation restores
exactly those and cuts the streams back. It relies on the embedded server serving one call at a
time (``local.aws``), so that nothing else changes the tables during a transaction.

Speed: moto 5.2 reads every JSON request through a generic, model-driven parser (after rebuilding it
as a werkzeug request) and writes every answer through a generic serializer that looks each value up
under several candidate names; with ``inspect.getmembers`` of the handler class on every call, a
PutItem costs milliseconds of CPU and a stream batch far more. For DynamoDB and DynamoDB Streams,
whose wire format is plain JSON (DynamoDB's own typed attribute values), the request body is read
with ``json.loads`` and a successful answer written with ``json.dumps`` (dates as epoch seconds to the millisecond,
bytes as base64, as the JSON protocol has them); errors, and any answer holding something else,
still go through moto's serializer. The answers are byte-for-byte what botocore reads the same way.
And a condition expression is tokenized once per distinct text (the tokens are immutable tuples).

Query: moto (5.2) finds a table query's items by sorting every item of the table (``Table.all_items``)
and keeping those of the partition key asked for: a query costs time proportional to the whole table,
so a local stack slows down the longer it runs. The fix hands that step the partition's own items
(the sort that follows, by sort key, is moto's); index queries keep moto's way.

Items: moto (5.2) builds an item attribute by attribute, and checks DynamoDB's 400 KB limit at each
one by summing the sizes of all the attributes already there: a cost quadratic in the attributes (a
summary has about twenty, some of them nested). The fix sizes the finished item once, with the same
limit and the same error, which is what the checks along the way add up to (sizes only grow).

GetRecords: moto keeps every shard iterator it ever handed out, over a kilobyte each; a poller
asking four times a second adds some 14,000 an hour. Only the newest ``MAX_SHARD_ITERATORS`` are kept (a poller uses
each one once; AWS expires them after 15 minutes anyway).
"""

import base64
import calendar
import copy
import functools
import itertools
import json
import types
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from moto.core import responses as moto_responses
from moto.core.responses import ActionResult, BaseResponse
from moto.dynamodb import models
from moto.dynamodb.comparisons import ConditionExpressionParser
from moto.dynamodb.exceptions import ItemSizeTooLarge
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import DynamoType, Item, LimitedSizeDict
from moto.dynamodb.models.table import StreamShard, Table
from moto.dynamodb.models.utilities import bytesize
from moto.dynamodbstreams.models import DynamoDBStreamsBackend

MAX_SHARD_ITERATORS = 10_000

_Snapshot = tuple[Table, DynamoType, DynamoType | None, Item | None]
_original_transact_write_items: Callable[..., None] | None = None
_original_get_records: Callable[..., dict[str, Any]] | None = None
_original_query: Callable[..., Any] | None = None
_original_item_init: Callable[..., None] | None = None
# moto's own bound (dynamo_type.LimitedSizeDict): DynamoDB's 400 KB, measured to lie between 409 and 410 KB
MOTO_ITEM_SIZE_LIMIT = 405_000


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
    assert _original_transact_write_items is not None
    snapshots = _snapshot(self, transact_items)
    shards = {id(t.stream_shard): t.stream_shard for t, *_ in snapshots if t.stream_shard is not None}
    stream_lengths = [(shard, len(shard.items)) for shard in shards.values()]
    try:
        _original_transact_write_items(self, transact_items)
    except Exception:
        _restore(snapshots, stream_lengths)
        raise


def _get_records(self: DynamoDBStreamsBackend, iterator_arn: str, limit: int) -> dict[str, Any]:
    assert _original_get_records is not None
    answer = _original_get_records(self, iterator_arn, limit)
    excess = len(self.shard_iterators) - MAX_SHARD_ITERATORS
    if excess > 0:
        for arn in list(itertools.islice(self.shard_iterators, excess)):  # oldest first: dicts keep insertion order
            del self.shard_iterators[arn]
    return answer


def _query(self: Table, hash_key: DynamoType | None, *args: Any, **kwargs: Any) -> Any:
    assert _original_query is not None
    # Table.query(hash_key, range_comparison, range_objs, limit, exclusive_start_key, scan_index_forward,
    # projection_expressions, index_name, ...): the index name is the 8th argument, or a keyword.
    index_name = args[6] if len(args) > 6 else kwargs.get("index_name")
    if index_name or hash_key is None:
        return _original_query(self, hash_key, *args, **kwargs)
    partition: Any = self.items.get(hash_key)  # a defaultdict: a plain [] would add the key
    if partition is None:
        candidates = []
    elif self.range_key_attr:
        candidates = list(partition.values())
    else:
        candidates = [partition]
    # moto filters ``self.all_items()`` by partition key: an attribute of the instance answers it for this call
    # (under the backend's one-call-at-a-time lock, nothing else uses the table meanwhile).
    self.all_items = lambda: candidates  # type: ignore[method-assign]
    try:
        return _original_query(self, hash_key, *args, **kwargs)
    finally:
        del self.all_items


_JSON_SERVICES = frozenset({"dynamodb", "dynamodbstreams"})
_original_parse_parameters: Callable[..., None] | None = None
_original_serialized: Callable[..., Any] | None = None
_original_method_names: Callable[[object], list[str]] | None = None


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime):
        # As moto's serializer: epoch seconds, truncated to the millisecond (naive times are UTC).
        seconds = calendar.timegm((value if value.tzinfo is None else value.astimezone(UTC)).timetuple())
        return seconds + (value.microsecond // 1000) / 1000.0 if value.microsecond else seconds
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    raise TypeError(type(value).__name__)


def _parse_parameters(self: BaseResponse, request: Any) -> None:
    assert _original_parse_parameters is not None
    if self.service_name in _JSON_SERVICES and isinstance(self.body, str):
        params = json.loads(self.body or "{}")
        self.params = binaries_as_bytes(params) if '"B' in self.body else params
        return
    _original_parse_parameters(self, request)


def binaries_as_bytes(value: Any) -> Any:
    """DynamoDB parameters as sent (binaries in base64) with their binaries as bytes, as moto's own parser and
    boto3's client methods take them (and moto sizes them: by their bytes)."""
    if isinstance(value, dict):
        if len(value) == 1:
            if isinstance(value.get("B"), str):
                return {"B": base64.b64decode(value["B"])}
            if isinstance(value.get("BS"), list):
                return {"BS": [base64.b64decode(item) for item in value["BS"]]}
        return {key: binaries_as_bytes(item) for key, item in value.items()}
    if isinstance(value, list):
        return [binaries_as_bytes(item) for item in value]
    return value


def _serialized(self: BaseResponse, action_result: ActionResult) -> Any:
    assert _original_serialized is not None
    result = action_result.result
    if self.service_name in _JSON_SERVICES and type(action_result) in _PLAIN_RESULTS and isinstance(result, dict):
        try:
            body = json.dumps(result, default=_json_value, separators=(",", ":"))
        except TypeError:
            return _original_serialized(self, action_result)
        headers = {"Content-Type": "application/x-amz-json-1.0", **self.response_headers}
        return 200, headers, body
    return _original_serialized(self, action_result)


@functools.cache
def _method_names(clazz: object) -> list[str]:
    assert _original_method_names is not None
    return _original_method_names(clazz)


def _plain_results() -> tuple[type, ...]:
    from moto.dynamodb.responses import DynamoResult

    return (ActionResult, DynamoResult)


_PLAIN_RESULTS: tuple[type, ...] = _plain_results()
_original_lex: Callable[..., Any] | None = None
_lexed: dict[str, tuple[Any, ...]] = {}


def _lex_condition_expression(self: ConditionExpressionParser) -> Any:
    assert _original_lex is not None
    expression = self.condition_expression or ""
    tokens = _lexed.get(expression)
    if tokens is None:
        tokens = _lexed[expression] = tuple(_original_lex(self))
    return deque(tokens)


def _item_init(self: Item, hash_key: DynamoType, range_key: DynamoType | None, attrs: dict[str, Any]) -> None:
    """moto's ``Item.__init__`` with one size check of the whole item instead of one per attribute."""
    self.hash_key = hash_key
    self.range_key = range_key
    values = {key: DynamoType(value) for key, value in attrs.items()}
    if sum(bytesize(key) + value.size() for key, value in values.items()) > MOTO_ITEM_SIZE_LIMIT:
        raise ItemSizeTooLarge
    self.attrs = LimitedSizeDict()
    dict.update(self.attrs, values)  # the later SETs of an update still go through LimitedSizeDict's check


def apply() -> None:
    """Install the fixes in this process (idempotent)."""
    global _original_transact_write_items, _original_get_records, _original_query, _original_item_init
    global _original_parse_parameters, _original_serialized, _original_method_names, _original_lex
    if _original_transact_write_items is not None:
        return
    _original_item_init = Item.__init__
    Item.__init__ = _item_init  # type: ignore[method-assign]
    _original_query = Table.query
    Table.query = _query  # type: ignore[method-assign]
    _original_lex = ConditionExpressionParser._lex_condition_expression
    ConditionExpressionParser._lex_condition_expression = _lex_condition_expression  # type: ignore[method-assign]
    _original_parse_parameters = BaseResponse.parse_parameters
    _original_serialized = BaseResponse.serialized
    _original_method_names = moto_responses.method_names_from_class
    BaseResponse.parse_parameters = _parse_parameters  # type: ignore[method-assign]
    BaseResponse.serialized = _serialized  # type: ignore[method-assign]
    moto_responses.method_names_from_class = _method_names
    _original_transact_write_items = DynamoDBBackend.transact_write_items
    _original_get_records = DynamoDBStreamsBackend.get_records
    DynamoDBStreamsBackend.get_records = _get_records  # type: ignore[method-assign]
    # The module's ``copy.deepcopy(table)`` becomes the table itself: the rollback that follows is a no-op.
    models.copy = types.SimpleNamespace(deepcopy=_deepcopy_except_tables)  # type: ignore[assignment]
    DynamoDBBackend.transact_write_items = _transact_write_items  # type: ignore[method-assign]


def remove() -> None:
    """Put moto back as it was (for tests that apply the fix in a shared process)."""
    global _original_transact_write_items, _original_get_records, _original_query, _original_item_init
    global _original_parse_parameters, _original_serialized, _original_method_names, _original_lex
    if _original_transact_write_items is None or _original_get_records is None:
        return
    if _original_item_init is not None:
        Item.__init__ = _original_item_init  # type: ignore[method-assign]
        _original_item_init = None
    if _original_query is not None:
        Table.query = _original_query  # type: ignore[method-assign]
        _original_query = None
    if _original_lex is not None:
        ConditionExpressionParser._lex_condition_expression = _original_lex  # type: ignore[method-assign]
        _original_lex = None
    assert _original_parse_parameters and _original_serialized and _original_method_names
    BaseResponse.parse_parameters = _original_parse_parameters  # type: ignore[method-assign]
    BaseResponse.serialized = _original_serialized  # type: ignore[method-assign]
    moto_responses.method_names_from_class = _original_method_names  # type: ignore[assignment]
    _original_parse_parameters = _original_serialized = _original_method_names = None
    DynamoDBBackend.transact_write_items = _original_transact_write_items  # type: ignore[method-assign]
    DynamoDBStreamsBackend.get_records = _original_get_records  # type: ignore[method-assign]
    _original_get_records = None
    models.copy = copy
    _original_transact_write_items = None
